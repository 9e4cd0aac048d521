// aws-credential-process in words: --help, its man page and completions come from here.

extension CommandCatalog {
    static let awsCredentialProcess = CommandDescription(
        name: "aws-credential-process",
        summary: "credential_process for the AWS CLI and SDKs, backed by the credential-broker agent",
        synopsis: ["aws-credential-process [--identity NAME] [--socket-dir DIR]"],
        description: [
            .paragraph("aws-credential-process is what an AWS profile names as its `credential_process`. The AWS CLI, boto3, the Go SDK (terraform) and the other SDKs run it whenever they need credentials, and read the one JSON document it prints on standard output: `Version` 1, `AccessKeyId`, `SecretAccessKey`, `SessionToken` for temporary credentials and `Expiration` in RFC 3339 UTC (`2026-11-22T01:00:00Z`) when they expire."),
            .paragraph("It asks broker-agent(1) for the identity named by `--identity` (or `BROKER_IDENTITY`) and relays the answer. The agent resolves the identity's `via` chain (long-lived user keys, an external credential_process, a web-identity token, then any number of role assumptions), coalesces concurrent requests into one upstream call per hop, caches the results and refreshes them ahead of expiry."),
            .subheading("At least 20 minutes"),
            .paragraph("botocore refreshes credentials 15 minutes before they expire and would otherwise run this program on every API call; the agent therefore never hands out credentials with less than `[aws] minimum-validity` (default 20 minutes) left, and refreshes earlier in the background."),
            .subheading("Never prompting"),
            .paragraph("It never reads the terminal. When an identity needs an MFA code and no `mfa-command` is configured, it fails with one line telling you to run `brokerctl login NAME`, which prompts and hands the code to the agent. On any failure it prints one line on standard error, nothing on standard output, and exits 1; botocore shows that line inside its own error message."),
        ],
        options: [
            CommandOption("--identity", value: "NAME", completion: .identityFor(.aws),
                          "The identity to hand out, as named by an `[identity \"NAME\"]` section (default `BROKER_IDENTITY`)."),
            CatalogText.socketDirOption,
            .help,
        ],
        exitStatus: [
            Definition("0", style: .plain, "The JSON document was printed."),
            Definition("1", style: .plain, "Failure: one line on standard error naming the identity and the reason (an STS error code and its hint, a missing MFA code, an unknown identity), nothing on standard output."),
            Definition("64", style: .plain, "Wrong usage: no identity, or an unknown argument."),
        ],
        environment: [Definition("BROKER_IDENTITY", ["The identity to hand out when `--identity` is not given."])] + CatalogText.environment("BROKER_TRACE")
            + CatalogText.environment("BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_CONFIG", "BROKER_PROFILE", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"),
        files: CatalogText.files("socket", "config", "entries", "agentlog"),
        examples: [
            Example("A profile in `~/.aws/config` (use the absolute path: botocore runs it without a shell):",
                    "[profile prod]\ncredential_process = /home/me/.local/bin/aws-credential-process --identity prod-admin"),
            Example("Then:", "aws --profile prod sts get-caller-identity"),
            Example("Print the document by hand:", "aws-credential-process --identity prod-admin"),
        ],
        seeAlso: ["broker-agent(1)", "brokerctl(1)", "credential-broker(5)", "aws(1)"])
}
