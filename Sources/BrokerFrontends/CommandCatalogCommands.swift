// What each executable does, in words a person reads in --help, the man pages and completions.

import BrokerWire

// Shared pieces, so the same variable or file is explained the same way on every page.
package enum CatalogText {
    package static let socketDirOption = CommandOption(
        "--socket-dir", value: "DIR", completion: .directory,
        "Use the agent socket in DIR instead of the default; an agent started on demand listens there.",
        details: ["The same as setting `BROKER_SOCKET_DIR`. Useful for tests and for running a second, separate agent."])

    package static let formatOption = CommandOption(
        "--format", value: "table|json", completion: .choices(["table", "json"]),
        "Print a table for people (the default) or one JSON document for programs.")

    static let environmentVariables: [String: Definition] = [
        "BROKER_CONFIG": Definition("BROKER_CONFIG", [
            "The configuration file to read instead of `$XDG_CONFIG_HOME/credential-broker/config`. Unlike the default file, a file named here must exist. Another file than the default one is served by its own agent (see broker-agent(1)), so a request is never answered from another configuration.",
        ]),
        "BROKER_PROFILE": Definition("BROKER_PROFILE", [
            "The profile to use: its overlay `config.d/NAME`, beside the configuration file, is read after that file, and it has its own agent, credential cache and audit log, so no token is shared between profiles. A profile that does not exist is an error naming the ones that do; `brokerctl list --profiles` lists them. See PROFILES in credential-broker(5).",
        ]),
        "BROKER_SOCKET_DIR": Definition("BROKER_SOCKET_DIR", [
            "The directory of the agent's socket and spawn lock, instead of `$XDG_RUNTIME_DIR/credential-broker`.",
        ]),
        "BROKER_AGENT": Definition("BROKER_AGENT", [
            "The broker-agent executable to start when no agent is running. By default it is looked for next to the running program, then on `PATH`.",
        ]),
        "BROKER_TRACE": Definition("BROKER_TRACE", [
            "`1` (or `true`, `yes`, `on`) prints each step on standard error, one `trace: PROGRAM: …` line each: whether an agent was found or started, the request sent and the answer received, with identity, expiry and tier. Values that could be secret (passwords, keys, tokens, environment values) are only named, never shown.",
        ]),
        "BROKER_KEYRING_BACKEND": Definition("BROKER_KEYRING_BACKEND", [
            "The keyring backend, `system`, `file` or `memory`, read by the agent; it overrides `[keyring] backend`.",
        ]),
        "BROKER_KEYRING_PASSWORD": Definition("BROKER_KEYRING_PASSWORD", [
            "The file keyring's passphrase, read by the agent when it is not unlocked. Less safe than `brokerctl unlock` or a `[keyring] passphrase = cmd:…` reference: any process of yours can read another's environment.",
        ]),
        "XDG_CONFIG_HOME": Definition("XDG_CONFIG_HOME", [
            "Base of the configuration file, `credential-broker/config`; `~/.config` when unset.",
        ]),
        "XDG_CACHE_HOME": Definition("XDG_CACHE_HOME", [
            "Base of the credential cache, `credential-broker/entries/`, and of the fallback socket directory `credential-broker/run/`; `~/.cache` when unset.",
        ]),
        "XDG_STATE_HOME": Definition("XDG_STATE_HOME", [
            "Base of the audit log and the agent log, `credential-broker/`; `~/.local/state` when unset.",
        ]),
        "XDG_RUNTIME_DIR": Definition("XDG_RUNTIME_DIR", [
            "Base of the socket directory, `credential-broker/`. When unset, the socket lives under `$XDG_CACHE_HOME/credential-broker/run/`.",
        ]),
    ]

    package static func environment(_ names: String...) -> [Definition] {
        names.map { environmentVariables[$0]! }
    }

    static let fileDefinitions: [String: Definition] = [
        "config": Definition("$XDG_CONFIG_HOME/credential-broker/config", [
            "The configuration: identities, git bindings and agent settings; see credential-broker(5).",
        ]),
        "socket": Definition("$XDG_RUNTIME_DIR/credential-broker/agent.sock", [
            "The agent's Unix socket, in a directory of mode 0700. `spawn.lock` beside it makes sure concurrent adapters start only one agent.",
        ]),
        "entries": Definition("$XDG_CACHE_HOME/credential-broker/entries/", [
            "Cached short-lived credentials, one file of mode 0600 each, so a restarted agent need not mint them again. Long-lived secrets are never written here.",
        ]),
        "audit": Definition("$XDG_STATE_HOME/credential-broker/audit.log", [
            "One JSON line per credential issued, denied, refreshed, stored or erased: time, identity, adapter, calling process and target. Never a secret. Past `[audit] max-size` (default 10 MiB) it is rotated to `audit.log.1` … `audit.log.N` (`[audit] keep`, default 5).",
        ]),
        "agentlog": Definition("$XDG_STATE_HOME/credential-broker/agent.log", [
            "What an agent started on demand writes instead of standard error: startup, shutdown and errors.",
        ]),
    ]

    package static func files(_ names: String...) -> [Definition] {
        names.map { fileDefinitions[$0]! }
    }

    package static let exitStatus = [
        Definition("0", style: .plain, "Success."),
        Definition("1", style: .plain, "Failure; one line on standard error says what went wrong and, where there is one, how to fix it."),
        Definition("64", style: .plain, "Wrong usage: an unknown option or a missing argument. The usage is printed on standard error."),
    ]
}

