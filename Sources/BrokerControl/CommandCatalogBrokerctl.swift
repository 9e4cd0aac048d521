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
        synopsis: ["brokerctl [--config FILE] SUBCOMMAND [ARGUMENTS]"],
        description: [
            .paragraph("brokerctl is a person's window into credential-broker: what the configuration defines (`list`, `validate`), what the agent holds (`status`, `audit`), how to end things (`stop`, `logout`), how to set git up (`git-setup`) and whether it all works (`selftest`). It never prints a secret."),
            .paragraph("Subcommands that read the configuration (`list`, `validate`, `git-setup`) read the file named by `--config`, `BROKER_CONFIG` or the default path. Subcommands that ask the agent (`status`, `stop`, `logout`) are answered from the configuration the agent was started with."),
        ],
        options: [
            CommandOption("--config", value: "FILE", completion: .file,
                          "Read FILE instead of `$XDG_CONFIG_HOME/credential-broker/config` (also `BROKER_CONFIG`)."),
            .help,
        ],
        subcommands: [
            Subcommand("status", arguments: "[--format table|json]",
                       summary: "Show the agent's pid, uptime, socket and cached credentials with their expiry, never the secrets.",
                       details: ["It does not start an agent: when none is running it says so and exits 0. Cached entries are listed by identity, kind and time left, so you can see what a `logout` would drop. Tokens of pool identities that are leased are listed by pool, token fingerprint (the first 12 hex digits of its SHA-256, as in the audit log), holder pid and time left; quarantined ones with the time until they return to the pool. Providers are listed with the time left in their login session (never a token), or the `brokerctl login` to run. When the disk cache or the audit log cannot be written (a full or read-only disk) it says so on a `cache error:` or `audit error:` line; credentials are then kept in memory only."],
                       options: [CatalogText.formatOption]),
            Subcommand("list", arguments: "[--format table|json] [--names] [--provider PROVIDER [--as-config]]",
                       summary: "List the identities with their kinds and via chains, and the git bindings.",
                       details: ["Reads the configuration only; it neither starts the agent nor reads a secret.",
                                 "With `--provider PROVIDER` it asks the agent instead what that provider's session can offer: for an `[provider]` of IAM Identity Center, every account and permission set the session may use (ListAccounts and ListAccountRoles, every page), named `ACCOUNT/PERMISSION-SET`. `--as-config` prints them as `[identity]` sections to append to the configuration (`brokerctl list --provider corp --as-config >> ~/.config/credential-broker/config`); sections already defined are printed commented out."],
                       options: [
                           CatalogText.formatOption,
                           CommandOption("--names", "Print only the identity names, one per line (the shell completions use this)."),
                           CommandOption("--provider", value: "PROVIDER", "List what the provider's session can offer, through the agent (the session must be logged in)."),
                           CommandOption("--as-config", "With --provider: print the offered identities as configuration sections."),
                       ]),
            Subcommand("validate", arguments: "[--config FILE]",
                       summary: "Check the configuration; on the first error print file:line and the reason and exit 1.",
                       details: ["Checks syntax, includes, sections and keys, identity kinds and their settings, secret references (refusing inline secrets) and via chains (refusing cycles and dangling names), without contacting any upstream or reading any secret. A valid file prints one `ok` line with the number of identities and git bindings; no file at all is valid, an empty configuration."],
                       options: [CommandOption("--config", value: "FILE", completion: .file, "Check FILE instead of the configuration in use.")]),
            Subcommand("stop",
                       summary: "Ask the agent to exit; the next request starts a new one.",
                       details: ["Credentials git approved for unbound URLs live only in the agent's memory and are lost; cached tokens on disk stay. Stopping is how an agent picks up a changed environment, such as a newly exported variable for an `env:` secret."]),
            Subcommand("logout", arguments: "[IDENTITY|PROVIDER|--all]",
                       summary: "Drop the cached credentials of IDENTITY, or with --all every cached credential.",
                       details: ["Give one of the two. With `--all` the git credential-cache entries are dropped too. The next request obtains fresh credentials. When no agent is running, the credentials cached on disk are dropped. Long-lived secrets (the files, variables and commands your configuration references) are never touched.",
                                 "Given a provider, it ends the provider's session: the service's own logout (the IAM Identity Center portal's Logout), the tokens in the agent's memory and the shared token file, and every cached credential of the identities that start from it."],
                       options: [CommandOption("--all", "Drop every cached credential, including git credential-cache entries.")],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The identity whose cached credentials to drop.")]),
            Subcommand("whoami", arguments: "[IDENTITY] [--format table|json]",
                       summary: "Ask STS who an AWS identity is: its ARN, account, masked access key, expiry, and which tier answered.",
                       details: ["The tier is `memory` (the agent had the credentials), `disk` (the agent loaded them from its cache) or `upstream` (they were obtained just now). IDENTITY defaults to `BROKER_IDENTITY`. The call is sts:GetCallerIdentity, which every principal may make."],
                       options: [CatalogText.formatOption],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The AWS identity to ask about.")]),
            Subcommand("login", arguments: "IDENTITY|PROVIDER [--no-browser]",
                       summary: "Prompt for an MFA code and hand it to the agent, which opens the identity's session with it; or log in to a provider.",
                       details: ["Only for identities whose kind has a login step (an AWS user with an `mfa-serial`); any other identity is refused before a prompt. The adapters never prompt, so when such an identity needs a new session they fail with `run: brokerctl login IDENTITY`. The code is read from the terminal (from standard input when there is none) and used once.",
                                 "Given a provider (an `[provider]` of IAM Identity Center), it starts the device login: it prints the verification URL with the code filled in and the code itself, opens the URL in a browser (xdg-open, or open on macOS) when standard input and output are both a terminal and `--no-browser` is not given, and waits while the agent polls the service, showing progress on standard error. It ends with the session's expiry. Approve the code in the browser; the agent keeps the session and renews it silently while it can."],
                       options: [CommandOption("--no-browser", "Only print the URL and code; never open a browser.")],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The identity or provider to log in.")]),
            Subcommand("console", arguments: "[IDENTITY] [--destination URL] [--print]",
                       summary: "Open the AWS console as an AWS identity's role session, or print its sign-in URL.",
                       details: ["The agent trades the identity's session credentials for a SigninToken at the AWS sign-in federation endpoint (`[aws] signin-endpoint`) and builds the login URL, for a console session of `[aws] console-session-duration` (default 1h, at most 12h). It needs role credentials: an identity of kind aws/assume-role or aws/permission-set, or one chained from them; long-lived user keys are refused. The URL is opened with xdg-open (open on macOS) when standard input and output are a terminal, and printed otherwise or with `--print`. The URL is a credential for as long as the console session lasts: it is never logged, and the audit log records only the destination. IDENTITY defaults to `BROKER_IDENTITY`."],
                       options: [
                           CommandOption("--destination", value: "URL", "The console page to land on (default https://console.aws.amazon.com/)."),
                           CommandOption("--print", "Print the sign-in URL instead of opening a browser."),
                       ],
                       positionals: [CommandArgument("IDENTITY", completion: .identity, "The AWS identity to sign in as.")]),
            Subcommand("audit", arguments: "[--tail N] [--format table|json]",
                       summary: "Show the audit log: credentials issued, denied, refreshed, stored and erased, and who asked.",
                       details: ["Each record has the time, the event, the identity, the adapter, the calling process and its parent, and the target URL, never a secret."],
                       options: [
                           CommandOption("--tail", value: "N", "Show the last N records (default 20)."),
                           CatalogText.formatOption,
                       ]),
            Subcommand("git-setup", arguments: "[--global|--print]",
                       summary: "Print, or write to your global git configuration, the settings that enable the helper.",
                       details: ["The settings are `credential.helper broker` and, for the host of every path-bound `[git \"<url>\"]` rule, `credential.<scheme>://<host>.useHttpPath true`, without which git sends no path and the rule cannot match."],
                       options: [
                           CommandOption("--global", "Write the settings with `git config --global` and print each one set."),
                           CommandOption("--print", "Print them as `git config --global` commands to review or paste (the default)."),
                       ]),
            Subcommand("selftest",
                       summary: "Run real git through the helper and a fresh agent in a throwaway home directory.",
                       details: ["It approves, fills and rejects a made-up credential with `git credential`, using the git-credential-broker and broker-agent that sit next to brokerctl and no configuration, prints one `ok` line per step, and stops the agent it started. Run it after installing to see that the pieces fit on this machine."]),
            Subcommand("generate-docs", arguments: "DIR",
                       summary: "Write the man pages and shell completions under DIR (man/ and completions/).",
                       details: ["They are made from the same description as `brokerctl --help`. install.sh installs the copies committed to the source tree, which the tests keep identical to what this writes."],
                       positionals: [CommandArgument("DIR", completion: .directory, "The directory to write man/ and completions/ into.")]),
        ],
        exitStatus: CatalogText.exitStatus,
        environment: CatalogText.environment("BROKER_CONFIG", "BROKER_SOCKET_DIR", "BROKER_AGENT", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"),
        files: CatalogText.files("config", "socket", "entries", "audit"),
        examples: [
            Example("Check that an installation works:", "brokerctl selftest"),
            Example("Check an edited configuration and see what it defines:", "brokerctl validate && brokerctl list"),
            Example("Enable the git helper, including paths for path-bound rules:", "brokerctl git-setup --global"),
            Example("See what the agent holds, as JSON for a script:", "brokerctl status --format json"),
            Example("Force a fresh token for one identity after rotating its upstream secret:", "brokerctl logout acme-bot"),
            Example("Who got credentials recently:", "brokerctl audit --tail 20"),
        ],
        seeAlso: ["broker-agent(1)", "git-credential-broker(1)", "credential-broker(5)", "git-config(1)"])
}
