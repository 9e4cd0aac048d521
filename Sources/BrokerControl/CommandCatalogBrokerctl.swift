// brokerctl in words, and the whole catalog: --help, man pages and completions come from here.

import BrokerFrontends

extension CommandCatalog {
    /// Every executable, in the order their pages and completions are generated. A new
    /// executable (aws-credential-process, broker-env-wrap) is one more entry here.
    public static let commands: [CommandDescription] = frontendCommands + [brokerctl]

    /// Pages that describe no executable, such as the configuration file's.
    public static let manuals: [ManualPage] = [configurationManual]

    public static func command(named name: String) -> CommandDescription? {
        commands.first { $0.name == name }
    }

    /// The `--help` text: `usage(for: "brokerctl")`, or a subcommand's with
    /// `usage(for: "brokerctl status")`. An unknown subcommand gets its command's text; an
    /// unknown command gets an empty string.
    public static func usage(for name: String) -> String {
        let words = name.split(separator: " ").map(String.init)
        guard let first = words.first, let command = command(named: first) else { return "" }
        return usage(of: command, subcommand: words.count > 1 ? words[1] : nil)
    }

    /// The synopsis alone, `usage: …` lines, for printing after a usage error (exit 64).
    public static func shortUsage(for name: String) -> String {
        let words = name.split(separator: " ").map(String.init)
        guard let first = words.first, let command = command(named: first) else { return "" }
        return shortUsage(of: command, subcommand: words.count > 1 ? words[1] : nil)
    }

