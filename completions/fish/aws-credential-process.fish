# fish completion for aws-credential-process, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

function __fish_aws_credential_process_identities
    brokerctl list --names 2>/dev/null
end

# Files only where an option or argument takes one.
complete -c aws-credential-process -f
complete -c aws-credential-process -l identity -x -a '(__fish_aws_credential_process_identities)' -d 'the identity to hand out, as named by an [identity "NAME"] section (default BROKER_IDENTITY)'
complete -c aws-credential-process -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c aws-credential-process -s h -l help -d 'print this help and exit'