extension CommandCatalog {
    static let gitCredentialBroker = CommandDescription(
        name: "git-credential-broker",
        summary: "git credential helper backed by the credential-broker agent",
        synopsis: ["git-credential-broker [--timeout=SECONDS] [--socket-dir DIR] (get|store|erase|capability)"],
        description: [
            .paragraph("git-credential-broker is a credential helper for git(1). git runs it, not you: with `credential.helper = broker` in your git configuration, git runs `git credential-broker get` when it needs a password, `store` when one worked and `erase` when one was rejected, and describes the URL as `key=value` lines on standard input (see gitcredentials(7))."),
            .paragraph("The helper forwards each request to broker-agent(1), the per-user agent, over a Unix socket, and relays the answer. It holds no state and starts as fast as a C program. When no agent is running it takes a spawn lock, starts one and waits for it to report that it is ready."),
            .subheading("Bound URLs"),
            .paragraph("A URL bound to an identity by `[git \"<url>\"] identity = NAME` in the configuration (see credential-broker(5)) is answered from that identity: `get` prints its `username`, its `password` (a token the agent minted, cached or refreshed) and `password_expiry_utc` when the token expires. The agent never hands git a token with less than `[git] minimum-validity` left. `store` is ignored for bound URLs, because the broker is their source of truth; `erase`, which git sends when the server rejected the password, drops the identity's cached token so the next `get` obtains a fresh one."),
            .subheading("Every other URL"),
            .paragraph("For URLs bound to no identity the helper is a drop-in replacement for `git credential-cache`: `store` keeps the credential git approved in the agent's memory for `--timeout` seconds (default `[git] cache-timeout`, 900 seconds when unset), `get` returns it and `erase` forgets it. These credentials never touch the disk, and the agent stays alive as long as it holds any. With `[git] store = keyring` they are kept in the keyring instead, without a timeout, and survive agent restarts, as git-credential-libsecret keeps them. Replace `credential.helper = cache` with `broker` rather than listing both, or you keep two caches."),
            .subheading("Never prompting, never half an answer"),
            .paragraph("The helper never prompts. When it has nothing to offer it prints nothing and exits 0, so git tries its next helper or asks you. When something is wrong (a configuration error, an upstream that refuses) it prints one line on standard error and exits 1, and it never prints part of an answer on standard output."),
            .paragraph("When an answer takes longer than a second (a slow upstream or identity command) and standard error is a terminal, one status line says what it is waiting for, and is erased when the answer comes; aws-credential-process, broker-env-wrap and brokerctl do the same. When standard error is not a terminal nothing is written there. `BROKER_TRACE=1` prints every step instead (see ENVIRONMENT)."),
            .subheading("Path-bound rules"),
            .paragraph("git sends the repository path of an http or https URL only when `credential.<url>.useHttpPath` is true for it. Without a path a rule such as `[git \"https://github.com/acme\"]` cannot match: the request falls back to a host-wide rule or to the cache, and the helper prints a warning on standard error with the `git config` command that fixes it. `brokerctl git-setup --global` writes that setting for the host of every path-bound rule."),
        ],
        options: [
            CommandOption("--timeout", value: "SECONDS", equals: true,
                          "Keep credentials approved for unbound URLs in memory this many seconds (default `[git] cache-timeout`, 900).",
                          details: ["The same meaning as git credential-cache's --timeout; `--timeout SECONDS` also works. Bound URLs are not affected: their tokens live as long as the upstream says."]),
            CatalogText.socketDirOption,
            .help,
        ],
        arguments: [
            CommandArgument("OPERATION", completion: .choices(["get", "store", "erase", "capability"]),
                            "What git asks for.", values: [
                Definition("get", style: .synopsis, "Print a credential for the URL on standard input, or nothing."),
                Definition("store", style: .synopsis, "Remember a credential git approved (unbound URLs only)."),
                Definition("erase", style: .synopsis, "Forget a credential the server rejected."),
                Definition("capability", style: .synopsis, "Tell git which protocol capabilities the helper understands (git 2.46 and later)."),
            ]),
        ],
        exitStatus: [
            Definition("0", style: .plain, "Success, including \"nothing to offer\" for `get`, and any operation the helper does not know, which gitcredentials(7) asks helpers to ignore."),
            Definition("1", style: .plain, "Failure: one line on standard error, nothing on standard output. git then tries its next helper or prompts."),
            Definition("64", style: .plain, "Wrong usage: an unknown option or no operation. The usage is printed on standard error."),
        ],
        environment: CatalogText.environment("BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_CONFIG", "BROKER_PROFILE", "BROKER_TRACE", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")
            + [Definition("Everything else", style: .plain, [
                "An agent started by this helper inherits the helper's whole environment, and so, through git, that of the shell that ran git. `env:NAME` secrets are read from that environment; see broker-agent(1).",
            ])],
        files: CatalogText.files("socket", "config", "agentlog"),
        examples: [
            Example("Use the broker for every repository:", "git config --global credential.helper broker"),
            Example("Keep passwords for unbound URLs an hour instead of 15 minutes:", "git config --global credential.helper 'broker --timeout=3600'"),
            Example("Bind one GitHub organization to an identity, in `~/.config/credential-broker/config`:",
                    "[git \"https://github.com/acme\"]\n    identity = acme-bot"),
            Example("Then let git send the repository paths that rule needs:", "brokerctl git-setup --global"),
            Example("Ask by hand what git would ask:", "printf 'protocol=https\\nhost=github.com\\npath=acme/tools.git\\n\\n' | git credential-broker get"),
        ],
        seeAlso: ["broker-agent(1)", "brokerctl(1)", "credential-broker(5)", "gitcredentials(7)", "git-credential-cache(1)"])

    public static let brokerAgent = CommandDescription(
        name: "broker-agent",
        summary: "per-user agent that obtains, caches and hands out credentials",
        synopsis: ["broker-agent [--foreground] [--socket-dir DIR] [--config FILE] [--idle-timeout DURATION]"],
        description: [
            .paragraph("broker-agent owns everything stateful in credential-broker: it reads the configuration, resolves identity chains, runs identities' commands and `cmd:` secrets, caches short-lived credentials, keeps git credential-cache entries in memory and writes the audit log. git-credential-broker(1) and brokerctl(1) are thin clients that send it one request per connection."),
            .subheading("Started on demand"),
            .paragraph("You rarely start it yourself. A client that finds no agent takes a spawn lock, so that concurrent git processes start only one agent, starts `broker-agent --spawned` and waits for its one-line answer: `ok` once it listens, or the reason it could not start. A spawned agent detaches from the terminal, closes every descriptor it inherited and writes its log to `agent.log`. Run it with `--foreground` to watch the log on standard error."),
            .subheading("Socket and permissions"),
            .paragraph("It listens on `$XDG_RUNTIME_DIR/credential-broker/agent.sock`, or `$XDG_CACHE_HOME/credential-broker/run/agent.sock` when XDG_RUNTIME_DIR is unset; `BROKER_SOCKET_DIR` or `--socket-dir` names another directory. Its directories are created with mode 0700; an existing one that group or others can enter is refused with the `chmod 0700` command that fixes it. On every connection the agent checks the peer's user id (SO_PEERCRED on Linux, getpeereid on macOS) and closes connections from any other user without answering."),
            .subheading("One agent per configuration"),
            .paragraph("A request is never answered from a configuration other than the one it was made under. The default configuration's agent listens on `agent.sock`; a configuration named by `BROKER_CONFIG` or `brokerctl --config` that is another file gets its own agent, on `agent-KEY.sock` in the same directory, where KEY is 16 hex digits of a hash (FNV-1a) of the file's canonical path. Clients compute the same name, so `BROKER_CONFIG=other.conf git fetch` starts or finds the agent of `other.conf`, and `brokerctl status` under the same variable shows that agent and its file. Each agent keeps its own git credential-cache entries; the disk cache and the audit log are shared, and cache entries are keyed by the whole identity chain and its settings, so two files that define a name differently never share a credential."),
            .paragraph("A profile (`BROKER_PROFILE=NAME`, `brokerctl --profile NAME`; see credential-broker(5)) is a configuration of its own: its agent listens on `agent-KEY.sock`, KEY a hash of the overlay's canonical path, and it keeps its disk cache, audit log, agent log and leases under `profiles/NAME/` in the usual cache and state directories. Two profiles never share a credential, even one defined identically in both."),
            .subheading("Cache"),
            .paragraph("Credentials with an expiry are cached in memory and in `$XDG_CACHE_HOME/credential-broker/entries/` (files of mode 0600), so a restarted agent need not mint them again. Long-lived secrets read through `env:`, `file:` and `cmd:` references are held in memory only. Concurrent requests for the same credential cause one upstream call, and a cached credential is refreshed in the background `[agent] refresh-ahead` before it would fall below its minimum validity, so callers seldom wait."),
            .subheading("Whose environment"),
            .paragraph("The agent keeps the environment it was started with: that of whichever client happened to start it. `env:NAME` secrets and the variables ambient brokers read (a CI job's `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `GITHUB_TOKEN`, `AWS_*` keys) come from that environment, not from the shell of the program asking; a client started later with other values reaches the same agent (clients find it by configuration and profile, not by environment) and is answered from the first one's. Jobs whose variables must not mix use a profile or a socket directory each. A variable that is missing there is an error that says so; export it and run `brokerctl stop`, and the next request starts an agent that has it."),
            .subheading("Lifetime"),
            .paragraph("The agent exits after `[agent] idle-timeout` (default 15m) without a request, but not while it holds git credential-cache entries, which would be lost (git credential-cache--daemon lives as long as its cache, too). It also exits on SIGTERM or SIGINT and when `brokerctl stop` asks. It rereads the configuration whenever the file changes, so edits need no restart."),
        ],
        options: [
            CommandOption("--foreground", "Stay attached to the terminal and log to standard error (the default when you run it).",
                          details: ["It undoes an earlier `--spawned` on the same command line."]),
            CatalogText.socketDirOption,
            CommandOption("--config", value: "FILE", completion: .file,
                          "Serve the configuration in FILE (as `BROKER_CONFIG` does), on that configuration's own socket.",
                          details: ["Clients pass it when they start an agent for a configuration other than the default one."]),
            CommandOption("--profile", value: "NAME",
                          "Serve profile NAME (as `BROKER_PROFILE` does): the configuration with its `config.d/NAME` overlay, on the profile's own socket, cache and audit log.",
                          details: ["Clients always pass it when they start an agent, empty for no profile, so the agent serves their profile whatever its inherited environment says."]),
            CommandOption("--idle-timeout", value: "DURATION",
                          "Exit after DURATION without requests, such as 90s, 15m or 1h30m, instead of `[agent] idle-timeout`."),
            CommandOption("--spawned", "Run as started by a client: detach, log to `agent.log` and report readiness on standard output.",
                          details: ["The clients use it; people do not need to. The agent starts a new session, closes inherited descriptors, prints `ok` (or one line saying why it cannot start) on standard output once it listens, then closes standard output so the client sees end of file."]),
            .help,
        ],
        sections: [
            ManualSection("SECURITY", [
                .bullets([
                    "Only your own user can talk to the agent: its directory is 0700 and every connection's peer uid is checked.",
                    "No secret is ever logged: secrets are wrapped in a type that prints as `<redacted>`, and the audit log records names, processes and targets only.",
                    "Only short-lived derived credentials reach the disk, as 0600 files written to a temporary name and renamed; a stolen disk yields at most what those credentials allow until they expire.",
                    "A credential's expiry is also taken on the clock that counts time since boot (CLOCK_BOOTTIME), and the agent goes by whichever of that and the wall clock leaves less time: setting the wall clock back never stretches a credential's life, and the expiry it hands out follows the new wall clock. Set forward, fresh credentials look expired and are refused with a hint to check the clock.",
                    "Commands run for `cmd:` secrets and for identities (an exec command, a credential_process) run with `/bin/sh -c` under a deadline; when they fail, the agent reports their exit status and the first line of their standard error, never their standard output.",
                ]),
            ]),
        ],
        exitStatus: [
            Definition("0", style: .plain, "The agent stopped normally (idle, SIGTERM, `brokerctl stop`), or another agent already serves the socket, in which case it printed `running`."),
            Definition("1", style: .plain, "The agent could not start: one line on standard error (and, with `--spawned`, on standard output for the client)."),
            Definition("64", style: .plain, "Wrong usage: an unknown option or a bad DURATION."),
        ],
        environment: CatalogText.environment("BROKER_CONFIG", "BROKER_PROFILE", "BROKER_SOCKET_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR")
            + [Definition("Variables named by env: secrets", style: .plain, [
                "Read from the agent's own environment, inherited from the client that started it. See \"Whose environment\" above.",
            ])],
        files: CatalogText.files("socket", "config", "entries", "audit", "agentlog"),
        examples: [
            Example("Watch an agent at work, exiting after a minute of quiet:", "broker-agent --foreground --idle-timeout 1m"),
            Example("Make the agent see a variable you just exported (the next git command starts a new agent from this shell):",
                    "export GITHUB_TOKEN=...\nbrokerctl stop\ngit fetch"),
            Example("Read the log of an agent started on demand:", "tail -f ~/.local/state/credential-broker/agent.log"),
        ],
        seeAlso: ["brokerctl(1)", "git-credential-broker(1)", "credential-broker(5)"])
}
