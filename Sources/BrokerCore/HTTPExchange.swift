// Blocking HTTP for the upstream clients (STS, GitHub): one hardened session, one deadline per call.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One blocking HTTP request over a shared ephemeral URLSession: no cookies, no cache, no credential
/// storage, no redirects, so nothing of an STS or GitHub exchange (signed requests, JWTs, tokens) goes
/// anywhere or outlives the call outside our own types.
enum HTTPExchange {
    enum Outcome {
        case response(status: Int, body: [UInt8])
        case transport(TransportProblem)
    }

    struct TransportProblem {
        var reason: String
        /// Connection-level trouble may clear up; a bad certificate or URL will not.
        var retryable: Bool
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.urlCredentialStorage = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        return URLSession(configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
    }()

    /// STS never redirects. Following one would carry a signed request, session token included, to
    /// wherever `Location` points; refused, the 3xx comes back as an answer we cannot read.
    private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            completionHandler(nil)
        }
    }

    static func post(url: URL, headers: [(name: String, value: String)], body: [UInt8], timeout: Double) -> Outcome {
        send(method: "POST", url: url, headers: headers, body: Data(body), timeout: timeout)
    }

    /// Bounded as a whole by `timeout`. Host is written by the HTTP library from the same URL a
    /// signer used; User-Agent is ours unless the caller sets one.
    static func send(method: String, url: URL, headers: [(name: String, value: String)], body: Data?, timeout: Double) -> Outcome {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("credential-broker", forHTTPHeaderField: "User-Agent")
        for header in headers where header.name.lowercased() != "host" {
            request.setValue(header.value, forHTTPHeaderField: header.name)
        }
        request.httpBody = body

        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        // URLSession's own timeout is an idle timeout (and swift-corelibs-foundation's fires late):
        // this deadline bounds the whole exchange.
        if done.wait(timeout: .now() + max(0.05, timeout)) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 2)
            return .transport(TransportProblem(reason: "no answer within \(formatSeconds(timeout))", retryable: true))
        }
        let (data, response, error) = box.get()
        if let error {
            return .transport(describe(error, timeout: timeout))
        }
        guard let http = response as? HTTPURLResponse else {
            return .transport(TransportProblem(reason: "the answer is not HTTP", retryable: true))
        }
        return .response(status: http.statusCode, body: data.map { Array($0) } ?? [])
    }

    static func describe(_ error: Error, timeout: Double) -> TransportProblem {
        guard let urlError = error as? URLError else {
            return TransportProblem(reason: String(describing: type(of: error)), retryable: true)
        }
        switch urlError.code {
        case .cannotConnectToHost: return TransportProblem(reason: "connection refused", retryable: true)
        case .timedOut: return TransportProblem(reason: "no answer within \(formatSeconds(timeout))", retryable: true)
        case .cannotFindHost, .dnsLookupFailed: return TransportProblem(reason: "host name not found", retryable: true)
        case .networkConnectionLost: return TransportProblem(reason: "the connection was lost", retryable: true)
        case .notConnectedToInternet: return TransportProblem(reason: "no network", retryable: true)
        case .badServerResponse: return TransportProblem(reason: "the server's answer is not valid HTTP", retryable: true)
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return TransportProblem(reason: "TLS failed (\(urlError.code.rawValue)): the server's certificate is not trusted",
                                    retryable: false)
        default:
            return TransportProblem(reason: "network error \(urlError.code.rawValue)", retryable: false)
        }
    }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }

    /// Hands the completion handler's values to the waiting thread.
    private final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data: Data?
        private var response: URLResponse?
        private var error: Error?

        func set(data: Data?, response: URLResponse?, error: Error?) {
            lock.lock()
            (self.data, self.response, self.error) = (data, response, error)
            lock.unlock()
        }

        func get() -> (Data?, URLResponse?, Error?) {
            lock.lock()
            defer { lock.unlock() }
            return (data, response, error)
        }
    }
}

/// An upstream's text made fit for one line of an error message: every secret of the call
/// replaced by `<redacted>`, whitespace runs folded, non-ASCII shown as `?`, at most `limit`
/// characters. Upstreams echo requests back; this is where their echoes lose our secrets.
func scrubbedForMessage(_ text: String, removing secrets: [String], minimumSecretLength: Int, limit: Int) -> String {
    var bytes = Array(text.utf8)
    for secret in secrets where secret.count >= minimumSecretLength {
        bytes = replacingOccurrences(of: Array(secret.utf8), with: Array("<redacted>".utf8), in: bytes)
    }
    let cleaned = String(decoding: bytes, as: UTF8.self)
    var out = ""
    var length = 0  // String.count walks the string; counting here keeps this linear
    var pendingSpace = false
    for scalar in cleaned.unicodeScalars {
        if scalar.value <= 0x20 || scalar.value == 0x7f {
            pendingSpace = length > 0
            continue
        }
        if pendingSpace { out.append(" "); length += 1 }
        pendingSpace = false
        out.unicodeScalars.append(scalar.isASCII ? scalar : "?")
        length += 1
        if length >= limit { return out + "…" }
    }
    return out
}

/// Literal, left-to-right, non-overlapping replacement over bytes: Foundation's String search
/// folds character clusters and dominated the cost of every scrubbed upstream error.
func replacingOccurrences(of needle: [UInt8], with replacement: [UInt8], in haystack: [UInt8]) -> [UInt8] {
    guard let first = needle.first, haystack.count >= needle.count else { return haystack }
    var out: [UInt8] = []
    out.reserveCapacity(haystack.count)
    var i = 0
    while i < haystack.count {
        if haystack[i] == first, i + needle.count <= haystack.count, haystack[i..<(i + needle.count)].elementsEqual(needle) {
            out.append(contentsOf: replacement)
            i += needle.count
        } else {
            out.append(haystack[i])
            i += 1
        }
    }
    return out
}
