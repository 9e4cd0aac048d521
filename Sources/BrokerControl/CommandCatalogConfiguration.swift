// credential-broker(5): the configuration file, described once for the man page.

import BrokerFrontends

extension CommandCatalog {
    static let configurationManual = ManualPage(
        name: "credential-broker",
        section: 5,
        summary: "configuration of credential-broker's identities, git bindings and agent",
        sections: [
            ManualSection("SYNOPSIS", [
                .definitions([
                    Definition("$XDG_CONFIG_HOME/credential-broker/config", ["The default location: `~/.config/credential-broker/config` when XDG_CONFIG_HOME is unset."]),
                    Definition("BROKER_CONFIG=FILE", ["Names another file; `brokerctl --config FILE` does the same for one command."]),
                    Definition("config.d/NAME", ["Profile NAME's overlay, beside the configuration file, read after it when `BROKER_PROFILE=NAME` (or `brokerctl --profile NAME`) selects it; see PROFILES."]),
                ]),
            ]),
            ManualSection("DESCRIPTION", [
                .paragraph("The configuration says which identities exist, how each one obtains its credential, which git URLs use which identity, and how the agent behaves. broker-agent(1) reads it and rereads it whenever the file changes, so an edit needs no restart. `brokerctl validate` checks it and `brokerctl list` shows what it defines."),
                .paragraph("A missing default file is a valid, empty configuration: git-credential-broker(1) then behaves exactly like `git credential-cache`. A file named by `BROKER_CONFIG` must exist."),
                .paragraph("Each configuration file has its own agent, so a request made under one file is never answered from another: the default file's agent listens on `agent.sock`, and the agent of a file named by `BROKER_CONFIG` (or `brokerctl --config`) on `agent-KEY.sock` beside it, KEY being a hash of the file's canonical path. `brokerctl status` names the file its agent serves. See broker-agent(1)."),
                .paragraph("A file with errors is reported whole by `brokerctl validate`, every error with its file:line. While it is broken, git URLs bound to no identity keep working as with `git credential-cache` (store, get and erase, with the error shown as a warning), and a request for a bound URL, or for any identity, fails with the first error. This holds as long as every `[git \"URL\"]` section could be read; a syntax error, or a git section whose URL or keys are wrong, could hide a binding, so then every git request fails with the error."),
                .paragraph("As ssh(1) does for its config, the file and every file it includes must be owned by you or root and not writable by group or others, and so must every directory above each of them up to your home directory (up to `/` for a file outside it); root-owned sticky directories such as /tmp are passed over. Otherwise every client, the agent and `brokerctl validate` refuse it with the fix, such as `config file FILE is writable by group or others (hint: chmod go-w FILE)`, at the include line for an included file."),
                .paragraph("Secrets are never written in the file. Every secret is a reference (`env:NAME`, `file:PATH`, `cmd:COMMAND`, `aws-secretsmanager:NAME` or `aws-ssm:NAME`) that the agent follows when it needs the value; see SECRET REFERENCES. A value that is not a reference is refused, so a pasted token cannot end up in the file unnoticed."),
                .code("""
                # ~/.config/credential-broker/config
                [agent]
                    idle-timeout = 30m

                [identity "github-pat"]
                    kind = static
                    username = x-access-token
                    secret = file:~/.config/credential-broker/github-pat

                [identity "acme-bot"]
                    kind = exec
                    via = identity:github-pat
                    command = ~/bin/mint-acme-token

                [git "https://github.com"]
                    identity = github-pat
                [git "https://github.com/acme"]
                    identity = acme-bot
                """),
            ]),
            ManualSection("SYNTAX", [
                .paragraph("The file uses the syntax of git-config(1), so what you know from `~/.gitconfig` applies."),
                .definitions([
                    Definition("Sections", style: .plain, [
                        "`[name]`, or `[name \"subsection\"]` with a quoted subsection. Section and key names are case-insensitive and made of letters, digits and `-`. Subsections are case-sensitive and may hold anything but a newline; inside the quotes write `\\\"` for a double quote and `\\\\` for a backslash. git's older form `[name.subsection]` is accepted and, as in git, lower-cased whole.",
                    ]),
                    Definition("Keys", style: .plain, [
                        "`key = value` lines under a section. Space around the value is dropped. A key written alone, with no `=`, means true.",
                    ]),
                    Definition("Comments", style: .plain, [
                        "`#` or `;` starts a comment that runs to the end of the line, also after a value, unless it is inside double quotes.",
                    ]),
                    Definition("Quoting and escapes", style: .plain, [
                        "Double quotes keep spaces at the ends of a value and make `#` and `;` literal. The escapes `\\\"`, `\\\\`, `\\n` (newline), `\\t` (tab) and `\\b` (backspace) work inside and outside quotes; any other escape is an error. A backslash at the end of a line continues the value on the next line.",
                    ]),
                    Definition("Repeated keys", style: .plain, [
                        "A key may appear more than once. For a setting that takes one value the last one wins, as in git.",
                    ]),
                    Definition("Booleans", style: .plain, [
                        "`true`, `yes`, `on` and `1`, or `false`, `no`, `off` and `0`, in any case. A bare key is true; an empty value is false.",
                    ]),
                    Definition("Durations", style: .plain, [
                        "A number of seconds (`90`), or numbers with the units `s`, `m`, `h` and `d`, largest first: `90s`, `15m`, `1h`, `1h30m`, `2d`.",
                    ]),
                    Definition("Includes", style: .plain, [
                        "`[include] path = FILE` reads FILE at that point, as if its lines were written there. A relative path is relative to the directory of the file that includes it, and `~/` is your home directory. Includes nest up to 10 deep; a missing file or an include cycle is an error at the include line.",
                    ]),
                ]),
                .paragraph("Every error names the file and line, and where it can, the fix:"),
                .code("~/.config/credential-broker/config:12: unknown key \"comand\" in [identity \"acme-bot\"] (kind exec) (hint: did you mean \"command\"?)"),
            ]),
            ManualSection("[agent]", [
                .paragraph("How the agent behaves. Every key is optional."),
                .definitions([
                    Definition("idle-timeout = DURATION", style: .synopsis, [
                        "Exit after this long without a request, once no git credential-cache entries are held. Default 15m. `broker-agent --idle-timeout` overrides it.",
                    ]),
                    Definition("max-connections = N", style: .synopsis, [
                        "Requests that must wait (for an upstream, a command or a lease) served at once, each on a thread of its own; past it the agent answers that it is busy. Cache hits are answered by the agent's poll loop and do not count. Default 128.",
                    ]),
                    Definition("request-timeout = DURATION", style: .synopsis, [
                        "How long a client may take to send its request before the agent hangs up. Default 10s.",
                    ]),
                    Definition("refresh-ahead = DURATION", style: .synopsis, [
                        "Refresh a cached credential in the background this long before it would fall below its minimum validity, so callers seldom wait for an upstream. Default 5m.",
                    ]),
                    Definition("command-timeout = DURATION", style: .synopsis, [
                        "The longest a `cmd:` secret or an identity's command may run when its identity sets no timeout of its own. Default 30s.",
                    ]),
                    Definition("rate-limits = BOOLEAN", style: .synopsis, [
                        "Protect upstreams from a runaway caller. Default true; `false` turns the limit off. Requests the agent can answer without an upstream — cached credentials, git's credential-cache entries, pool leases — are never refused or slowed, whatever their number. A request that must go upstream (a cache miss, or a refresh the caller waits for) takes a token from its caller's upstream bucket; a caller with none left waits for the next token, up to upstream-wait, and only a caller that would wait longer is answered `rate limited: N requests/s for identity \"NAME\" from PROGRAM; try again in X s` (audited as `denied`, reason `rate limited`). A caller is one identity asked for by one program — the executable that ran the adapter, past any `sh -c` — in one session (setsid(2)), so a runaway loop in one CI job or terminal is held back while other jobs carry on. Idle buckets are forgotten once full again; the agent holds at most 4096.",
                    ]),
                    Definition("upstream-rate = RATE", style: .synopsis, [
                        "Requests per caller that may go upstream, as `N/s`, `N/m` or `N/h`. Default 5/s.",
                    ]),
                    Definition("upstream-burst = N", style: .synopsis, [
                        "How many upstream requests a caller may make at once before upstream-rate applies. Default 10.",
                    ]),
                    Definition("upstream-wait = DURATION", style: .synopsis, [
                        "The longest a caller over upstream-rate waits for its next token before it is refused. Default 5s (the adapters give up on the agent after 10s).",
                    ]),
                    Definition("hit-rate = RATE", style: .synopsis, [
                        "Accepted for older configurations and ignored: cache hits are never refused.",
                    ]),
                    Definition("hit-burst = N", style: .synopsis, [
                        "Accepted for older configurations and ignored.",
                    ]),
                ]),
            ]),
            ManualSection("[git]", [
                .paragraph("How git-credential-broker(1) treats git."),
                .definitions([
                    Definition("cache-timeout = DURATION", style: .synopsis, [
                        "How long credentials git approved for URLs bound to no identity stay in the agent's memory. Default 900s. The helper's `--timeout` overrides it. Not used with `store = keyring`.",
                    ]),
                    Definition("store = memory|keyring", style: .synopsis, [
                        "Where credentials git approved for URLs bound to no identity are kept. `memory` (the default) keeps them in the agent for cache-timeout, as `git credential-cache` does; they are gone when the agent exits. `keyring` also keeps them in the [keyring] backend, as one secret named `git-credentials`, until git erases them (as git-credential-libsecret and osxkeychain do): they survive agent restarts and the cache timeout does not apply. The agent holds a decrypted copy while the keyring is unlocked and forgets it on `brokerctl lock`. While the keyring cannot be read or written (a locked file keyring, no D-Bus session) what git approves is kept in memory, with a warning, and written once it can be. `brokerctl logout` without an identity forgets them in the keyring too.",
                    ]),
                    Definition("minimum-validity = DURATION", style: .synopsis, [
                        "Never hand git a token with less than this left; a cached token closer to its expiry is replaced first. Default 60s. Kinds that need more keep their own minimum whatever this says (see IDENTITY KINDS). When the upstream fails while replacing a token that still has 60 seconds or more, that token is served instead of the error (and the failure is audited).",
                    ]),
                ]),
            ]),
            ManualSection("[aws]", [
                .paragraph("How aws-credential-process(1) treats the AWS SDKs."),
                .definitions([
                    Definition("minimum-validity = DURATION", style: .synopsis, [
                        "Never hand out AWS credentials with less than this left; at least 15m, default 20m. botocore refreshes credentials 15 minutes before they expire and would otherwise run the credential process on every API call. The one exception is an upstream outage: when a refresh fails, a cached credential with at least 15 minutes left is served instead of the error (and the failure is audited); for 30 seconds after a failure callers get it at once while a background refresh retries.",
                    ]),
                    Definition("console-session-duration = DURATION", style: .synopsis, [
                        "How long a console session made by `brokerctl console` lasts, 15m to 12h; default 1h. AWS ignores it for credentials from GetFederationToken, whose own duration applies.",
                    ]),
                    Definition("signin-endpoint = URL", style: .synopsis, [
                        "The AWS sign-in federation endpoint `brokerctl console` asks for a SigninToken; default `https://signin.aws.amazon.com/federation`.",
                    ]),
                ]),
            ]),
            ManualSection("[audit]", [
                .paragraph("How far the audit log, `$XDG_STATE_HOME/credential-broker/audit.log`, may grow. When a record would take it past max-size, the agent renames it to `audit.log.1` (an older `audit.log.1` becomes `audit.log.2`, and so on; the oldest beyond keep is deleted) and starts a new file of mode 0600. A record is never split between two files. `brokerctl audit` reads the rotated files too, oldest first."),
                .definitions([
                    Definition("max-size = SIZE", style: .synopsis, [
                        "The largest the live audit log grows, in bytes, optionally followed by `k`, `m` or `g` (×1024). Default 10m.",
                    ]),
                    Definition("keep = N", style: .synopsis, [
                        "How many rotated files to keep, `audit.log.1` (newest) to `audit.log.N`. Default 5.",
                    ]),
                    Definition("syslog = BOOL", style: .synopsis, [
                        "Also send every record to the local syslog socket, so a fleet's log pipeline (rsyslog, journald, a forwarding agent) collects it. Default false. Each record is one RFC 5424 message, facility `authpriv`, severity `info` (`notice` for an `error` outcome), app name `credential-broker`, message id `audit`, whose text is the same JSON object the file holds: names, pids, reasons, never a secret. The file is written first and stays the record of truth; a missing or full syslog socket is reported once in the agent's log and by `brokerctl status`, and never fails a request.",
                    ]),
                    Definition("syslog-socket = PATH", style: .synopsis, [
                        "The syslog datagram socket. Default `/dev/log`.",
                    ]),
                ]),
            ]),
            ManualSection("[keyring]", [
                .paragraph("Where `keyring:NAME` secrets live, and what `brokerctl secret` reads and writes. The agent keeps a secret it read in memory until it changes, `brokerctl lock` runs, or the unlock times out; nothing decrypted is written to the cache directory or the audit log."),
                .definitions([
                    Definition("backend = system|file|memory", style: .synopsis, [
                        "`system`: the freedesktop Secret Service (GNOME Keyring, KWallet's bridge, KeePassXC) through `secret-tool` on Linux, the login Keychain on macOS; items are `service=credential-broker account=NAME`, and a secret travels only on `secret-tool`'s standard input and output. A locked collection or a missing D-Bus session is an error that names the fix. `file`: one age v1 file per secret, encrypted to a passphrase, under `directory`; `age -d FILE` recovers one, and a file written by `age -p` may be put there as `NAME.age`. `memory`: held by the running agent only, gone when it exits (for CI). `BROKER_KEYRING_BACKEND` overrides this; without either, `system` where one answers, else `file`.",
                    ]),
                    Definition("directory = PATH", style: .synopsis, ["The file backend's directory, created with mode 0700. Default `$XDG_DATA_HOME/credential-broker/keyring` (`~/.local/share/…`)."]),
                    Definition("passphrase = REFERENCE", style: .synopsis, [
                        "Where the file backend's passphrase comes from when `brokerctl unlock` was not run: a secret reference, usually `cmd:` (a password manager). `BROKER_KEYRING_PASSWORD` in the agent's environment is read before it, and is less safe. The adapters never ask for a passphrase.",
                    ]),
                    Definition("unlock-timeout = DURATION", style: .synopsis, ["How long after its last use a passphrase given to `brokerctl unlock` is kept. Default 15m."]),
                    Definition("work-factor = N", style: .synopsis, ["log2 of scrypt's N for files the broker writes, 1 to 20. Default 18, as `age -p` writes; reading accepts up to 20."]),
                ]),
            ]),
            ManualSection("[git \"<url>\"]", [
                .paragraph("Binds the git URLs that match `<url>` to an identity: git-credential-broker(1) answers them with that identity's credential instead of from its cache."),
                .definitions([
                    Definition("identity = NAME", style: .synopsis, ["The identity to use. It must be defined in the configuration."]),
                ]),
                .subheading("How URLs are matched"),
                .paragraph("`<url>` is `scheme://host[:port][/path]`, without a user name. A request from git matches when all of these hold:"),
                .bullets([
                    "The scheme is the same (`https` matches only `https`).",
                    "The host is the same, ignoring case; or the rule's host starts with `*.`, which stands for exactly one non-empty first label: `*.example.com` matches `git.example.com`, but not `example.com`, `.example.com` or `a.b.example.com`. A rule's host must be a DNS name or an IP address (IPv6 in brackets), with an optional port; anything else, such as quotes, spaces or `;`, is refused when the file is loaded.",
                    "The port is the same. A rule without a port means the scheme's default port (443 for https, 80 for http), so `https://git.example.com` does not match `https://git.example.com:8443`.",
                    "The rule's path, if it has one, is a prefix of the request's path on segment boundaries: `https://github.com/acme` matches `acme/tools.git` and `acme/tools/sub`, but not `acme-corp/tools`. A trailing `.git` is ignored when the rule names the repository itself.",
                    "Paths are compared as the server resolves them: the request's path is split at `/`, each segment is percent-decoded, then `.` segments are dropped and `..` removes the segment before it. So `acme/../evil/repo.git` and `acme/%2e%2e/evil/repo.git` are evil's paths, not acme's, and `acme%2fevil` is one segment, not a path under `acme`. A path whose `..` climbs above the root matches no path-bound rule. A rule's own path may not hold `.` or `..` segments.",
                ]),
                .paragraph("When several rules match, the most specific wins: the one with more path segments, then an exact host over a `*.` wildcard, then an explicit port over a default one. A URL that no rule matches is handled like `git credential-cache` would."),
                .subheading("Path-bound rules need git to send the path"),
                .paragraph("git sends the path of an http or https URL only when `credential.<url>.useHttpPath` is true for it. Without a path, a rule with a path cannot match: the request falls back to a host-wide rule or to the cache, and the helper prints a warning on standard error with the `git config` command to run. `brokerctl git-setup --global` writes `credential.<scheme>://<host>.useHttpPath true` for the host of every path-bound rule, and `brokerctl git-setup --print` shows it. With useHttpPath on, git also keeps other helpers' credentials for that host per repository."),
            ]),
            ManualSection("[registry \"HOST[:PORT]\"]", [
                .paragraph("Binds a container registry to an identity: docker-credential-broker(1) answers it with that identity's credential (a user name and password, such as an ECR login or a GitHub App token) instead of from its memory store."),
                .definitions([
                    Definition("identity = NAME", style: .synopsis, ["The identity to use. It must be defined in the configuration."]),
                ]),
                .paragraph("HOST[:PORT] is a registry as docker names it, without a scheme or path, compared without regard to case with the server URL the client sends after docker's normalisation (scheme and path dropped, port kept). `*` stands for any run of characters within one DNS label: `*.dkr.ecr.*.amazonaws.com` matches every ECR registry, `*.example.com` matches `r.example.com` but not `a.r.example.com`. A pattern with a port matches that port only. When several patterns match, an exact one wins, then the one with more literal characters."),
            ]),
            ManualSection("[identity \"NAME\"]", [
                .paragraph("Defines an identity: a way to obtain a credential. NAME may hold letters, digits, `-`, `_`, `.` and `/`."),
                .definitions([
                    Definition("kind = KIND", style: .synopsis, ["Required: " + KindManual.kindList + "; see IDENTITY KINDS."]),
                    Definition("via = identity:NAME", style: .synopsis, [
                        "Obtain NAME's credential first and hand it to this identity as its input. Only kinds that take an upstream credential accept it.",
                    ]),
                    Definition("default = BOOL", style: .synopsis, [
                        "`true` makes this the identity `brokerctl whoami` and `brokerctl explain` mean when none is named and `BROKER_IDENTITY` is unset. At most one identity may be the default; a second is an error at its line.",
                    ]),
                ]),
                .subheading("Chains"),
                .paragraph("`via` makes chains of any depth: a token minted from a token minted from a static secret. A `via` that names an undefined identity, or a chain that comes back to itself (`a -> b -> a`), is rejected when the file is loaded, with the file, the line and the cycle spelled out. Cached credentials are keyed by the whole chain and by every setting that shapes the result, so an edited setting never serves an old token. `via = provider:NAME` starts a chain from a `[provider \"NAME\"]` section instead, a person's login session with an identity service (see PROVIDER KINDS); only kinds made for a provider take one."),
            ]),
        ] + KindManual.sections + [
            ManualSection("SECRET REFERENCES", [
                .paragraph("Wherever a secret is expected, the value names where to read it. Inline secrets are refused."),
                .definitions([
                    Definition("env:NAME", [
                        "The variable NAME in the agent's environment. The agent inherits its environment from whichever client started it (usually git-credential-broker, through git, from the shell that ran git), not from the program asking now. A variable missing there is a loud error telling you to export it and run `brokerctl stop`, so that the next request starts an agent that has it.",
                    ]),
                    Definition("file:PATH", [
                        "The contents of PATH, without trailing newlines; `~/` is your home directory, and a relative PATH is relative to the directory of the file the reference is written in (not to the directory of whichever program started the agent). A file that group or others can read is refused: run `chmod 600 PATH`.",
                    ]),
                    Definition("cmd:COMMAND", [
                        "The standard output of `/bin/sh -c COMMAND`, without trailing newlines, run under `[agent] command-timeout` (or the identity's own timeout) with the directory of the file the reference is written in as its working directory, so relative paths in COMMAND mean the same whichever program started the agent. When it fails, the error reports its exit status and the first line of its standard error, never its standard output, which may hold part of a secret. Use it for password managers and keyrings, such as `cmd:secret-tool lookup service github`.",
                    ]),
                    Definition("keyring:NAME", [
                        "The secret NAME in the agent's keyring (see [keyring]), stored with `brokerctl secret set NAME`. While the file keyring is locked, a request that needs it fails with a hint to run `brokerctl unlock`.",
                    ]),
                    Definition("aws-secretsmanager:NAME-OR-ARN[#KEY][?OPTIONS]", [
                        "The string value of a secret in AWS Secrets Manager (GetSecretValue), read by the agent with the credentials of an AWS identity: `[secrets] aws-identity`, or the one named by the option `identity=NAME`. With `#KEY` the value must be a JSON object and its string member KEY is used. Options, joined by `&`: `version-stage=STAGE` (default AWSCURRENT), `region=REGION` (an ARN's own region wins), `identity=NAME`. Write the whole reference in double quotes when it holds `#` or `;`, which otherwise start a comment. The endpoint is `AWS_ENDPOINT_URL_SECRETS_MANAGER`, then `AWS_ENDPOINT_URL`, then the region's own, as the AWS SDKs do.",
                        "The value is kept in the agent's memory only (never in the disk cache) and read again after `[secrets] ttl`; a credential built from it (a static token, a GitHub App's key) is rebuilt then too, so a rotation reaches every host within the TTL. When the re-read fails, the value read before keeps serving until it succeeds. Errors name the reference, the service's error code and, for a missing `#KEY`, the members the object has — never a value.",
                    ]),
                    Definition("aws-ssm:/PATH/NAME[#KEY][?OPTIONS]", [
                        "The value of a Systems Manager Parameter Store parameter (GetParameter with decryption, so SecureString parameters work), read and kept exactly as `aws-secretsmanager:`. Options: `region=REGION`, `identity=NAME`. The endpoint is `AWS_ENDPOINT_URL_SSM`, then `AWS_ENDPOINT_URL`.",
                        "The identity that reads remote secrets must give AWS credentials and must not need a remote secret anywhere along its own chain; both are checked when the file is loaded. Its IAM policy needs `secretsmanager:GetSecretValue` or `ssm:GetParameter` (and `kms:Decrypt` for a customer-managed key) on the secrets it reads.",
                    ]),
                ]),
            ]),
            ManualSection("[ambient]", [
                .paragraph("Ambient brokers turn what a CI job's environment already holds into identities, so a job needs no configuration file to use them, and a configuration can chain from them. Each broker looks at environment variables only (no network, no files) and adds identities and git bindings that the file does not define itself: the file always wins. The sections they add are validated like the file's; a broker whose sections do not fit is skipped, written to the audit log as an `ambient` error and shown by `brokerctl status`, and every other identity keeps working. `brokerctl status` lists the identities they added."),
                .paragraph("They read the agent's environment, which is the environment of the adapter that started the agent (in CI: the first git, aws or broker-env-wrap call of the job). A client finds its agent by configuration file and profile, never by environment, so an adapter started later with other variables (another job's `ACTIONS_ID_TOKEN_REQUEST_TOKEN` or `GITHUB_TOKEN`, another `AWS_ROLE_ARN`) reaches the agent already running and is answered from the first adapter's variables: its own are not read. An agent started elsewhere (by a login shell on a self-hosted runner) does not see a job's variables at all."),
                .paragraph("So keep one agent per set of ambient variables: start it inside the job (any adapter call does) and end it with the job (`brokerctl stop` as the job's last step, or an `XDG_RUNTIME_DIR` or `BROKER_SOCKET_DIR` of the job's own), and give jobs that run side by side on one machine a profile each (`BROKER_PROFILE`, see PROFILES) or a socket directory each: separate agents, caches and audit logs, so no job is answered with another job's token."),
                .definitions([
                    Definition("enabled = auto|true|false", style: .synopsis, ["`auto` (the default) consults the brokers only when `CI` is `true` or `1`, as GitHub Actions, GitLab CI, CircleCI, Buildkite and others set it; `true` consults them anywhere; `false` never."]),
                    Definition("github-actions = auto|true|false", style: .synopsis, [
                        "When `GITHUB_ACTIONS=true`: `gha-oidc` (kind github/oidc) when the job may request an ID token (`ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`, from `permissions: id-token: write`); `gha-aws` (kind aws/web-identity with that token, audience sts.amazonaws.com) when `AWS_ROLE_ARN` is set; and `gha-token` (kind static, user `x-access-token`, secret `env:GITHUB_TOKEN`) bound to `GITHUB_SERVER_URL` (default https://github.com) when `GITHUB_TOKEN` is set. `true` or `false` overrides `enabled` for this broker.",
                    ]),
                    Definition("aws-keys = auto|true|false", style: .synopsis, [
                        "When `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are set: `ci-aws` (kind aws/user reading them, and `AWS_SESSION_TOKEN`, with `env:` references — their values never enter the configuration), so chains start from the runner's own keys with `via = identity:ci-aws`.",
                    ]),
                ]),
            ]),
            ManualSection("[secrets]", [
                .paragraph("How the agent reads `aws-secretsmanager:` and `aws-ssm:` references (SECRET REFERENCES): a team keeps a GitHub App key, a PAT or a service password there once, and every machine's agent reads it through its own short-lived role."),
                .definitions([
                    Definition("aws-identity = NAME", style: .synopsis, ["The AWS identity whose credentials read remote secrets, unless a reference names its own with `?identity=NAME`."]),
                    Definition("ttl = DURATION", style: .synopsis, ["How long a value read is used before it is read again. Default 5m."]),
                    Definition("region = REGION", style: .synopsis, ["The region of references that name none (default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then us-east-1)."]),
                ]),
            ]),
            ManualSection("PROFILES", [
                .paragraph("Profiles are several configurations on one machine that must never share a token: a consultant's two clients, two CI jobs on one runner. Profile NAME is the file `config.d/NAME` beside the configuration file (`~/.config/credential-broker/config.d/NAME` for the default one), exactly that name with no extension; `BROKER_PROFILE=NAME` selects it for every program (the adapters, broker-env-wrap and brokerctl), and `brokerctl --profile NAME` for one command. `brokerctl list --profiles` lists them."),
                .paragraph("An overlay adds to the configuration file: it is read after the file, as an `[include]` at the file's end would be, so it can use the file's identities and providers (in `via` chains and bindings), a key it sets again in a section the file has wins (git's last-one-wins rule, e.g. `[agent] idle-timeout`), and a section it names again continues the file's (so define a profile's own identities under names the file does not use). The main file may be missing; the overlay then stands alone. `[include]` works in it as in the file. `[profile \"NAME\"]` sections in the main file are not supported: an overlay is a file of its own, so a client's identities can be kept, copied and removed whole."),
                .paragraph("A selected profile has its own agent (socket `agent-KEY.sock`, KEY a hash of the overlay's canonical path), its own disk cache (`$XDG_CACHE_HOME/credential-broker/profiles/NAME/entries/`) and its own audit log, agent log and leases (`$XDG_STATE_HOME/credential-broker/profiles/NAME/`). A credential cached under one profile is never served under another or without a profile, even for an identity both read from the main file; each fetches its own. Ambient brokers (see [ambient]) read the environment of the adapter that starts that profile's agent."),
                .paragraph("A profile name is letters, digits, `.`, `_` and `-`, not starting with `.`, at most 64 characters: `a/b` and `..` are refused before any file is opened. A profile that does not exist is an error naming the profiles that do, from every program."),
                .code("""
                # ~/.config/credential-broker/config.d/acme
                [identity "acme-aws"]
                    kind = aws/assume-role
                    via = identity:me
                    role-arn = arn:aws:iam::111111111111:role/contractor

                # BROKER_PROFILE=acme aws --profile acme-aws s3 ls
                """),
            ]),
            ManualSection("FILES", [
                .definitions([
                    Definition("$XDG_CONFIG_HOME/credential-broker/config", ["The configuration file."]),
                    Definition("$XDG_CONFIG_HOME/credential-broker/config.d/NAME", ["Profile NAME's overlay (PROFILES)."]),
                    Definition("$XDG_STATE_HOME/credential-broker/profiles/NAME/", ["Profile NAME's audit log, agent log and leases; its cache is under `$XDG_CACHE_HOME/credential-broker/profiles/NAME/`."]),
                    Definition("$XDG_STATE_HOME/credential-broker/leases/", ["github/pat-pool leases and quarantines, one 0600 file per pool, by token fingerprint."]),
                ]),
            ]),
            ManualSection("SEE ALSO", [
                .paragraph("brokerctl(1), git-credential-broker(1), broker-agent(1), git-config(1), gitcredentials(7)"),
            ]),
        ])
}
