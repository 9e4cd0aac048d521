# fish completion for brokerctl, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

function __fish_brokerctl_identities
    brokerctl list --names 2>/dev/null
end

# Files only where an option or argument takes one.
complete -c brokerctl -f
set -l __brokerctl_subcommands status list validate stop logout whoami login console audit git-setup selftest generate-docs
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a status -d 'show the agent\'s pid, uptime, socket and cached credentials with their expiry, never the secrets'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a list -d 'list the identities with their kinds and via chains, and the git bindings'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a validate -d 'check the configuration; on the first error print file:line and the reason and exit 1'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a stop -d 'ask the agent to exit; the next request starts a new one'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a logout -d 'drop the cached credentials of IDENTITY, or with --all every cached credential'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a whoami -d 'ask STS who an AWS identity is: its ARN, account, masked access key, expiry, and which tier answered'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a login -d 'prompt for an MFA code and hand it to the agent, which opens the identity\'s session with it; or log in to a provider'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a console -d 'open the AWS console as an AWS identity\'s role session, or print its sign-in URL'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a audit -d 'show the audit log: credentials issued, denied, refreshed, stored and erased, and who asked'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a git-setup -d 'print, or write to your global git configuration, the settings that enable the helper'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a selftest -d 'run real git through the helper and a fresh agent in a throwaway home directory'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a generate-docs -d 'write the man pages and shell completions under DIR (man/ and completions/)'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -l config -r -F -d 'read FILE instead of $XDG_CONFIG_HOME/credential-broker/config (also BROKER_CONFIG)'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -s h -l help -d 'print this help and exit'
complete -c brokerctl -n '__fish_seen_subcommand_from status' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l names -d 'print only the identity names, one per line (the shell completions use this)'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l provider -x -d 'list what the provider\'s session can offer, through the agent (the session must be logged in)'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l as-config -d 'with --provider: print the offered identities as configuration sections'
complete -c brokerctl -n '__fish_seen_subcommand_from validate' -l config -r -F -d 'check FILE instead of the configuration in use'
complete -c brokerctl -n '__fish_seen_subcommand_from logout' -l all -d 'drop every cached credential, including git credential-cache entries'
complete -c brokerctl -n '__fish_seen_subcommand_from logout' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from whoami' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from whoami' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from login' -l no-browser -d 'only print the URL and code; never open a browser'
complete -c brokerctl -n '__fish_seen_subcommand_from login' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -l destination -x -d 'the console page to land on (default https://console.aws.amazon.com/)'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -l print -d 'print the sign-in URL instead of opening a browser'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l tail -x -d 'show the last N records (default 20)'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from git-setup' -l global -d 'write the settings with git config --global and print each one set'
complete -c brokerctl -n '__fish_seen_subcommand_from git-setup' -l print -d 'print them as git config --global commands to review or paste (the default)'
complete -c brokerctl -n '__fish_seen_subcommand_from generate-docs' -a '(__fish_complete_directories)'
