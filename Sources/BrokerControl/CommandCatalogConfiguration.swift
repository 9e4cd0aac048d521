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
                ]),
            ]),
            ManualSection("DESCRIPTION", [
                .paragraph("The configuration says which identities exist, how each one obtains its credential, which git URLs use which identity, and how the agent behaves. broker-agent(1) reads it and rereads it whenever the file changes, so an edit needs no restart. `brokerctl validate` checks it and `brokerctl list` shows what it defines."),
                .paragraph("A missing default file is a valid, empty configuration: git-credential-broker(1) then behaves exactly like `git credential-cache`. A file named by `BROKER_CONFIG` must exist."),
                .paragraph("As ssh(1) does for its config, the file and every file it includes must be owned by you or root and not writable by group or others, and so must every directory above each of them up to your home directory (up to `/` for a file outside it); root-owned sticky directories such as /tmp are passed over. Otherwise every client, the agent and `brokerctl validate` refuse it with the fix, such as `config file FILE is writable by group or others (hint: chmod go-w FILE)`, at the include line for an included file."),
                .paragraph("Secrets are never written in the file. Every secret is a reference (`env:NAME`, `file:PATH` or `cmd:COMMAND`) that the agent follows when it needs the value; see SECRET REFERENCES. A value that is not a reference is refused, so a pasted token cannot end up in the file unnoticed."),
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
                        "Connections served at once; more wait in the socket's backlog. Default 128.",
                    ]),
                    Definition("request-timeout = DURATION", style: .synopsis, [
                        "How long a client may take to send its request before the agent hangs up. Default 10s.",
                    ]),
                    Definition("refresh-ahead = DURATION", style: .synopsis, [
                        "Refresh a cached credential in the background this long before it would fall below its minimum validity, so callers seldom wait for an upstream. Default 5m.",
                    ]),
                    Definition("command-timeout = DURATION", style: .synopsis, [
                        "The longest a `cmd:` secret or an `exec` identity's command may run when its identity sets no timeout of its own. Default 30s.",
                    ]),
                    Definition("rate-limits = BOOLEAN", style: .synopsis, [
                        "Limit how fast each caller may ask, with two token buckets per caller. Default true; `false` turns both off. A caller is one identity (or, for git's credential-cache requests, one `protocol://host`) asked for by one program — the executable that ran the adapter, past any `sh -c` — in one session (setsid(2)): a runaway loop in one CI job or terminal is refused while other jobs, terminals and programs carry on. Every request takes a token from the hit bucket; one the cache cannot answer takes a token from the upstream bucket too, just before the agent calls the upstream. A refused request is answered `rate limited: N requests/s for identity \"NAME\" from PROGRAM; try again in X s` and audited as `denied` with reason `rate limited`. Idle buckets are forgotten once full again; the agent holds at most 4096.",
                    ]),
                    Definition("upstream-rate = RATE", style: .synopsis, [
                        "Requests per caller that may go upstream (cache misses and refreshes a caller waits for), as `N/s`, `N/m` or `N/h`. Default 5/s.",
                    ]),
                    Definition("upstream-burst = N", style: .synopsis, [
                        "How many upstream requests a caller may make at once before upstream-rate applies. Default 10.",
                    ]),
                    Definition("hit-rate = RATE", style: .synopsis, [
                        "Requests per caller of any kind, cache hits included. Default 50/s.",
                    ]),
                    Definition("hit-burst = N", style: .synopsis, [
                        "How many requests a caller may make at once before hit-rate applies. Default 100.",
                    ]),
                ]),
            ]),
            ManualSection("[git]", [
                .paragraph("How git-credential-broker(1) treats git."),
                .definitions([
                    Definition("cache-timeout = DURATION", style: .synopsis, [
                        "How long credentials git approved for URLs bound to no identity stay in the agent's memory. Default 900s. The helper's `--timeout` overrides it.",
                    ]),
                    Definition("minimum-validity = DURATION", style: .synopsis, [
                        "Never hand git a token with less than this left; a cached token closer to its expiry is replaced first. Default 60s. `github/app` tokens keep at least 8 minutes whatever this says. When the upstream fails while replacing a token that still has 60 seconds or more, that token is served instead of the error (and the failure is audited).",
                    ]),
                ]),
            ]),
            ManualSection("[aws]", [
                .paragraph("How aws-credential-process(1) treats the AWS SDKs."),
                .definitions([
                    Definition("minimum-validity = DURATION", style: .synopsis, [
                        "Never hand out AWS credentials with less than this left; at least 15m, default 20m. botocore refreshes credentials 15 minutes before they expire and would otherwise run the credential process on every API call. The one exception is an upstream outage: when a refresh fails, a cached credential with at least 15 minutes left is served instead of the error (and the failure is audited); for 30 seconds after a failure callers get it at once while a background refresh retries.",
                    ]),
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
            ManualSection("[identity \"NAME\"]", [
                .paragraph("Defines an identity: a way to obtain a credential. NAME may hold letters, digits, `-`, `_`, `.` and `/`."),
                .definitions([
                    Definition("kind = KIND", style: .synopsis, ["Required: `static`, `exec`, `aws/user`, `aws/credentials`, `aws/assume-role`, `aws/web-identity`, `github/app` or `github/pat-pool`; see IDENTITY KINDS."]),
                    Definition("via = identity:NAME", style: .synopsis, [
                        "Obtain NAME's credential first and hand it to this identity as its input. Only kinds that take an upstream credential accept it.",
                    ]),
                ]),
                .subheading("Chains"),
                .paragraph("`via` makes chains of any depth: a token minted from a token minted from a static secret. A `via` that names an undefined identity, or a chain that comes back to itself (`a -> b -> a`), is rejected when the file is loaded, with the file, the line and the cycle spelled out. Cached credentials are keyed by the whole chain and by every setting that shapes the result, so an edited setting never serves an old token. (`via = provider:NAME` is reserved for provider kinds of a later version.)"),
            ]),
            ManualSection("IDENTITY KINDS", [
                .subheading("static"),
                .paragraph("A fixed user name and a long-lived secret, such as a personal access token or a service password. It takes no `via`. The secret is read from its reference when needed and held in memory only, never in the disk cache."),
                .definitions([
                    Definition("username = NAME", style: .synopsis, ["Required: the user name to present (for git, the HTTP user)."]),
                    Definition("secret = REFERENCE", style: .synopsis, ["Required: where the password or token is read from: `env:NAME`, `file:PATH` or `cmd:COMMAND`."]),
                    Definition("secret-timeout = DURATION", style: .synopsis, ["How long a `cmd:` secret may run; default `[agent] command-timeout`."]),
                    CatalogText.envKey,
                ]),
                .subheading("exec"),
                .paragraph("A command that mints a credential, optionally from an upstream one. It speaks git's credential grammar: with `via`, the command reads the upstream credential on standard input as `key=value` lines (`username=`, `password=` and, when it expires, `password_expiry_utc=`); without `via`, its standard input is empty. It prints `username=`, `password=` and optionally `password_expiry_utc=` (Unix seconds) lines on standard output and exits 0. A credential with an expiry is cached, in memory and on disk, until it nears that expiry; one without is kept in memory until the agent exits or `brokerctl logout`."),
                .definitions([
                    Definition("command = COMMAND", style: .synopsis, ["Required: run with `/bin/sh -c` in the agent's environment."]),
                    Definition("username = NAME", style: .synopsis, ["The user name to present when the command prints none."]),
                    Definition("timeout = DURATION", style: .synopsis, ["How long the command may run; default `[agent] command-timeout`. When it fails or times out, the error gives its exit status and the first line of its standard error."]),
                    CatalogText.envKey,
                ]),
                .code("""
                #!/bin/sh
                # an exec command: read the upstream credential, print a new one
                while IFS='=' read -r key value; do
                    [ "$key" = password ] && upstream=$value
                done
                token=$(mint-token --with "$upstream")
                echo username=x-access-token
                echo "password=$token"
                echo "password_expiry_utc=$(( $(date +%s) + 3600 ))"
                """),
            ]),
            ManualSection("AWS IDENTITY KINDS", [
                .paragraph("Every AWS kind also takes `region` (the STS signing region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, then us-east-1) and `sts-endpoint` (default `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`, then the region's endpoint in its partition: aws, aws-cn or aws-us-gov). Those variables are read from the agent's environment. The resolved endpoint is part of every cache key, so credentials from one endpoint are never served for another. `delivery` (`endpoint`, `env` or `profile`) chooses how broker-env-wrap(1) hands the identity's credentials to a command when its `--delivery` flag is not given; the default is `endpoint`."),
                .subheading("aws/user"),
                .paragraph("Long-lived IAM user keys, read when needed and held in memory only. With `get-session-token = true` or an `mfa-serial`, they are traded for a GetSessionToken session, which is cached until it nears expiry. The MFA code comes from `mfa-command`; without one, adapters never prompt: they fail with `run: brokerctl login NAME`, and brokerctl(1) prompts for the code and hands it to the agent."),
                .definitions([
                    Definition("access-key-id = ID", style: .synopsis, ["The access key id, as text or as a reference."]),
                    Definition("secret-access-key = REFERENCE", style: .synopsis, ["Where the secret key is read from: `env:NAME`, `file:PATH` or `cmd:COMMAND`."]),
                    Definition("session-token = REFERENCE", style: .synopsis, ["For keys that are already temporary."]),
                    Definition("profile = NAME", style: .synopsis, ["Read the keys from this profile of the shared credentials file instead (`credentials-file`, default `AWS_SHARED_CREDENTIALS_FILE`, then `~/.aws/credentials`; refused if group or others can read it)."]),
                    Definition("credentials-file = PATH", style: .synopsis, ["The shared credentials file for `profile`."]),
                    Definition("get-session-token = BOOL", style: .synopsis, ["Trade the keys for a session."]),
                    Definition("long-lived-keys = BOOL", style: .synopsis, ["Without a session (`get-session-token` or `mfa-serial`), the agent uses the keys only as the upstream of other identities, such as an `aws/assume-role`, and refuses to hand them to credential_process, the endpoint or the environment. `true` hands out the long-lived keys themselves, which never expire and so outlive any process that leaks them: less safe; prefer `get-session-token = true`."]),
                    Definition("session-duration = DURATION", style: .synopsis, ["GetSessionToken duration, 15m to 36h; default 12h."]),
                    Definition("mfa-serial = ARN", style: .synopsis, ["The MFA device; implies get-session-token."]),
                    Definition("mfa-command = COMMAND", style: .synopsis, ["Prints the current MFA code."]),
                ]),
                .subheading("aws/credentials"),
                .paragraph("An external `credential_process` as the source: the command is run, its Version 1 JSON validated, and its keys used as they are, until its `Expiration` (none means long-lived, kept in memory only). A crash, a non-zero exit, a timeout, output that is not JSON, a `Version` other than 1, missing keys and an unparseable or past `Expiration` each give their own error; its standard output is never quoted."),
                .definitions([
                    Definition("command = COMMAND", style: .synopsis, ["Required: the credential_process command line, run with `/bin/sh -c`."]),
                    Definition("timeout = DURATION", style: .synopsis, ["How long it may run; default 30s."]),
                ]),
                .subheading("aws/assume-role"),
                .paragraph("sts:AssumeRole with the credentials of the identity named by `via` (required): any AWS kind, including another role, to any depth. A role assumed from a role session is capped at one hour, as AWS requires."),
                .definitions([
                    Definition("role-arn = ARN", style: .synopsis, ["Required: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, checked when the file is loaded."]),
                    Definition("external-id = ID", style: .synopsis, ["The ExternalId the role's trust policy asks for."]),
                    Definition("session-name = NAME", style: .synopsis, ["RoleSessionName; default `broker-$USER`, sanitised."]),
                    Definition("duration = DURATION", style: .synopsis, ["Session length, 15m to 12h; default 1h."]),
                    Definition("source-identity = NAME", style: .synopsis, ["SourceIdentity stamped on the session."]),
                    Definition("tag = KEY=VALUE", style: .synopsis, ["A session tag; repeat the key for more."]),
                ]),
                .subheading("aws/web-identity"),
                .paragraph("sts:AssumeRoleWithWebIdentity with an OIDC token, for CI jobs that must never hold a long-lived key. Its credentials come from ambient material and are never written to the disk cache."),
                .definitions([
                    Definition("role-arn = ARN", style: .synopsis, ["Required: the role to assume."]),
                    Definition("token-file = PATH", style: .synopsis, ["The token file; default `AWS_WEB_IDENTITY_TOKEN_FILE`."]),
                    Definition("github-oidc = BOOL", style: .synopsis, ["Request the token from GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`, https only)."]),
                    Definition("audience = TEXT", style: .synopsis, ["The audience asked of GitHub; default sts.amazonaws.com."]),
                    Definition("session-name = NAME", style: .synopsis, ["RoleSessionName; default `broker-$USER`, sanitised."]),
                    Definition("duration = DURATION", style: .synopsis, ["Session length, 15m to 12h; default 1h."]),
                ]),
            ]),
            ManualSection("GITHUB IDENTITY KINDS", [
                .subheading("github/app"),
                .paragraph("Installation access tokens of a GitHub App. For each token the agent reads the app's private key from its reference, signs a JSON Web Token with it (RS256; issued 30 seconds in the past to allow for clock drift, valid 9 minutes, GitHub's limit being 10), and trades it for an installation token with `POST /app/installations/ID/access_tokens`. git presents the token as the password of `x-access-token`, with `password_expiry_utc` set to the token's expiry (one hour). A token is replaced once fewer than 8 minutes remain, or `[git] minimum-validity` if that is longer, so a clone or push never starts with a token about to lapse. The private key is never cached; the token is, in memory and on disk (0600), until it nears expiry, and `brokerctl logout` or a rejected push (git's erase) drops it. It takes no `via`."),
                .definitions([
                    Definition("app-id = ID", style: .synopsis, ["Required: the app's App ID (digits) or its Client ID (`Iv…`), both shown on the app's settings page."]),
                    Definition("installation-id = NUMBER", style: .synopsis, ["The installation to mint tokens for: the number at the end of the installation's settings URL. Set this or `owner`."]),
                    Definition("owner = NAME", style: .synopsis, ["The organization or user account the app is installed on. Its installation is looked up on each mint (`GET /orgs/NAME/installation`, then `/users/NAME/installation`)."]),
                    Definition("private-key = REFERENCE", style: .synopsis, ["Required: where the app's PEM private key is read from: `env:NAME`, `file:PATH` or `cmd:COMMAND`. Both `BEGIN RSA PRIVATE KEY` (what GitHub hands out) and `BEGIN PRIVATE KEY` are read; encrypted keys are not. Errors name the reference, never the key."]),
                    Definition("repositories = NAME", style: .synopsis, ["Narrow the token to these repositories of the installation's account, named without the owner. Repeat the key or separate names with commas; at most 500."]),
                    Definition("permissions = NAME=LEVEL", style: .synopsis, ["Narrow the token's permissions, such as `contents=read` or `pull_requests=write`; LEVEL is `read`, `write` or `admin`. Repeat the key or separate with commas. GitHub refuses a token that asks for more than the app was granted, and the error says so."]),
                    Definition("api-url = URL", style: .synopsis, ["The REST API; default `https://api.github.com`. For GitHub Enterprise Server, `https://HOST/api/v3`. Plain http is refused except to a loopback address, and redirects are not followed, since the requests carry the signed JWT."]),
                    Definition("username = NAME", style: .synopsis, ["The user name git presents; default `x-access-token`."]),
                    CatalogText.envKey,
                ]),
                .paragraph("A 401 from GitHub means it did not accept the JWT: check `app-id`, that `private-key` is a current key of that app, and this machine's clock. A 404 means the installation was not found: check `installation-id` or `owner` and that the app is installed there."),
                .code("""
                [identity "acme-app"]
                    kind = github/app
                    app-id = 123456
                    owner = acme
                    private-key = file:~/.config/credential-broker/acme-app.pem
                    repositories = tools, website
                    permissions = contents=write

                [git "https://github.com/acme"]
                    identity = acme-app
                """),
                .subheading("github/pat-pool"),
                .paragraph("A pool of personal access tokens (or any long-lived tokens) shared by concurrent jobs so that no two of them use the same token at once: each request leases one free token to the process tree that asked, and the same holder asking again gets the same token. It takes no `via`, and its tokens are never put in the credential cache."),
                .definitions([
                    Definition("tokens = REFERENCE", style: .synopsis, ["Where a list of tokens is read from, one per line: usually `file:PATH` (a 0600 file), or `cmd:COMMAND`. Blank lines and lines starting with `#` are ignored; a line with a space in it is refused. Repeatable."]),
                    Definition("token = REFERENCE", style: .synopsis, ["One token: `env:NAME`, `file:PATH` or `cmd:COMMAND`. Repeat the key for more. `tokens` and `token` may be mixed; at least one is required. The pool's order is the file's order, and the first free token is leased first. A token listed twice counts once."]),
                    Definition("username = NAME", style: .synopsis, ["The user name git presents; default `x-access-token`."]),
                    Definition("lease-ttl = DURATION", style: .synopsis, ["The longest a lease lasts when its holder does not exit first; default 1h. Set it longer than your longest job: after it, the token may be leased to another job. A holder asking again when less than `[git] minimum-validity` is left has its lease renewed."]),
                    Definition("quarantine = DURATION", style: .synopsis, ["How long a token that git reported as rejected stays out of the pool; default 1h."]),
                    CatalogText.envKey,
                ]),
                .paragraph("Who holds a lease. Under broker-env-wrap(1), the wrapped process holds it from the moment the wrap starts until it exits, whether the token reaches it through `env` or through git: git inside the job is given the job's token. When git runs git-credential-broker(1) outside a wrap, the holder is the git command itself: the outermost `git` process in the unbroken run of git programs (`git`, `git-remote-https`, any `git-*`) and shells (`sh`, `dash`, `bash`) directly above the helper, so a clone's token is released when the clone ends, not when the shell or CI runner that started it does. Any process that already holds a lease of the pool shares it with its descendants. Without git above the helper (run by hand or from a script), its parent process is the holder. Processes are named by pid and start time, so a recycled pid never inherits a lease. Holders are found and watched through /proc, so this kind works on Linux only for now."),
                .paragraph("A lease ends when its holder exits or `lease-ttl` passes. When git gets a 401 and erases the credential, the token it used is quarantined and its lease released; the next request leases another token (a wrapped job stays a holder and gets the new one). When every token is leased or quarantined, a request fails at once, before the wrapped command starts:"),
                .code("broker-env-wrap: identity \"ci\": pool \"ci\" exhausted: 3/3 leased (hint: …)"),
                .paragraph("Leases and quarantines are kept, by token fingerprint (the first 12 hex digits of the token's SHA-256) and never by value, in `$XDG_STATE_HOME/credential-broker/leases/`, one 0600 file per pool. A restarted agent keeps every lease whose holder is still the same running process, so a restart never hands one token to two live jobs. Lease and quarantine times run on the clock that counts time since boot, so setting the wall clock neither ends a lease early nor stretches it; after a reboot, whose holders are all gone, the pools start empty. Every lease, release, quarantine and refusal is an audit record naming the fingerprint and the holder."),
                .code("""
                [identity "ci"]
                    kind = github/pat-pool
                    tokens = file:~/.config/credential-broker/ci-tokens
                    lease-ttl = 2h
                    env = GH_TOKEN

                [git "https://github.com/acme"]
                    identity = ci
                """),
            ]),
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
                ]),
            ]),
            ManualSection("FILES", [
                .definitions([
                    Definition("$XDG_CONFIG_HOME/credential-broker/config", ["The configuration file."]),
                    Definition("$XDG_STATE_HOME/credential-broker/leases/", ["github/pat-pool leases and quarantines, one 0600 file per pool, by token fingerprint."]),
                ]),
            ]),
            ManualSection("SEE ALSO", [
                .paragraph("brokerctl(1), git-credential-broker(1), broker-agent(1), git-config(1), gitcredentials(7)"),
            ]),
        ])
}

extension CatalogText {
    /// The `env` key of `static` and `exec` identities, explained once for both.
    static let envKey = Definition("env = NAME", style: .synopsis, [
        "broker-env-wrap(1) sets the variable NAME to this identity's secret in the command it wraps, for tools that read a token only from the environment (`env = GITHUB_TOKEN`). Repeat the key to set several names. NAME is a letter or `_` followed by letters, digits and `_`. The value is fetched when the wrap starts and does not refresh while the command runs.",
    ])
}
