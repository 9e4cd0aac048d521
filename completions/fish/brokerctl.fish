# fish completion for brokerctl, generated from Sources/*/CommandCatalog*.swift
# by `brokerctl generate-docs`; edit the catalog, not this file.

function __fish_brokerctl_identities
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
complete -c brokerctl -f
set -l __brokerctl_subcommands status list validate stop logout whoami login console audit secret unlock lock git-setup docker-setup kube-setup selftest generate-docs doctor explain which add
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a status -d 'show the agent\'s pid, uptime, socket and cached credentials with their expiry, never the secrets'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a list -d 'list the identities with their kinds and via chains, and the git bindings'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a validate -d 'check the configuration and its secret references; print every error with its file:line and exit 1 if there is one'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a stop -d 'ask the agent of this configuration to exit; the next request starts a new one'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a logout -d 'drop the cached credentials of IDENTITY, or with --all every cached credential'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a whoami -d 'show who an identity is: for AWS kinds STS\'s ARN, account and masked access key; for others the user name or token fingerprint; with its expiry and which tier answered'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a login -d 'store an identity\'s keys in the keyring and prompt for an MFA code, which the agent uses to open the identity\'s session; or log in to a provider'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a console -d 'open the AWS console as an AWS identity\'s role session, or print its sign-in URL'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a audit -d 'show the audit log: credentials issued, denied, refreshed, stored and erased, and who asked'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a secret -d 'store, recover, remove or list the long-lived secrets in the agent\'s keyring, which keyring:NAME references read'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a unlock -d 'ask for the file keyring\'s passphrase once; the agent holds it until brokerctl lock or the unlock timeout'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a lock -d 'make the agent forget the file keyring\'s passphrase and every secret it decrypted'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a git-setup -d 'print, or write to your global git configuration, the settings that enable the helper'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a docker-setup -d 'add credHelpers entries for docker-credential-broker to docker\'s config.json, keeping everything else'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a kube-setup -d 'add a kubeconfig user whose token comes from kube-credential-broker, with kubectl config set-credentials'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a selftest -d 'run real git through the helper and a fresh agent in a throwaway home directory'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a generate-docs -d 'write the man pages and shell completions under DIR (man/ and completions/)'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a doctor -d 'check the real setup and print one line per check, ok, warn or fail, with the fix for each problem'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a explain -d 'say which git binding and identity git would use for URL, through which chain, what is cached and until when, or why nothing matches'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a which -d 'another name for explain'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -a add -d 'add an identity section to the configuration, ask for its secrets and store each in the keyring or a 0600 file, then validate'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -l config -r -F -d 'read FILE instead of $XDG_CONFIG_HOME/credential-broker/config (also BROKER_CONFIG)'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -l profile -x -d 'use profile NAME (also BROKER_PROFILE): the configuration with its config.d/NAME overlay, and that profile\'s own agent, cache and audit log'
complete -c brokerctl -n "not __fish_seen_subcommand_from $__brokerctl_subcommands" -s h -l help -d 'print this help and exit'
complete -c brokerctl -n '__fish_seen_subcommand_from status' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l names -d 'print only the identity names, one per line (the shell completions use this)'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l for -x -a 'aws login whoami' -d 'with --names, only identities whose kind can serve that use: AWS credentials, a login step, or whoami'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l provider -x -d 'list what the provider\'s session can offer, through the agent (the session must be logged in)'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l as-config -d 'with --provider: print the offered identities as configuration sections'
complete -c brokerctl -n '__fish_seen_subcommand_from list' -l profiles -d 'list the profiles (the overlay files in config.d/ beside the configuration), marking the selected one'
complete -c brokerctl -n '__fish_seen_subcommand_from validate' -l config -r -F -d 'check FILE instead of the configuration in use'
complete -c brokerctl -n '__fish_seen_subcommand_from validate' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from stop' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from logout' -l all -d 'drop every cached credential, including git credential-cache entries'
complete -c brokerctl -n '__fish_seen_subcommand_from logout' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from logout' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from whoami' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from whoami' -a '(__fish_brokerctl_identities --for whoami)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from login' -l keys -d 'ask for the identity\'s keyring-held keys again and replace them'
complete -c brokerctl -n '__fish_seen_subcommand_from login' -l no-browser -d 'only print the URL and code; never open a browser'
complete -c brokerctl -n '__fish_seen_subcommand_from login' -a '(__fish_brokerctl_identities --for login)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -l destination -x -d 'the console page to land on (default https://console.aws.amazon.com/)'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -l print -d 'print the sign-in URL instead of opening a browser'
complete -c brokerctl -n '__fish_seen_subcommand_from console' -a '(__fish_brokerctl_identities)' -d 'identity'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l tail -x -d 'show the last N matching records (default 20)'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l since -x -d 'only records at or after WHEN'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l until -x -d 'only records before WHEN'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l identity -x -a '(__fish_brokerctl_identities)' -d 'only records about identity NAME'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l outcome -x -a 'ok error' -d 'only records with this outcome'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l event -x -a 'issued denied refreshed stored erased leased released quarantined revoked ambient' -d 'only records of this event'
complete -c brokerctl -n '__fish_seen_subcommand_from audit' -l format -x -a 'table json jsonl' -d 'print a table for people (the default), one JSON document, or one JSON record per line (for a log pipeline)'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -l reveal -d 'with get: print the secret (only to a terminal)'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -a set -d 'store NAME, reading the value without echo'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -a get -d 'print NAME\'s value (needs --reveal and a terminal)'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -a rm -d 'remove NAME'
complete -c brokerctl -n '__fish_seen_subcommand_from secret' -a list -d 'list the names, backends and modification times'
complete -c brokerctl -n '__fish_seen_subcommand_from git-setup' -l global -d 'write the settings with git config --global and print what changed'
complete -c brokerctl -n '__fish_seen_subcommand_from git-setup' -l print -d 'print the change and the git config --global commands to review or paste (the default)'
complete -c brokerctl -n '__fish_seen_subcommand_from docker-setup' -l print -d 'print the entries that would be added, and write nothing'
complete -c brokerctl -n '__fish_seen_subcommand_from docker-setup' -l file -r -F -d 'the docker config file to edit (default $DOCKER_CONFIG/config.json, then ~/.docker/config.json)'
complete -c brokerctl -n '__fish_seen_subcommand_from docker-setup' -l registry -x -d 'also add these registries, comma-separated (for registries matched by a wildcard binding)'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l identity -x -a '(__fish_brokerctl_identities)' -d 'the identity whose token the user presents'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l cluster -d 'also write the cluster (its endpoint and CA, from eks:DescribeCluster signed with the identity\'s via credentials) and a context of the cluster\'s name'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l user -x -d 'the kubeconfig user to write (default: the identity\'s name)'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l kubeconfig -r -F -d 'the kubeconfig to edit (default: kubectl\'s, KUBECONFIG or ~/.kube/config)'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l command -r -F -d 'the plugin to run (default: kube-credential-broker next to brokerctl, else on PATH)'
complete -c brokerctl -n '__fish_seen_subcommand_from kube-setup' -l print -d 'print the kubectl command instead of running it'
complete -c brokerctl -n '__fish_seen_subcommand_from generate-docs' -a '(__fish_complete_directories)'
complete -c brokerctl -n '__fish_seen_subcommand_from doctor' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from doctor' -l offline -d 'skip the checks that contact upstreams (reachability and clock)'
complete -c brokerctl -n '__fish_seen_subcommand_from explain' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from which' -l format -x -a 'table json' -d 'print a table for people (the default) or one JSON document for programs'
complete -c brokerctl -n '__fish_seen_subcommand_from add' -l kind -x -a 'static exec aws/user aws/credentials aws/assume-role aws/web-identity aws/permission-set aws/saml github/app github/pat-pool aws/ecr aws/eks github/oidc github/sts gcp/service-account-key gcp/adc gcp/service-account gcp/workload-identity-federation gcp/project azure/client-secret azure/client-certificate azure/oidc azure/subscription azure/cli' -d 'the identity kind (see credential-broker(5))'
complete -c brokerctl -n '__fish_seen_subcommand_from add' -l set -x -d 'one setting of the kind; repeat for more'
complete -c brokerctl -n '__fish_seen_subcommand_from add' -l from-provider -x -d 'add a section for every identity the provider\'s session offers that is not defined yet'
complete -c brokerctl -n '__fish_seen_subcommand_from add' -l secret -x -d 'ask for the secret setting KEY and store it (for optional ones); repeatable'
complete -c brokerctl -n '__fish_seen_subcommand_from add' -l store -x -a 'keyring file' -d 'where typed secrets go: the agent\'s keyring (the default for kinds that keep keys there, such as aws/user) or 0600 files (the default otherwise)'
