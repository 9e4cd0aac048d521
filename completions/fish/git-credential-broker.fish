# fish completion for git-credential-broker, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

# Files only where an option or argument takes one.
complete -c git-credential-broker -f
complete -c git-credential-broker -l timeout -x -d 'keep credentials approved for unbound URLs in memory this many seconds (default [git] cache-timeout, 900)'
complete -c git-credential-broker -l socket-dir -x -a '(__fish_complete_directories)' -d 'use the agent socket in DIR instead of the default; an agent started on demand listens there'
complete -c git-credential-broker -s h -l help -d 'print this help and exit'
complete -c git-credential-broker -a get -d 'print a credential for the URL on standard input, or nothing'
complete -c git-credential-broker -a store -d 'remember a credential git approved (unbound URLs only)'
complete -c git-credential-broker -a erase -d 'forget a credential the server rejected'
complete -c git-credential-broker -a capability -d 'tell git which protocol capabilities the helper understands (git 2.46 and later)'
