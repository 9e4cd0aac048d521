# fish completion for docker-credential-broker, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

# Files only where an option or argument takes one.
complete -c docker-credential-broker -f
complete -c docker-credential-broker -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c docker-credential-broker -s v -l version -d 'print the helper\'s version and exit'
complete -c docker-credential-broker -s h -l help -d 'print this help and exit'
complete -c docker-credential-broker -a get -d 'print the login for the server URL on standard input'
complete -c docker-credential-broker -a store -d 'keep the login given as JSON on standard input (unbound registries only)'
complete -c docker-credential-broker -a erase -d 'forget the login for the server URL on standard input; for a bound registry, drop its cached credential'
complete -c docker-credential-broker -a list -d 'print the stored logins as a JSON object of server URL to user name'
complete -c docker-credential-broker -a version -d 'print the helper\'s version'
