// The catalog entries of the commands a newcomer reaches for first: doctor, explain (which) and add.

import BrokerCore
import BrokerFrontends

extension CommandCatalog {
    static let newcomerSubcommands: [Subcommand] = [
        Subcommand("doctor", arguments: "[--format table|json] [--offline]",
                   summary: "Check the real setup and print one line per check, ok, warn or fail, with the fix for each problem.",
                   details: [
                       "It checks: the installed programs on PATH; git's `credential.helper` list (order, and that the broker's entry can run) and `credential.<url>.useHttpPath` for every path-bound binding; `credential_process` lines in `~/.aws/config` (or `AWS_CONFIG_FILE`) that run aws-credential-process, and the identities they name; docker's `credHelpers` (or `credsStore`) for every registry bound by name, and a kubeconfig user running kube-credential-broker for every aws/eks identity (read with `kubectl config view`); the agent (running, the same version as brokerctl, not replaced on disk since it started, its socket directory's owner and mode, and which configuration it serves); the configuration; the keyring (which backend is in use and whether it is unlocked, as the running agent sees it, or else as an agent started from here would; a failure when `keyring:` secrets or `[git] store = keyring` need it and it is locked or unreachable, a warning when it is unreachable and nothing needs it, with the fix: `brokerctl unlock`, unlocking the desktop keyring, `dbus-run-session`, or the file backend); every secret reference, without reading or running it (a file's existence, owner, mode and size; a variable's presence; a command's program on PATH); every configured upstream (the STS endpoint of AWS identities, the API of GitHub apps) with one unauthenticated GET and a 3 s timeout, and the clock against the `Date` header of its answer (signed requests fail beyond 5 minutes of skew); and the disk cache and audit log directories (private, writable, size).",
                       "It never prints a secret, never sends one, and starts no agent. The exit status is 1 when any check fails, 0 otherwise (warnings included).",
                   ],
                   options: [
                       CatalogText.formatOption,
                       CommandOption("--offline", "Skip the checks that contact upstreams (reachability and clock)."),
                   ]),
        Subcommand("explain", arguments: "URL [--format table|json]",
                   summary: "Say which git binding and identity git would use for URL, through which chain, what is cached and until when, or why nothing matches.",
                   details: [
                       "It looks at URL twice: as git sends it by default (scheme and host only) and with its path, which git sends only when `credential.<url>.useHttpPath` is true; it reads that setting from your git configuration and says which case applies. The chain is the identity and every `via` behind it, with their kinds. What is cached comes from the running agent (nothing is started): each identity of the chain with its expiry, never a secret. `which` is another name for it.",
                       "Set `BROKER_TRACE=1` to see the same from the adapters' side: git-credential-broker, aws-credential-process and broker-env-wrap print each step on standard error (request sent, agent found or started, answer received with identity, expiry and tier), never a secret.",
                   ],
                   options: [CatalogText.formatOption],
                   positionals: [CommandArgument("URL", "The remote URL, such as https://github.com/acme/tools.git.")]),
        Subcommand("which", arguments: "URL [--format table|json]",
                   summary: "Another name for explain.",
                   options: [CatalogText.formatOption],
                   positionals: [CommandArgument("URL", "The remote URL, such as https://github.com/acme/tools.git.")]),
        Subcommand("add", arguments: "NAME --kind KIND [--set KEY=VALUE ...] [--secret KEY ...] [--store keyring|file] | --from-provider PROVIDER",
                   summary: "Add an identity section to the configuration, ask for its secrets and store each in the keyring or a 0600 file, then validate.",
                   details: [
                       "Settings come from `--set KEY=VALUE` (repeatable), checked against the kind's own list; an unknown kind or setting is refused with the known ones. A secret setting the kind requires and `--set` did not give, and each one named with `--secret`, is asked for on the terminal without echo, or read as one line from standard input when there is no terminal; it is written to a 0600 file under the configuration's directory (`secrets/NAME.KEY`) and referenced as `file:`. A `--set` value for a secret setting must itself be a reference (`env:`, `file:`, `cmd:`, `keyring:`). Kinds that keep a person's keys in the keyring (aws/user: `access-key-id` and `secret-access-key`, as `aws-vault add` does) store with `--store keyring` by default: every such setting `--set` did not give is asked for (the access key id with echo, the secret without), stored in the agent's keyring (see credential-broker(5) [keyring]) as `NAME.KEY`, and referenced as `keyring:NAME.KEY`; a name the keyring already holds is refused, not overwritten, and a locked keyring is an error naming the fix (`brokerctl unlock`). `--store file` keeps the 0600 files instead. The new section is appended; the rest of the file, comments included, is kept byte for byte. When the result does not validate, the file is put back as it was and the error is printed.",
                       "With `--from-provider PROVIDER` it asks the agent for every identity the provider's session offers (for IAM Identity Center: each account and permission set, named `ACCOUNT/PERMISSION-SET`) and appends a section for each one the configuration does not define yet, validated as one change; `brokerctl list --provider PROVIDER --as-config` prints the same sections instead. A provider with `auto-provision = true` needs no sections at all.",
                   ],
                   options: [
                       CommandOption("--kind", value: "KIND", completion: .choices(IdentityKinds.names), "The identity kind (see credential-broker(5))."),
                       CommandOption("--set", value: "KEY=VALUE", "One setting of the kind; repeat for more."),
                       CommandOption("--from-provider", value: "PROVIDER", "Add a section for every identity the provider's session offers that is not defined yet."),
                       CommandOption("--secret", value: "KEY", "Ask for the secret setting KEY and store it (for optional ones); repeatable."),
                       CommandOption("--store", value: "keyring|file", completion: .choices(["keyring", "file"]), "Where typed secrets go: the agent's keyring (the default for kinds that keep keys there, such as aws/user) or 0600 files (the default otherwise)."),
                   ],
                   positionals: [CommandArgument("NAME", "The new identity's name.")]),
    ]
}
