// Which audit records `brokerctl audit` shows: a time window and exact matches on a few fields.

import BrokerWire

/// A filter over audit records, as `brokerctl audit --since/--until/--identity/--outcome/--event`
/// spell it. Records are matched on the fields the agent writes (AuditLog); a record without a
/// field never matches a filter on it.
public struct AuditQuery: Sendable, Equatable {
    public var since: Int64?
    public var until: Int64?
    public var identity: String?
    public var outcome: String?
    public var event: String?

    public init(since: Int64? = nil, until: Int64? = nil, identity: String? = nil, outcome: String? = nil, event: String? = nil) {
        self.since = since
        self.until = until
        self.identity = identity
        self.outcome = outcome
        self.event = event
    }

    /// True when no filter is set: the cheap tail read answers it.
    public var isEmpty: Bool { self == AuditQuery() }

    /// `time` is the record's RFC 3339 time; the others its string fields.
    public func matches(time: String?, identity: String?, outcome: String?, event: String?) -> Bool {
        if since != nil || until != nil {
            guard let time, let seconds = parseRFC3339(time) else { return false }
            if let since, seconds < since { return false }
            if let until, seconds >= until { return false }
        }
        if let want = self.identity, want != identity { return false }
        if let want = self.outcome, want != outcome { return false }
        if let want = self.event, want != event { return false }
        return true
    }

    /// A moment as a person writes it on a command line: an RFC 3339 time
    /// (`2026-12-05T10:00:00Z`), a date (`2026-12-05`, midnight UTC), or an age before `now`
    /// (`90s`, `15m`, `2h`, `7d`, `1w`).
    public static func moment(_ text: String, now: Int64) throws -> Int64 {
        if let seconds = parseRFC3339(text) { return seconds }
        if text.utf8.count == 10, let seconds = parseRFC3339(text + "T00:00:00Z") { return seconds }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        if let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count >= 0,
           count <= Int64.max / unit {
            return now.subtractingSaturating(count * unit)
        }
        throw BrokerFailure(.usage, "\"\(WireCodec.printable(text, limit: 40))\" is not a time",
                            hint: "write a time like 2026-12-05T10:00:00Z or 2026-12-05, or an age like 30m, 2h or 7d")
    }
}
