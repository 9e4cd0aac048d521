// `brokerctl generate-docs`: write the man pages and completions.

import BrokerWire

extension Brokerctl {
    func generateDocs(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "generate-docs")
        guard let root = options.positional.first else { throw BrokerFailure(.usage, "generate-docs needs a directory") }
        for path in try Documentation.write(to: root) { out("wrote \(path)") }
        return ExitStatus.success
    }
}