    public static let brokerctl = CommandDescription(
        name: "brokerctl",
        summary: "inspect and control the credential-broker agent and configuration",
        synopsis: ["brokerctl [--config FILE] [--profile NAME] SUBCOMMAND [ARGUMENTS]"],
        description: [
            .paragraph("brokerctl is a person's window into credential-broker: what the configuration defines (`list`, `validate`), what the agent holds (`status`, `audit`), how to end things (`stop`, `logout`), how to set git, docker and kubectl up (`git-setup`, `docker-setup`, `kube-setup`), how to add an identity (`add`), which identity a URL gets (`explain`) and whether it all works (`selftest`, `doctor`). It never prints a secret."),
            .paragraph("Subcommands that read the configuration (`list`, `validate`, `git-setup`) read the file named by `--config`, `BROKER_CONFIG` or the default path. Subcommands that ask the agent (`status`, `stop`, `logout`) ask that configuration's own agent: each configuration file has one (see broker-agent(1)), so nothing is ever answered from another file. Options of a subcommand may come before it (`brokerctl --format json status`); a misspelt subcommand gets a suggestion."),
        ],
        options: [
            CommandOption("--config", value: "FILE", completion: .file,
                          "Read FILE instead of `$XDG_CONFIG_HOME/credential-broker/config` (also `BROKER_CONFIG`)."),
            CommandOption("--profile", value: "NAME",
                          "Use profile NAME (also `BROKER_PROFILE`): the configuration with its `config.d/NAME` overlay, and that profile's own agent, cache and audit log.",
                          details: ["Every subcommand then works on the profile: `list` and `validate` read the file and the overlay, `status`, `stop`, `logout` and `audit` the profile's agent, cache and audit log. `brokerctl list --profiles` lists the profiles."]),
            .help,
        ],
        subcommands: [
            Subcommand("status", arguments: "[--format table|json]",
                       summary: "Show the agent's pid, uptime, socket and cached credentials with their expiry, never the secrets.",
                       details: ["It does not start an agent: when none is running it says so and exits 0. Cached entries are listed by identity, kind and time left, so you can see what a `logout` would drop. Tokens of pool identities that are leased are listed by pool, token fingerprint (the first 12 hex digits of its SHA-256, as in the audit log), holder pid and time left; quarantined ones with the time until they return to the pool. Providers are listed with the time left in their login session (never a token), or the `brokerctl login` to run. When the disk cache or the audit log cannot be written (a full or read-only disk) it says so on a `cache error:` or `audit error:` line; credentials are then kept in memory only. Under a profile (`--profile`, `BROKER_PROFILE`) it shows that profile's agent, with a `profile` line naming its overlay (`profile` in JSON, null without one)."],
                       options: [CatalogText.formatOption]),
            Subcommand("list", arguments: "[--format table|json] [--names [--for aws|login|whoami]] [--provider PROVIDER [--as-config]] [--profiles]",
                       summary: "List the identities with their kinds and via chains, and the git bindings.",
                       details: ["Reads the configuration only; it neither starts the agent nor reads a secret. The one exception is a provider with `auto-provision = true`: its accounts and roles are identities without sections (`ACCOUNT-ID/ROLE`), and `--names` (what completions run) asks the agent for that provider's listing, one at most 10 minutes old, leaving them out when there is no session.",
                                 "With `--provider PROVIDER` it asks the agent instead what that provider's session can offer: for an `[provider]` of IAM Identity Center, every account and permission set the session may use (ListAccounts and ListAccountRoles, every page), named `ACCOUNT/PERMISSION-SET`; the DEFINED column says `yes` for a name with a section and `virtual` for one the provider's `auto-provision` makes usable without one. `--as-config` prints them as `[identity]` sections to append to the configuration (`brokerctl list --provider corp --as-config >> ~/.config/credential-broker/config`); sections already defined are printed commented out."],
                       options: [
                           CatalogText.formatOption,
                           CommandOption("--names", "Print only the identity names, one per line (the shell completions use this)."),
                           CommandOption("--for", value: "aws|login|whoami", completion: .choices(IdentityUse.allCases.map(\.rawValue)),
                                         "With --names, only identities whose kind can serve that use: AWS credentials, a login step, or whoami."),
                           CommandOption("--provider", value: "PROVIDER", "List what the provider's session can offer, through the agent (the session must be logged in)."),
                           CommandOption("--as-config", "With --provider: print the offered identities as configuration sections."),
                           CommandOption("--profiles", "List the profiles (the overlay files in `config.d/` beside the configuration), marking the selected one.",
                                         details: ["It reads no configuration, so it works while `BROKER_PROFILE` names a profile that does not exist. With `--format json` it prints `directory`, `selected` (or null) and `profiles`, a list of `{name, file, selected}`."]),
                       ]),
            Subcommand("validate", arguments: "[--config FILE] [--format table|json]",
                       summary: "Check the configuration and its secret references; print every error with its file:line and exit 1 if there is one.",
                       details: ["Checks syntax, includes, section names (an unknown `[section]` is an error at its header, even with no keys under it), keys, identity kinds and their settings, secret references (refusing inline secrets) and via chains (refusing cycles and dangling names), without contacting any upstream, reading any secret or running any command. Every error is reported, not only the first, each on its own line as `FILE:LINE: reason (hint: fix)`.",
                                 "Secret references are checked as far as they can be without reading them: a `file:` secret must exist, belong to you, have mode 0600 (no group or other bits) and not be empty. An `env:` secret is read from the agent's environment: when this configuration's agent is running, a variable it lacks is an error; otherwise a variable missing from this shell is a warning, since an agent started from here would lack it too. `cmd:` secrets are not run; a program they name by its path must exist and be executable.",
                                 "A valid file prints one `ok` line with the number of identities and git bindings; no file at all is valid, an empty configuration. With `--format json` it prints one object: `ok`, `file`, `identities`, `git_bindings`, and `errors` and `warnings` as lists of `{file, line, message, hint}`."],
                       options: [CommandOption("--config", value: "FILE", completion: .file, "Check FILE instead of the configuration in use."),
                                 CatalogText.formatOption]),
            Subcommand("stop", arguments: "[--format table|json]",
                       summary: "Ask the agent of this configuration to exit; the next request starts a new one.",
                       details: ["Credentials git approved for unbound URLs live only in the agent's memory and are lost; cached tokens on disk stay. Stopping is how an agent picks up a changed environment, such as a newly exported variable for an `env:` secret. With `--format json` it prints `{\"running\": false}` or `{\"stopped\": PID}`."],
                       options: [CatalogText.formatOption]),
            Subcommand("logout", arguments: "[IDENTITY|PROVIDER|--all] [--format table|json]",
                       summary: "Drop the cached credentials of IDENTITY, or with --all every cached credential.",
                       details: ["Give one of the two. With `--all` the git credential-cache entries are dropped too. The next request obtains fresh credentials. When no agent is running, the credentials cached on disk are dropped. Long-lived secrets (the files, variables and commands your configuration references) are never touched.",
                                 "Given a provider, it ends the provider's session: the service's own logout (the IAM Identity Center portal's Logout), the tokens in the agent's memory and the shared token file, and every cached credential of the identities that start from it."],
                       options: [CommandOption("--all", "Drop every cached credential, including git credential-cache entries."),
                                 CatalogText.formatOption],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The identity whose cached credentials to drop.")]),
            Subcommand("whoami", arguments: "[IDENTITY] [--format table|json]",
                       summary: "Show who an identity is: for AWS kinds STS's ARN, account and masked access key; for others the user name or token fingerprint; with its expiry and which tier answered.",
                       details: ["The tier is `memory` (the agent had the credentials), `disk` (the agent loaded them from its cache) or `upstream` (they were obtained just now). Without IDENTITY it is `BROKER_IDENTITY`, then the identity marked `default = true`; with neither, the error lists the choices. For AWS kinds the call is sts:GetCallerIdentity, which every principal may make. Pool identities lease tokens per process and have no one credential to describe."],
                       options: [CatalogText.formatOption],
                       positionals: [CommandArgument("IDENTITY", completion: .identityFor(.whoami), "The AWS identity to ask about.")]),
            Subcommand("login", arguments: "IDENTITY|PROVIDER [--keys] [--no-browser]",
                       summary: "Store an identity's keys in the keyring and prompt for an MFA code, which the agent uses to open the identity's session; or log in to a provider.",
                       details: ["For an identity whose section reads its keys from the keyring (an AWS user with `access-key-id = keyring:NAME` and `secret-access-key = keyring:NAME`, as `brokerctl add` writes them) it first asks for every one the keyring lacks, or for all of them with `--keys` (a key rotation), and stores them under the names the section gives, as `aws-vault add` does: the access key id with echo, the secret without, or one line each from standard input when there is no terminal. Then, only for identities whose kind has a login step (an AWS user with an `mfa-serial`), it asks for the MFA code; any other identity is refused before a prompt. The adapters never prompt, so when such an identity needs a new session they fail with `run: brokerctl login IDENTITY`. The code is read from the terminal (from standard input when there is none) and used once.",
                                 "Given a provider (an `[provider]` of IAM Identity Center), it starts the device login: it prints the verification URL with the code filled in and the code itself, opens the URL in a browser (xdg-open, or open on macOS) when standard input and output are both a terminal and `--no-browser` is not given, and waits while the agent polls the service, showing progress on standard error. It ends with the session's expiry. Approve the code in the browser; the agent keeps the session and renews it silently while it can."],
                       options: [CommandOption("--keys", "Ask for the identity's keyring-held keys again and replace them."),
                                 CommandOption("--no-browser", "Only print the URL and code; never open a browser.")],
                       positionals: [CommandArgument("IDENTITY", completion: .identityFor(.login), "The identity or provider to log in.")]),
            Subcommand("console", arguments: "[IDENTITY] [--destination URL] [--print]",
                       summary: "Open the AWS console as an AWS identity's role session, or print its sign-in URL.",
                       details: ["The agent trades the identity's session credentials for a SigninToken at the AWS sign-in federation endpoint (`[aws] signin-endpoint`) and builds the login URL, for a console session of `[aws] console-session-duration` (default 1h, at most 12h). It needs a role session (an identity of kind aws/assume-role or aws/permission-set, or one chained from them) or an aws/user identity's long-lived keys, which the agent first trades for a federated user's session with GetFederationToken (as aws-vault does: an allow-all session policy, so the console has the user's own permissions, for `console-session-duration`; the user needs `sts:GetFederationToken`). Keys that are already temporary are refused. The URL is opened with xdg-open (open on macOS) when standard input and output are a terminal, and printed otherwise or with `--print`. The URL is a credential for as long as the console session lasts: it is never logged, and the audit log records only the destination. IDENTITY defaults to `BROKER_IDENTITY`."],
                       options: [
                           CommandOption("--destination", value: "URL", "The console page to land on (default https://console.aws.amazon.com/)."),
                           CommandOption("--print", "Print the sign-in URL instead of opening a browser."),
                       ],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The AWS identity to sign in as.")]),
            Subcommand("audit", arguments: "[--tail N] [--since WHEN] [--until WHEN] [--identity NAME] [--outcome ok|error] [--event EVENT] [--format table|json|jsonl]",
                       summary: "Show the audit log: credentials issued, denied, refreshed, stored and erased, and who asked.",
                       details: ["Each record has the time, the event, the identity, the adapter, the calling process and its parent, and the target URL, never a secret.",
                                 "Filters read the live log and every rotated file (audit.log.1 … audit.log.N), oldest first, and keep the records that match all of them; `--tail` then keeps the last N. WHEN is an RFC 3339 time (`2026-12-05T10:00:00Z`), a date (midnight UTC), or an age such as `30m`, `2h` or `7d`. `--since` includes its moment, `--until` excludes it."],
                       options: [
                           CommandOption("--tail", value: "N", "Show the last N matching records (default 20)."),
                           CommandOption("--since", value: "WHEN", "Only records at or after WHEN."),
                           CommandOption("--until", value: "WHEN", "Only records before WHEN."),
                           CommandOption("--identity", value: "NAME", completion: .identity, "Only records about identity NAME."),
                           CommandOption("--outcome", value: "ok|error", completion: .choices(["ok", "error"]), "Only records with this outcome."),
                           CommandOption("--event", value: "EVENT", completion: .choices(["issued", "denied", "refreshed", "stored", "erased", "leased", "released", "quarantined", "revoked", "ambient"]), "Only records of this event."),
                           CommandOption("--format", value: "table|json|jsonl", completion: .choices(["table", "json", "jsonl"]),
                                         "Print a table for people (the default), one JSON document, or one JSON record per line (for a log pipeline)."),
                       ]),
            Subcommand("secret", arguments: "set|get|rm|list [NAME] [--reveal] [--format table|json]",
                       summary: "Store, recover, remove or list the long-lived secrets in the agent's keyring, which `keyring:NAME` references read.",
                       details: ["`set NAME` reads the value from the terminal without echo, or from standard input when that is a pipe or file (one trailing newline is dropped); an empty value is refused. `get NAME` prints the value only with `--reveal` and only to a terminal, for recovery. `rm NAME` removes it. `list` shows each name, its backend and when it was last modified, never a value, and the backend in use with its state (`unlocked`, `locked`, or why it is unavailable).",
                                 "The backend is chosen by `[keyring] backend` or `BROKER_KEYRING_BACKEND`: `system` (the Secret Service on Linux through `secret-tool`, the login Keychain on macOS), `file` (one age v1 file per secret under `$XDG_DATA_HOME/credential-broker/keyring`, which `age -d` can always decrypt) or `memory` (held by the running agent only, gone when it exits). Without either, `system` is used where one answers, else `file`."],
                       options: [
                           CommandOption("--reveal", "With `get`: print the secret (only to a terminal)."),
                           CatalogText.formatOption,
                       ],
                       positionals: [
                           CommandArgument("ACTION", "What to do.", values: [
                               Definition("set", "Store NAME, reading the value without echo."),
                               Definition("get", "Print NAME's value (needs --reveal and a terminal)."),
                               Definition("rm", "Remove NAME."),
                               Definition("list", "List the names, backends and modification times."),
                           ]),
                           CommandArgument("NAME", "The secret's name: letters, digits and . _ - @ +."),
                       ]),
            Subcommand("unlock",
                       summary: "Ask for the file keyring's passphrase once; the agent holds it until `brokerctl lock` or the unlock timeout.",
                       details: ["Only the file backend has a passphrase. It is read from the terminal without echo (from standard input when there is none) and checked against a file already in the keyring. The adapters never ask for it: while the keyring is locked they fail with a hint to run this. Without an unlock, the passphrase comes from `[keyring] passphrase` (a `cmd:` reference such as `cmd:pass show broker`) or `BROKER_KEYRING_PASSWORD` (less safe: any process of yours can read another's environment). `[keyring] unlock-timeout` (default 15m) is counted from the last use."]),
            Subcommand("lock",
                       summary: "Make the agent forget the file keyring's passphrase and every secret it decrypted.",
                       details: ["Secrets from `BROKER_KEYRING_PASSWORD` or a `[keyring] passphrase` reference are read again when next needed."]),
            Subcommand("git-setup", arguments: "[--global|--print]",
                       summary: "Print, or write to your global git configuration, the settings that enable the helper.",
                       details: ["The settings are `credential.helper` set to the absolute path of the git-credential-broker beside brokerctl and, for the host of every path-bound `[git \"<url>\"]` rule, `credential.<scheme>://<host>.useHttpPath true`, without which git sends no path and the rule cannot match.",
                                 "The absolute path is the fastest form: git runs a bare name such as `broker` as `git credential-broker`, one more git process on every call (measured here: `git credential fill` takes 1.52 times as long as with credential-cache, against 1.03 times with the path). If you move the installation, run `brokerctl git-setup --global` again: it recognises its own entry in any spelling and replaces it.",
                                 "Helpers already configured are kept, in their order, after ours (after an empty value, which resets the list, when there is one); an older entry of ours is replaced, keeping its arguments such as `--timeout=`. Several existing values are handled (`--unset-all`, then `--add` in order). `--global` says what it changed; `--print` shows the change as `-`/`+` lines and the commands that make it."],
                       options: [
                           CommandOption("--global", "Write the settings with `git config --global` and print what changed."),
                           CommandOption("--print", "Print the change and the `git config --global` commands to review or paste (the default)."),
                       ]),
            Subcommand("docker-setup", arguments: "[--print] [--file PATH] [--registry HOST[,HOST…]]",
                       summary: "Add credHelpers entries for docker-credential-broker to docker's config.json, keeping everything else.",
                       details: ["Every `[registry \"HOST[:PORT]\"]` binding without a wildcard, and each `--registry`, gets `\"credHelpers\": {\"HOST\": \"broker\"}` in `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`; skopeo, podman and buildah read it too). Other keys, and helpers for other registries, are kept. It prints each entry it adds; no token is ever written."],
                       options: [
                           CommandOption("--print", "Print the entries that would be added, and write nothing."),
                           CommandOption("--file", value: "PATH", completion: .file, "The docker config file to edit (default `$DOCKER_CONFIG/config.json`, then `~/.docker/config.json`)."),
                           CommandOption("--registry", value: "HOST", "Also add these registries, comma-separated (for registries matched by a wildcard binding)."),
                       ]),
            Subcommand("kube-setup", arguments: "--identity NAME [--cluster] [--user NAME] [--kubeconfig PATH] [--command PATH] [--print]",
                       summary: "Add a kubeconfig user whose token comes from kube-credential-broker, with kubectl config set-credentials.",
                       details: ["kubectl writes the user itself (an exec stanza with `client.authentication.k8s.io/v1`, `--identity NAME` and `interactiveMode: Never`), so the rest of the kubeconfig is kept. The identity must give a bearer token (kind aws/eks). Point a context at the user with `kubectl config set-context`."],
                       options: [
                           CommandOption("--identity", value: "NAME", completion: .identity, "The identity whose token the user presents."),
                           CommandOption("--cluster", "Also write the cluster (its endpoint and CA, from eks:DescribeCluster signed with the identity's via credentials) and a context of the cluster's name."),
                           CommandOption("--user", value: "NAME", "The kubeconfig user to write (default: the identity's name)."),
                           CommandOption("--kubeconfig", value: "PATH", completion: .file, "The kubeconfig to edit (default: kubectl's, `KUBECONFIG` or `~/.kube/config`)."),
                           CommandOption("--command", value: "PATH", completion: .file, "The plugin to run (default: kube-credential-broker next to brokerctl, else on PATH)."),
                           CommandOption("--print", "Print the kubectl command instead of running it."),
                       ]),
            Subcommand("selftest",
                       summary: "Run real git through the helper and a fresh agent in a throwaway home directory.",
                       details: ["It approves, fills and rejects a made-up credential with `git credential`, using the git-credential-broker and broker-agent that sit next to brokerctl and no configuration, prints one `ok` line per step, and stops the agent it started. Run it after installing to see that the pieces fit on this machine."]),
            Subcommand("generate-docs", arguments: "DIR",
                       summary: "Write the man pages and shell completions under DIR (man/ and completions/).",
                       details: ["They are made from the same description as `brokerctl --help`. install.sh installs the copies committed to the source tree, which the tests keep identical to what this writes."],
                       positionals: [CommandArgument("DIR", completion: .directory, "The directory to write man/ and completions/ into.")]),
        ] + newcomerSubcommands,
        exitStatus: CatalogText.exitStatus,
        environment: CatalogText.environment("BROKER_CONFIG", "BROKER_PROFILE", "BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_TRACE", "BROKER_KEYRING_BACKEND", "BROKER_KEYRING_PASSWORD", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"),
        files: CatalogText.files("config", "socket", "entries", "audit"),
        examples: [
            Example("Check that an installation works:", "brokerctl selftest"),
            Example("Check an edited configuration and see what it defines:", "brokerctl validate && brokerctl list"),
            Example("Enable the git helper, including paths for path-bound rules:", "brokerctl git-setup --global"),
            Example("See what the agent holds, as JSON for a script:", "brokerctl status --format json"),
            Example("Force a fresh token for one identity after rotating its upstream secret:", "brokerctl logout acme-bot"),
            Example("Who got credentials recently:", "brokerctl audit --tail 20"),
            Example("Check the whole setup, with the fix for anything wrong:", "brokerctl doctor"),
            Example("Which identity git would use for a repository, and what is cached:", "brokerctl explain https://github.com/acme/tools.git"),
        ],
        seeAlso: ["broker-agent(1)", "git-credential-broker(1)", "credential-broker(5)", "git-config(1)"])
}
