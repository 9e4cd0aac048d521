// What a client tells a person while it works: BROKER_TRACE steps, and one status line while a slow answer is awaited.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Feedback on standard error, never a secret: with `BROKER_TRACE=1` one `trace:` line per step
/// (request sent, agent found or started, answer received); on a terminal, a status line when the
/// agent takes longer than `progressDelay`, erased when the answer comes.
public struct ClientFeedback: Sendable {
    public var program: String
    public var trace: Bool
    /// Show the status line: only when standard error is a terminal.
    public var progress: Bool
    public var progressDelayMilliseconds: Int32 = 1000

    public static let silent = ClientFeedback(program: "", trace: false, progress: false)

    public init(program: String, trace: Bool, progress: Bool) {
        self.program = program
        self.trace = trace
        self.progress = progress
    }

    /// Trace from `BROKER_TRACE` (1, true, yes, on); progress when standard error is a terminal.
    public init(program: String, environment: Environment) {
        let switchValue = environment["BROKER_TRACE"]?.lowercased() ?? ""
        self.init(program: program, trace: ["1", "true", "yes", "on"].contains(switchValue), progress: isatty(2) == 1)
    }

    public func step(_ text: @autoclosure () -> String) {
        guard trace else { return }
        printError("trace: \(program): " + WireCodec.printable(text(), limit: nil))
    }

    /// Fields whose values may be shown: names, hosts, paths, times, tiers. Any other field is
    /// named but its value withheld (password, keys, tokens, environment values).
    static let showable: Set<String> = [
        WireKey.operation, WireKey.adapter, WireKey.identity, WireKey.identities, WireKey.status, WireKey.tier,
        WireKey.expiration, WireKey.errorKind, WireKey.error, WireKey.hint, WireKey.delivery, WireKey.pid, WireKey.timeout,
        "protocol", "host", "path", "username", "kind", "password_expiry_utc", "broker.identity", "broker.tier",
        "broker.warning", "login.identity",
    ]

    /// `op=git.get host=github.com … (also: password)`: values of showable fields, names of the rest.
    public static func summary(_ message: WireMessage) -> String {
        var shown: [String] = [], withheld: [String] = []
        for field in message.fields where field.key != WireKey.version {
            if showable.contains(field.key) {
                var text = "\(field.key)=\(field.value)"
                if field.key == WireKey.expiration || field.key == "password_expiry_utc", let when = Int64(field.value) {
                    text += " (\(rfc3339UTC(when)), in \(when - Int64(time(nil))) s)"
                }
                shown.append(text)
            } else if !withheld.contains(field.key) {
                withheld.append(field.key)
            }
        }
        return shown.joined(separator: " ") + (withheld.isEmpty ? "" : " (withheld: \(withheld.joined(separator: ", ")))")
    }

    /// What the status line says the client waits for: the identity, or the host git asked about.
    static func waitingFor(_ request: WireMessage) -> String {
        if let identity = request[WireKey.identity] { return "identity \"\(identity)\"" }
        let identities = request.values(WireKey.identities)
        if !identities.isEmpty { return "identities " + identities.map { "\"\($0)\"" }.joined(separator: ", ") }
        if let host = request["host"] { return "a credential for \(request["protocol"].map { "\($0)://" } ?? "")\(host)" }
        return "broker-agent"
    }
}
