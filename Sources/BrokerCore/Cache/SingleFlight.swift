// Concurrent requests for one key share one upstream call (DESIGN D8).

import Foundation

public final class SingleFlight<Key: Hashable, Value>: @unchecked Sendable {
    private final class Call {
        var result: Result<Value, Error>?
        let done = NSCondition()
    }

    private let lock = NSLock()
    private var calls: [Key: Call] = [:]

    public init() {}

    /// Runs `body` unless a call for `key` is already running, in which case it waits for that
    /// call and returns its result. `shared` tells the caller which happened.
    public func run(_ key: Key, _ body: () throws -> Value) throws -> (value: Value, shared: Bool) {
        lock.lock()
        if let call = calls[key] {
            lock.unlock()
            call.done.lock()
            while call.result == nil { call.done.wait() }
            call.done.unlock()
            return (try call.result!.get(), true)
        }
        let call = Call()
        calls[key] = call
        lock.unlock()

        let result = Result { try body() }
        lock.lock()
        calls[key] = nil
        lock.unlock()
        call.done.lock()
        call.result = result
        call.done.broadcast()
        call.done.unlock()
        return (try result.get(), false)
    }

    public func isRunning(_ key: Key) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return calls[key] != nil
    }
}
