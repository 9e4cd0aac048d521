// The one error shape every layer speaks: a sentence for a person plus, where there is one, a fix.

/// An error a person can act on (DESIGN D12). `message` is a lower-case fragment that composes
/// after a program prefix (`git-credential-broker: <message>`); `hint` says how to fix it.
/// Neither ever contains a secret value.
public protocol BrokerError: Error, CustomStringConvertible {
    var message: String { get }
    var hint: String? { get }
}

extension BrokerError {
    public var description: String {
        if let hint { return "\(message) (hint: \(hint))" }
        return message
    }
}

/// A user-facing failure that needs no richer type: bad usage, a refused request, an upstream
/// error relayed from the agent.
public struct BrokerFailure: BrokerError, Equatable {
    public enum Kind: String, Sendable {
        case usage          // the command line is wrong: print usage, exit 64
        case input          // the host program sent something we refuse
        case config         // the configuration is wrong
        case permission     // a file or directory is not private enough
        case unavailable    // the agent or an upstream could not be reached
        case denied         // the agent refused (unknown identity, foreign caller, rate limit)
        case upstream       // an upstream answered with an error
        case `internal`     // our bug: says so
    }
    public var kind: Kind
    public var message: String
    public var hint: String?
    /// Set when a person can fix this by logging the identity in (an MFA code): broker-env-wrap
    /// on a terminal asks for it, as aws-vault exec does; the other adapters never prompt.
    public var login: LoginNeeded?

    public init(_ kind: Kind, _ message: String, hint: String? = nil, login: LoginNeeded? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.login = login
    }
}

/// The identity whose login would let a refused request succeed, and what to ask a person for.
public struct LoginNeeded: Sendable, Equatable {
    public var identity: String
    public var prompt: String
    public init(identity: String, prompt: String) {
        self.identity = identity
        self.prompt = prompt
    }
}

/// The exit statuses every executable shares (sysexits' EX_USAGE for wrong usage).
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
}

extension String {
    /// The text on one line: every LF, CR and NUL becomes a space. The one sanitizer for error
    /// text bound for stderr, a wire value or a JSON message.
    public var onOneLine: String {
        var line = ""
        for scalar in unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\0" { line += " " } else { line.unicodeScalars.append(scalar) }
        }
        return line
    }
}
