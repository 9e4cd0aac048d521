// broker-env-wrap in words: --help, its man page and completions come from here.

extension CommandCatalog {
    static let brokerEnvWrap = CommandDescription(
        name: "broker-env-wrap",
        summary: "run a command with credentials from the credential-broker agent",
        synopsis: [
            "broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] [--nested] [--socket-dir DIR] [--] COMMAND [ARG...]",
            "broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] --print [--format bash|fish|dotenv|json|github]",
        ],
        description: [
            .paragraph("broker-env-wrap asks broker-agent(1) for an environment plan for the named identities, applies it to its own environment and then replaces itself with COMMAND (it calls `execve`, so the command keeps the wrap's pid, gets every signal sent to it and exits with its own status). Variables the plan does not name are passed through untouched. COMMAND is looked up on `PATH` the way a shell looks it up."),
            .paragraph("Every credential is obtained before the command starts: a failure (an unknown identity, an STS error, a missing MFA code) is one line on standard error and the command never runs."),
            .paragraph("When an identity needs a code from a person (an AWS user identity with `mfa-serial` and no session cached) and standard input and standard error are a terminal, it asks for the code there, hands it to the agent as `brokerctl login` would and goes on, as `aws-vault exec` does. Without a terminal it fails with `run: brokerctl login NAME`. git-credential-broker and aws-credential-process never ask."),
            .subheading("AWS identities"),
            .paragraph("An `aws/...` identity is delivered one of three ways, chosen with `--delivery`. Each first clears the variables that would outrank it in the SDKs' credential chain: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_SECURITY_TOKEN`, `AWS_CREDENTIAL_EXPIRATION`, `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, the `AWS_CONTAINER_*` variables, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME`. When the identity sets `region`, `AWS_REGION` and `AWS_DEFAULT_REGION` are set to it. A command gets at most one AWS identity."),
            .definitions([
                Definition("endpoint", style: .plain, [
                    "The default. The agent serves the container-credentials endpoint on 127.0.0.1 (an ephemeral port, opened the first time a wrap asks for it) and the wrap sets `AWS_CONTAINER_CREDENTIALS_FULL_URI` to it and `AWS_CONTAINER_AUTHORIZATION_TOKEN` to a random token of its own. The AWS CLI, boto3, terraform and the other SDKs fetch `{AccessKeyId, SecretAccessKey, Token, Expiration}` from it and come back before the expiry (botocore 15 minutes before, the Go SDK 5), so a run of any length never sees an expired key: the agent refreshes ahead and hands out at least `[aws] minimum-validity`.",
                    "The token is compared in constant time and dies when the wrapped command exits (the agent watches its pid); a wrong, missing or dead token gets 403 with a JSON error. `AWS_SHARED_CREDENTIALS_FILE` is set to `/dev/null`, since a `[default]` profile there would outrank the endpoint. A profile with credentials in `AWS_CONFIG_FILE`'s `[default]` still would: use `profile` delivery then.",
                ]),
                Definition("env", style: .plain, [
                    "`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_CREDENTIAL_EXPIRATION` (RFC 3339). The keys never refresh: a command that runs longer than they last fails. Any process that can read the command's environment can read them.",
                ]),
                Definition("profile", style: .plain, [
                    "A generated AWS config file (mode 0600, in the agent's private runtime directory) whose `[default]` profile runs aws-credential-process(1) (by absolute path, next to broker-env-wrap) with `--identity`; `AWS_CONFIG_FILE` names it and `AWS_SHARED_CREDENTIALS_FILE` is `/dev/null`. The SDKs refresh through it as usual. The agent removes the file when the command exits. Settings of your own AWS config file, other than credentials, are not seen by the command.",
                ]),
            ]),
            .subheading("git"),
            .paragraph("For each `[git \"URL\"]` binding of a wrapped identity, the wrap appends to `GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_n` and `GIT_CONFIG_VALUE_n` (after any entries already there): an empty `credential.URL.helper`, which clears helpers configured elsewhere for that URL, then `credential.URL.helper` naming git-credential-broker(1) by absolute path, and `credential.URL.useHttpPath = true` when the URL has a path. git in the command then asks the agent for those URLs; the token never enters the environment."),
            .subheading("Other tools"),
            .paragraph("An identity with `env = NAME` (see credential-broker(5)) sets the variable NAME to its secret, for tools that read a token only from the environment, such as `GITHUB_TOKEN`. Such a value does not refresh while the command runs."),
            .subheading("Nesting and the off switch"),
            .paragraph("The wrap sets `BROKER_ENV_WRAP` to its pid. Inside a wrapped command, a second broker-env-wrap refuses to run unless given `--nested`, since the inner plan would silently replace the outer one's credentials. With `BROKER_IDENTITY` set to `false`, `0`, `no` or `off`, the wrap runs COMMAND untouched, without asking the agent: a switch for scripts that call broker-env-wrap unconditionally."),
            .subheading("Printing the plan"),
            .paragraph("An `azure/...` identity is delivered as a managed identity (`endpoint`, the default): the loopback endpoint answers App Service's protocol at `IDENTITY_ENDPOINT` (`GET ?api-version=2019-08-01&resource=R`, the per-run secret in the `X-IDENTITY-HEADER` header the SDKs copy from `IDENTITY_HEADER`) with `{\"access_token\", \"expires_on\", \"resource\", \"token_type\"}`, for the identity's `resource` only; a wrong or missing header is refused. azure-identity's `DefaultAzureCredential` and `ManagedIdentityCredential` find it. With `--delivery file`, a federated identity (azure/oidc) instead gets a workload-identity token file: `AZURE_FEDERATED_TOKEN_FILE` (0600, in the agent's private runtime directory, rewritten before the token in it expires and removed when the command exits) with `AZURE_AUTHORITY_HOST`, and terraform's `ARM_USE_OIDC` and `ARM_OIDC_TOKEN_FILE_PATH`. `--delivery env` puts the federated token itself in `ARM_OIDC_TOKEN` (it does not refresh). Every form clears the variables that would outrank it (`AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_USERNAME`, `MSI_ENDPOINT`, `ARM_CLIENT_SECRET`, ...) and sets `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `ARM_TENANT_ID`, `ARM_CLIENT_ID`, and with an azure/subscription identity `AZURE_SUBSCRIPTION_ID`, `ARM_SUBSCRIPTION_ID` and `AZURE_DEFAULTS_LOCATION`. A command gets at most one Azure identity."),
            .paragraph("A Google Cloud identity (`gcp/...`) is delivered through an emulated GCE metadata server (`endpoint`, the default): `GCE_METADATA_HOST`, `GCE_METADATA_ROOT` and `GCE_METADATA_IP` name the loopback endpoint with the per-run secret as the first path segment, and it answers the paths google-auth, the Cloud client libraries and gcloud read (`instance/service-accounts/default/token`, `email`, `identity?audience=AUD` for an ID token, `project/project-id`, ...) to requests that send `Metadata-Flavor: Google`. Tokens refresh for as long as the command runs. With `--delivery file`, gcloud's `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE` (0600, in the agent's private runtime directory, rewritten when half the token's life is gone, removed when the command exits); `--delivery env` adds `GOOGLE_OAUTH_ACCESS_TOKEN` for terraform's google provider. That variable cannot be refreshed: a running process's environment is its own, so it holds the token of the moment the command started, good for an hour at most (the token's lifetime); a longer run needs the metadata server (`endpoint`)."),
            .paragraph("`--print` prints the changes instead of running a command, in the syntax `--format` names: `bash` (the default; `eval \"$(broker-env-wrap --print --identity NAME)\"`), `fish`, `dotenv` (unset variables appear as `# unset NAME` comments), `json` (`{\"set\": {NAME: VALUE}, \"unset\": [NAME]}`) or `github`, which appends to the file `$GITHUB_ENV` names (variables to unset are set empty) and prints `::add-mask::` for every secret. With `endpoint` delivery the token then lives as long as the wrap's parent process, the shell that evaluates the output; printed keys and tokens are secrets in that shell's environment."),
        ],
        options: [
            CommandOption("--identity", value: "NAME", completion: .identity,
                          "An identity to deliver, as named by an `[identity \"NAME\"]` section; repeat for more (default `BROKER_IDENTITY`)."),
            CommandOption("--delivery", value: "endpoint|env|profile|file", completion: .choices(["endpoint", "env", "profile", "file"]),
                          "How an AWS identity reaches the command: the loopback credentials endpoint (the default), static keys in the environment, or a generated AWS profile. An Azure identity: the managed-identity endpoint (the default), or `file`, a workload-identity token file (federated identities only). A Google Cloud identity: the metadata server (the default), `file` (gcloud's token file) or `env` (the token file and `GOOGLE_OAUTH_ACCESS_TOKEN`, which does not refresh while the command runs)."),
            CommandOption("--nested", "Run even inside another broker-env-wrap; this plan then replaces the outer one's variables."),
            CommandOption("--print", "Print the changes the plan makes instead of running a command."),
            CommandOption("--format", value: "bash|fish|dotenv|json|github", completion: .choices(EnvChanges.Format.allCases.map(\.rawValue)),
                          "The syntax of `--print`; default bash."),
            CatalogText.socketDirOption,
            .help,
        ],
        arguments: [
            CommandArgument("COMMAND", "The command to run, looked up on PATH; the first word that is not an option starts it, or the word after `--`."),
        ],
        exitStatus: [
            Definition("N", style: .plain, "Once the command runs, its own exit status (or its death by a signal): the wrap has become the command."),
            Definition("1", style: .plain, "The plan could not be made: one line on standard error naming the identity and the reason. The command did not run."),
            Definition("64", style: .plain, "Wrong usage: no identity, no command, or an unknown option."),
            Definition("126", style: .plain, "COMMAND was found but could not be executed."),
            Definition("127", style: .plain, "COMMAND was not found."),
        ],
        environment: [
            Definition("BROKER_IDENTITY", ["The identity to deliver when no `--identity` is given; `false`, `0`, `no` or `off` runs the command untouched."]),
            Definition("BROKER_ENV_WRAP", ["Set by the wrap to its pid; its presence makes a further wrap refuse to run without `--nested`."]),
            Definition("PATH", ["Where COMMAND is looked for."]),
            Definition("GITHUB_ENV", ["The file `--format github` appends to."]),
        ] + CatalogText.environment("BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_CONFIG", "BROKER_PROFILE", "BROKER_TRACE", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"),
        files: CatalogText.files("socket", "config", "audit", "agentlog"),
        examples: [
            Example("terraform with credentials that refresh for as long as it runs:", "broker-env-wrap --identity prod-admin -- terraform apply"),
            Example("A script that must see static keys:", "broker-env-wrap --identity ci-deploy --delivery env -- ./deploy.sh"),
            Example("A shell whose git and gh use the broker:", "broker-env-wrap --identity github-bot -- bash"),
            Example("Export into the current bash session:", "eval \"$(broker-env-wrap --identity dev --delivery env --print)\""),
            Example("In a GitHub Actions step:", "broker-env-wrap --identity ci-deploy --delivery env --print --format github"),
        ],
        seeAlso: ["broker-agent(1)", "aws-credential-process(1)", "git-credential-broker(1)", "brokerctl(1)", "credential-broker(5)"])
}
