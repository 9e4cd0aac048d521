# fish completion for kube-credential-broker, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

function __fish_kube_credential_broker_identities
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
complete -c kube-credential-broker -f
complete -c kube-credential-broker -l identity -x -a '(__fish_kube_credential_broker_identities)' -d 'the identity whose token to hand out, as named by an [identity "NAME"] section (default BROKER_IDENTITY)'
complete -c kube-credential-broker -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c kube-credential-broker -s h -l help -d 'print this help and exit'
