# fish completion for broker-env-wrap, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

function __fish_broker_env_wrap_identities
    set -l config
    set -l words (commandline -opc)
    for i in (seq (count $words))
        if test $words[$i] = --config; and test $i -lt (count $words)
            set config --config $words[(math $i + 1)]
        else if string match -q -- '--config=*' $words[$i]
            set config --config (string replace -- --config= '' $words[$i])
        end
    end
    brokerctl $config list --names $argv 2>/dev/null
end

# Files only where an option or argument takes one.
complete -c broker-env-wrap -f
complete -c broker-env-wrap -l identity -x -a '(__fish_broker_env_wrap_identities)' -d 'an identity to deliver, as named by an [identity "NAME"] section; repeat for more (default BROKER_IDENTITY)'
complete -c broker-env-wrap -l delivery -x -a 'endpoint env profile file' -d 'how an AWS identity reaches the command: the loopback credentials endpoint (the default), static keys in the environment, or a generated AWS profile'
complete -c broker-env-wrap -l nested -d 'run even inside another broker-env-wrap; this plan then replaces the outer one\'s variables'
complete -c broker-env-wrap -l print -d 'print the changes the plan makes instead of running a command'
complete -c broker-env-wrap -l format -x -a 'bash fish dotenv json github' -d 'the syntax of --print; default bash'
complete -c broker-env-wrap -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c broker-env-wrap -s h -l help -d 'print this help and exit'
