// Answers a serving loop gives again from the bytes it sent, while nothing they depend on changed.

import BrokerCore
import BrokerWire
import Foundation

/// A warm request's answer is a function of the request's bytes, the agent's state (cache, git
/// credential store, configuration) and the clock's second; only its audit line names the caller.
/// A loop remembers the bytes of such an answer and of its audit record's members, and answers
/// the same bytes again with them — a fresh audit line for the new caller written first, as
/// always — without parsing, handling or encoding anything (issue 13: a warm `git.get` took
/// 23 300 instructions that way, 5 700 this way).
///
/// An entry is given again only while `StateGeneration` is what it was and within the same second
/// of both clocks it was made in: every cache, store or configuration change bumps the
/// generation, and every decision made by time (validity, refresh-ahead, a git entry's timeout,
/// an expiry as seen through a clock step) is made in whole seconds. Which answers may be
/// remembered is said by the handler that made them (`ServingThread.answerMayRepeat`), and only
/// when the answer audited exactly one `issued` record for its caller and nothing else.
final class WarmAnswers {
    struct Entry {
        var request: [UInt8]
        var answer: [UInt8]
        var auditBody: [UInt8]
    }

    private(set) var entries: [Entry] = []
    private var generation: UInt64 = .max
    private var instant = Clock.Instant(wall: .min, elapsed: .min)
    private var next = 0
    /// Answers given again since the loop started (`brokerctl status`, tests).
    private(set) var replayed = 0

    /// Distinct requests remembered at once (a CI runner's jobs ask for a handful of hosts and
    /// identities); the oldest goes first.
    static let capacity = 64
    /// Only what the adapters send and answer fits; longer ones are served as usual.
    static let maxRequest = 2048
    static let maxAnswer = 8192

    /// The index in `entries` of the one for exactly these bytes, while it may still be given.
    func lookup(_ request: UnsafeBufferPointer<UInt8>, generation: UInt64, at instant: Clock.Instant) -> Int? {
        guard !entries.isEmpty else { return nil }
        guard generation == self.generation, instant == self.instant else {
            forget()
            return nil
        }
        for index in entries.indices where entries[index].request.count == request.count {
            let same = entries[index].request.withUnsafeBufferPointer { memcmp($0.baseAddress!, request.baseAddress!, request.count) == 0 }
            if same {
                replayed += 1
                return index
            }
        }
        return nil
    }

    func remember(_ entry: Entry, generation: UInt64, at instant: Clock.Instant) {
        if generation != self.generation || instant != self.instant {
            forget()
            (self.generation, self.instant) = (generation, instant)
        }
        if entries.count < Self.capacity {
            entries.append(entry)
        } else {
            Self.wipe(&entries[next])
            entries[next] = entry
            next = (next + 1) % Self.capacity
        }
    }

    /// Drops every entry, its secrets overwritten first: an answer holds a password or keys.
    func forget() {
        for index in entries.indices { Self.wipe(&entries[index]) }
        entries.removeAll()
        next = 0
    }

    private static func wipe(_ entry: inout Entry) {
        entry.answer.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) }
    }
}

/// What answering one request on a loop did, for deciding whether its answer may be given again.
final class WarmRecorder {
    /// The handler said its answer depends on nothing but the request, the state and the second.
    var repeatable = false
    /// Something said it must not be given again (overrides `repeatable`).
    var vetoed = false
    var records = 0
    var record: AuditRecord?

    func reset() {
        (repeatable, vetoed, records, record) = (false, false, 0, nil)
    }

    func audited(_ record: AuditRecord) {
        records += 1
        self.record = record
    }

    /// The audit record's members, when the answer may be given again to any caller.
    func body(for caller: Caller) -> [UInt8]? {
        guard repeatable, !vetoed, records == 1, let record, record.event == .issued, record.outcome == "ok",
              record.holder == nil, record.caller?.pid == caller.pid else { return nil }
        return [UInt8](capacity: AuditLine.capacity(record, nil)) { AuditLine.writeBody(record, into: &$0) }
    }
}
