// One unauthenticated request to an upstream (STS, GitHub's API): is it reachable, and what time does it say it is?

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A service a kind calls to obtain credentials, for `brokerctl doctor`'s reachability and clock checks.
public struct UpstreamService: Sendable, Equatable, Hashable {
    /// What a person calls it: "AWS STS", "GitHub API".
    public var name: String
    /// The base URL requests go to.
    public var url: String

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

/// What one probe found. It carries nothing that was sent, since nothing secret is.
public enum ProbeOutcome: Sendable, Equatable {
    /// An HTTP answer (any status: a 403 or 404 still proves the service is there), with the
    /// server's clock minus ours in seconds when it sent a `Date` header.
    case answered(status: Int, skewSeconds: Int?, milliseconds: Int)
    case unreachable(reason: String)
}

public enum UpstreamProbe {
    /// A GET of the base URL with no credentials, no cookies and no redirects, bounded by `timeout`.
    public static func probe(_ service: UpstreamService, timeout: Double = 3, now: () -> Date = Date.init) -> ProbeOutcome {
        guard let url = URL(string: service.url) else { return .unreachable(reason: "\(service.url) is not a URL") }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "GET"
        request.setValue("credential-broker doctor", forHTTPHeaderField: "User-Agent")
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        let started = Date()
        let task = HTTPExchange.session.dataTask(with: request) { _, response, error in
            box.set(response as? HTTPURLResponse, error)
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + max(0.05, timeout)) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 2)
            return .unreachable(reason: "no answer within \(HTTPExchange.formatSeconds(timeout))")
        }
        let (response, error) = box.get()
        let elapsed = Int(Date().timeIntervalSince(started) * 1000)
        if let error { return .unreachable(reason: HTTPExchange.describe(error, timeout: timeout).reason) }
        guard let response else { return .unreachable(reason: "the answer is not HTTP") }
        let header = response.value(forHTTPHeaderField: "Date")
        // The server stamped its Date somewhere within the round trip: compare with its middle.
        let middle = now().addingTimeInterval(-Double(elapsed) / 2000)
        let skew = header.flatMap(parseHTTPDate).map { Int(($0.timeIntervalSince(middle)).rounded()) }
        return .answered(status: response.statusCode, skewSeconds: skew, milliseconds: elapsed)
    }

    /// RFC 9110's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`. A proxy that adds its own Date
    /// beside the server's makes the header two dates joined by ", ": the first one counts.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return formatter.date(from: trimmed) ?? formatter.date(from: String(trimmed.prefix(29)))
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var response: HTTPURLResponse?
        private var error: Error?
        func set(_ response: HTTPURLResponse?, _ error: Error?) { lock.lock(); (self.response, self.error) = (response, error); lock.unlock() }
        func get() -> (HTTPURLResponse?, Error?) { lock.lock(); defer { lock.unlock() }; return (response, error) }
    }
}
