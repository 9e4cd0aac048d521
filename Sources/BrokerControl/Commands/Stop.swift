// `brokerctl stop`: ask the agent to exit and wait until it has let go of the socket.

import BrokerWire
import Foundation

extension Brokerctl {
    func stop(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "stop")
        guard let answer = try client().send(WireMessage(.ping), startAgent: false) else {
            if options.format == .json { emitJSON(["running": false]) } else { out("broker-agent is not running") }
            return ExitStatus.success
        }
        _ = try client().send(WireMessage(.stop), startAgent: false)
        let pid = answer["pid"].flatMap(Int32.init) ?? 0
        // Wait until it has let go of the socket, so a following command starts a fresh agent.
        for _ in 0..<100 where pid > 0 && kill(pid, 0) == 0 { usleep(20_000) }
        if options.format == .json { emitJSON(["stopped": Int(pid)]) } else { out("stopped broker-agent (pid \(pid))") }
        return ExitStatus.success
    }
}
