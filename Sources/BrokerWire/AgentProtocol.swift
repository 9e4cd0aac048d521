// The agent's request vocabulary, shared by the adapters, brokerctl and the agent (broker-agent(1), PROTOCOL).

/// Every operation the agent answers, by its wire name. A request is `v=1`, `op=NAME`, the
/// operation's fields, and a blank line; the answer starts `status=ok` or `status=error`.
public enum AgentOperation: String, CaseIterable, Sendable {
    case ping
    case status
    case stop
    /// git's `get`/`store`/`erase`, with git's own credential fields.
    case gitGet = "git.get"
    case gitStore = "git.store"
    case gitErase = "git.erase"
    /// `identity=NAME`, `adapter=`: AWS keys for credential_process.
    case awsCredentials = "aws.credentials"
    /// `identity=NAME`, `destination=`: an AWS console sign-in URL (a credential) for the identity's session.
    case awsConsole = "aws.console"
    /// `identity=NAME`: who the credential belongs to (any kind; the name is historical).
    case whoami = "aws.whoami"
    /// `identity=NAME`, `code=`: a person's part of obtaining the credential.
    case login = "identity.login"
    /// `identity=NAME` or `*`: drop cached credentials.
    case logout = "identity.logout"
    /// `identity[]=`, `pid=`, `delivery=`, `bin_dir=`: the steps that give a wrapped command its identities.
    case envPlan = "env.plan"
    /// docker's credential helpers: `server_url=` (and `username=`, `secret=` to store); `list`
    /// answers the `registry` table.
    case dockerGet = "docker.get"
    case dockerStore = "docker.store"
    case dockerErase = "docker.erase"
    case dockerList = "docker.list"
    /// `identity=NAME`: a bearer token for client-go's exec plugin (`token=`, `expiration=`).
    case kubeCredential = "kube.credential"
    /// `name=`, `secret=`: store a secret in the agent's keyring; `name=`: read one (brokerctl's
    /// `--reveal`) or remove one; list without values; `passphrase=` unlocks the file keyring.
    case keyringSet = "keyring.set"
    case keyringGet = "keyring.get"
    case keyringRemove = "keyring.remove"
    case keyringList = "keyring.list"
    case keyringUnlock = "keyring.unlock"
    case keyringLock = "keyring.lock"
    /// `provider=NAME`: start a provider's device login; the agent polls, the answer says what to show.
    case providerLogin = "provider.login"
    /// `provider=NAME`: where that login stands (`state=pending|ok|error`).
    case providerLoginStatus = "provider.login.status"
    /// `provider=NAME`: end the provider's session and drop what was derived from it.
    case providerLogout = "provider.logout"
    /// `provider=NAME`: the identities the provider can offer.
    case providerList = "provider.list"
}

extension AgentOperation {
    private static let byName = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })

    /// The operation with this wire name: one hash lookup, where `init(rawValue:)` compares the
    /// name with every case in turn.
    public static func named(_ name: String) -> AgentOperation? { byName[name] }
}

/// Field names of requests and answers, written once.
public enum WireKey {
    public static let version = "v"
    public static let operation = "op"
    public static let status = "status"
    public static let identity = "identity"
    public static let identities = "identity[]"
    public static let adapter = "adapter"
    public static let code = "code"
    public static let pid = "pid"
    public static let delivery = "delivery"
    public static let binDirectory = "bin_dir"
    public static let timeout = "timeout"
    public static let tier = "tier"
    public static let expiration = "expiration"
    public static let accessKeyID = "access_key_id"
    public static let secretAccessKey = "secret_access_key"
    public static let sessionToken = "session_token"
    public static let removed = "removed"
    public static let serverURL = "server_url"
    public static let username = "username"
    public static let secret = "secret"
    public static let token = "token"
    public static let tokenScheme = "token_scheme"
    public static let error = "error"
    public static let errorKind = "kind"
    public static let hint = "hint"
    public static let warning = "broker.warning"
    /// In an error answer: the identity a login would unblock, and the kind's prompt.
    public static let loginIdentity = "login.identity"
    public static let loginPrompt = "login.prompt"
    /// In a git answer, beside git's own fields (never relayed to git): who answered, and from where.
    public static let answeringIdentity = "broker.identity"
    public static let answeringTier = "broker.tier"
    public static let name = "name"
    public static let passphrase = "passphrase"
    public static let backend = "backend"
    public static let provider = "provider"
    public static let destination = "destination"
    public static let url = "url"
    public static let state = "state"
    public static let userCode = "user_code"
    public static let verificationURI = "verification_uri"
    public static let verificationURIComplete = "verification_uri_complete"
    public static let interval = "interval"
    public static let polls = "polls"
    /// `provider.list`: seconds a remembered listing may be old (completions); absent or 0: list now.
    public static let maxAge = "max_age"
}

extension WireMessage {
    /// A request for `operation` with `fields` (the client adds `v=1`).
    public init(_ operation: AgentOperation, _ fields: [WireMessage.Field] = []) {
        self.init([WireMessage.Field(WireKey.operation, operation.rawValue)] + fields)
    }

    /// The operation a request names, or nil.
    public var operation: AgentOperation? { self[WireKey.operation].flatMap(AgentOperation.named) }

    /// `status=ok` followed by `fields` in order.
    public static func ok(_ fields: [WireMessage.Field] = []) -> WireMessage {
        var message = WireMessage()
        message.fields.reserveCapacity(fields.count + 4)  // room for what handlers append
        message.fields.append(WireMessage.Field(WireKey.status, "ok"))
        message.fields += fields
        return message
    }
}

extension WireMessage {
    /// Appends one record of a table as parallel lists (`entry.identity[]=`, `entry.kind[]=`, …):
    /// the wire grammar's lists, so no value is ever split by position or by a space.
    public mutating func appendRecord(_ table: String, _ fields: [(String, String)]) {
        for (name, value) in fields { append("\(table).\(name)[]", value) }
    }

    /// The records of `table`, each as its named fields; a record missing a column is dropped.
    public func records(_ table: String, columns: [String]) -> [[String: String]] {
        let lists = columns.map { values("\(table).\($0)[]") }
        guard let count = lists.map(\.count).min() else { return [] }
        return (0..<count).map { row in
            var record: [String: String] = [:]
            for (column, list) in zip(columns, lists) { record[column] = list[row] }
            return record
        }
    }
}
