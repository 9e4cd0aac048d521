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
        let path = try paths.auditLogPath
        let lines = AuditFiles.lastLines(of: path, count: tail)
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        if options.format == .json {
            emitJSON(records)
            return ExitStatus.success
        }
        if records.isEmpty { out("no audit records in \(path)"); return ExitStatus.success }
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
