// `brokerctl validate`: check a configuration without contacting anything.

import BrokerWire

extension Brokerctl {
    func validate(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "validate")
        var ctl = self
        if let file = options.values["--config"] { ctl.environment.values["BROKER_CONFIG"] = file }
        let config = try ctl.loadConfig()
        guard let file = config.file else {
            out("no config file at \(try ctl.paths.configFile): nothing to check (an empty config is valid)")
            return ExitStatus.success
        }
        out("\(file): ok (\(config.identities.count) identities, \(config.gitBindings.count) git bindings)")
        return ExitStatus.success
    }
}
