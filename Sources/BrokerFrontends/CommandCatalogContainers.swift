// docker-credential-broker and kube-credential-broker in words: --help, their man pages and completions come from here.

extension CommandCatalog {
    static let dockerCredentialBroker = CommandDescription(
        name: "docker-credential-broker",
        summary: "docker credential helper (docker, podman, buildah, skopeo, crane) backed by the credential-broker agent",
        synopsis: ["docker-credential-broker [--socket-dir DIR] (get|store|erase|list|version)"],
        description: [
            .paragraph("docker-credential-broker speaks the protocol of docker's credential helpers (github.com/docker/docker-credential-helpers). A registry client runs it, not you: with `\"credHelpers\": {\"REGISTRY\": \"broker\"}` (or `\"credsStore\": \"broker\"` for every registry) in `~/.docker/config.json`, or in a containers auth file (`$REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json`), docker, podman, buildah, skopeo and crane run `docker-credential-broker get` with the registry's server URL on standard input and read `{\"ServerURL\",\"Username\",\"Secret\"}` on standard output. No registry token is ever written into those files."),
            .subheading("Bound registries"),
            .paragraph("A registry bound to an identity by `[registry \"HOST[:PORT]\"] identity = NAME` (see credential-broker(5); `*` matches within one DNS label, as in `*.dkr.ecr.*.amazonaws.com`) is answered from that identity: an ECR login (kind aws/ecr, user `AWS`), a GitHub App installation token (user `x-access-token`) or any kind that gives a user name and password. The agent caches it and never hands out one with less than 15 minutes left. A token pool (kind github/pat-pool) instead leases one of its tokens to the registry client that ran the helper (docker, skopeo, podman) for that process's life, so parallel pulls spread over the pool. `store` is ignored for bound registries; `erase` drops the identity's cached credential, so the next `get` obtains a fresh one."),
            .subheading("Every other registry"),
            .paragraph("For registries bound to no identity the helper is a plain store held in the agent's memory: `store` (what `docker login` sends) keeps the login, `get` returns it, `erase` (`docker logout`) forgets it and `list` prints every stored server URL with its user name. These logins never touch the disk; the agent stays alive while it holds any and forgets them when it stops."),
            .subheading("Server URLs"),
            .paragraph("Clients name a registry differently (`127.0.0.1:5000`, `https://index.docker.io/v1/`, `http://r.example:5000/v2/`). The agent normalises each as docker's CLI does before looking up `credHelpers`: an `http://` or `https://` scheme and everything from the first `/` are dropped, the port is kept and the host lower-cased. `get` echoes the server URL it was given."),
            .subheading("Answers and failures"),
            .paragraph("As the protocol requires, a failure is one line on standard output with exit status 1, since that is where clients read it; a registry with no credentials gets exactly `credentials not found in native keychain`, which clients take to mean \"no login\" and continue anonymously. The helper never prompts."),
        ],
        options: [
            CatalogText.socketDirOption,
            CommandOption("--version", short: "-v", "Print the helper's version and exit."),
            .help,
        ],
        arguments: [
            CommandArgument("ACTION", completion: .choices(["get", "store", "erase", "list", "version"]),
                            "What the registry client asks for.", values: [
                Definition("get", style: .synopsis, "Print the login for the server URL on standard input."),
                Definition("store", style: .synopsis, "Keep the login given as JSON on standard input (unbound registries only)."),
                Definition("erase", style: .synopsis, "Forget the login for the server URL on standard input; for a bound registry, drop its cached credential."),
                Definition("list", style: .synopsis, "Print the stored logins as a JSON object of server URL to user name."),
                Definition("version", style: .synopsis, "Print the helper's version."),
            ]),
        ],
        exitStatus: [
            Definition("0", style: .plain, "The answer was printed (or the login stored or erased)."),
            Definition("1", style: .plain, "Failure, or no login for the registry: one line on standard output."),
            Definition("64", style: .plain, "Wrong usage: no action, or an unknown argument."),
        ],
        environment: CatalogText.environment("BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_CONFIG", "BROKER_PROFILE", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"),
        files: CatalogText.files("socket", "config", "agentlog"),
        examples: [
            Example("Bind ECR registries to an identity, in `~/.config/credential-broker/config`:",
                    "[identity \"ecr\"]\n    kind = aws/ecr\n    via = identity:prod-admin\n    region = eu-west-1\n[registry \"*.dkr.ecr.eu-west-1.amazonaws.com\"]\n    identity = ecr"),
            Example("Then in `~/.docker/config.json` (or a containers auth.json):",
                    "{\"credHelpers\": {\"123456789012.dkr.ecr.eu-west-1.amazonaws.com\": \"broker\"}}"),
            Example("Ask by hand what docker would ask:", "printf 123456789012.dkr.ecr.eu-west-1.amazonaws.com | docker-credential-broker get"),
        ],
        seeAlso: ["broker-agent(1)", "brokerctl(1)", "credential-broker(5)", "kube-credential-broker(1)", "skopeo(1)"])

    static let kubeCredentialBroker = CommandDescription(
        name: "kube-credential-broker",
        summary: "client-go exec credential plugin (kubectl) backed by the credential-broker agent",
        synopsis: ["kube-credential-broker [--identity NAME] [--socket-dir DIR]"],
        description: [
            .paragraph("kube-credential-broker is what a kubeconfig user's exec stanza names. kubectl and every client-go program run it when they need a token for the cluster, with `KUBERNETES_EXEC_INFO` holding the ExecCredential API version they speak, and read one `ExecCredential` (`client.authentication.k8s.io/v1` or `v1beta1`, as asked; v1beta1 when the variable is absent) with `status.token` and `status.expirationTimestamp`. client-go keeps the token until that time and runs the plugin again after it, or after a 401. No cluster token is ever written into a kubeconfig."),
            .paragraph("It asks broker-agent(1) for the identity named by `--identity` (or `BROKER_IDENTITY`), typically of kind aws/eks, whose token is an STS GetCallerIdentity URL presigned locally with the credentials of its `via` chain; the agent caches it, hands out none with less than 5 minutes left and refreshes it ahead. An aws/eks token lives 14 minutes from signing."),
            .subheading("Never prompting"),
            .paragraph("It never reads the terminal, whatever `spec.interactive` says: set `interactiveMode: Never` in the stanza. On any failure it prints one line on standard error, nothing on standard output, and exits 1; kubectl shows that line."),
        ],
        options: [
            CommandOption("--identity", value: "NAME", completion: .identity,
                          "The identity whose token to hand out, as named by an `[identity \"NAME\"]` section (default `BROKER_IDENTITY`)."),
            CatalogText.socketDirOption,
            .help,
        ],
        exitStatus: [
            Definition("0", style: .plain, "The ExecCredential was printed."),
            Definition("1", style: .plain, "Failure: one line on standard error naming the identity and the reason, nothing on standard output."),
            Definition("64", style: .plain, "Wrong usage: no identity, or an unknown argument."),
        ],
        environment: [
            Definition("KUBERNETES_EXEC_INFO", ["Set by client-go: the ExecCredential whose `apiVersion` the answer uses."]),
            Definition("BROKER_IDENTITY", ["The identity to hand out when `--identity` is not given."]),
        ] + CatalogText.environment("BROKER_SOCKET_DIR", "BROKER_AGENT", "BROKER_CONFIG", "BROKER_PROFILE", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"),
        files: CatalogText.files("socket", "config", "agentlog"),
        examples: [
            Example("An EKS identity, in `~/.config/credential-broker/config`:",
                    "[identity \"prod-eks\"]\n    kind = aws/eks\n    via = identity:prod-admin\n    cluster = prod\n    region = eu-west-1"),
            Example("A kubeconfig user:",
                    "users:\n- name: prod\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: kube-credential-broker\n      args: [--identity, prod-eks]\n      interactiveMode: Never"),
        ],
        seeAlso: ["broker-agent(1)", "brokerctl(1)", "credential-broker(5)", "docker-credential-broker(1)", "kubectl(1)"])
}
