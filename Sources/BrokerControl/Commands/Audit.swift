// `brokerctl audit`: the last records of the audit log.

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    func audit(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "audit")
        let tail = try options.values["--tail"].map { text -> Int in
            guard let n = Int(text), n > 0 else { throw BrokerFailure(.usage, "--tail takes a positive number") }
            return n
        } ?? 20
        let now = currentUnixTime()
        let query = AuditQuery(since: try options.values["--since"].map { try AuditQuery.moment($0, now: now) },
                               until: try options.values["--until"].map { try AuditQuery.moment($0, now: now) },
                               identity: options.values["--identity"], outcome: options.values["--outcome"],
                               event: options.values["--event"])
        let format = options.values["--format"] ?? "table"
        guard ["table", "json", "jsonl"].contains(format) else {
            throw BrokerFailure(.usage, "--format takes table, json or jsonl, not \"\(WireCodec.printable(format, limit: 20))\"")
        }
        let path = try paths.auditLogPath
        // With a filter every rotated file is read; without one, only as many as the tail needs.
        var records: [[String: Any]] = []
        for line in query.isEmpty ? AuditFiles.lastLines(of: path, count: tail) : AuditFiles.allLines(of: path) {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  query.matches(time: record["time"] as? String, identity: record["identity"] as? String,
                                outcome: record["outcome"] as? String, event: record["event"] as? String) else { continue }
            records.append(record)
        }
        records = Array(records.suffix(tail))
        switch format {
        case "json":
            emitJSON(records)
            return ExitStatus.success
        case "jsonl":
            // One record per line as the agent wrote it (re-encoded, so a torn line never passes).
            for record in records {
                let data = (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
                out(String(decoding: data, as: UTF8.self))
            }
            return ExitStatus.success
        default:
            break
        }
        if records.isEmpty { out(query.isEmpty ? "no audit records in \(path)" : "no audit records match in \(path)"); return ExitStatus.success }
        // Cells one line each: a newline in a target must not forge a row.
        out(renderTable([["TIME", "EVENT", "OUTCOME", "IDENTITY", "ADAPTER", "CALLER", "TARGET"]] + records.map { r in
            let caller = r["caller"] as? [String: Any]
            let exe = (caller?["parent_exe"] as? String ?? caller?["exe"] as? String).map { ($0 as NSString).lastPathComponent } ?? "-"
            return [r["time"] as? String ?? "", r["event"] as? String ?? "", r["outcome"] as? String ?? "",
                    r["identity"] as? String ?? "-", r["adapter"] as? String ?? "",
                    "\(exe)[\(caller?["pid"] as? Int ?? 0)]", r["target"] as? String ?? ""].map { WireCodec.printable($0, limit: nil) }
        }))
        return ExitStatus.success
    }
}
