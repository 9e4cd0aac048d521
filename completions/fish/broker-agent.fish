# fish completion for broker-agent, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

# Files only where an option or argument takes one.
complete -c broker-agent -f
complete -c broker-agent -l foreground -d 'stay attached to the terminal and log to standard error (the default when you run it)'
complete -c broker-agent -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c broker-agent -l config -r -F -d 'serve the configuration in FILE (as BROKER_CONFIG does), on that configuration\'s own socket'
complete -c broker-agent -l profile -x -d 'serve profile NAME (as BROKER_PROFILE does): the configuration with its config.d/NAME overlay, on the profile\'s own socket, cache and audit log'
complete -c broker-agent -l idle-timeout -x -d 'exit after DURATION without requests, such as 90s, 15m or 1h30m, instead of [agent] idle-timeout'
complete -c broker-agent -l spawned -d 'run as started by a client: detach, log to agent.log and report readiness on standard output'
complete -c broker-agent -s h -l help -d 'print this help and exit'
