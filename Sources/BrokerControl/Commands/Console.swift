// `brokerctl console`: open (or print) an AWS console sign-in URL for an identity's role session.

import BrokerWire
import Foundation

extension Brokerctl {
    /// The agent builds the URL (it holds the session); brokerctl opens it in a browser when both
    /// ends are a terminal, or prints it with `--print`. The URL is a credential: never logged.
    func console(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "console")
        guard let name = options.positional.first ?? environment["BROKER_IDENTITY"] else {
            throw BrokerFailure(.usage, "console needs an identity")
        }
        var fields = [WireMessage.Field(WireKey.identity, name)]
        if let destination = options.values["--destination"] { fields.append(.init(WireKey.destination, destination)) }
        guard let answer = try client().send(WireMessage(.awsConsole, fields)), let url = answer[WireKey.url] else {
            throw BrokerFailure(.unavailable, "broker-agent is not running")
        }
        if options.flags.contains("--print") || isatty(0) != 1 || isatty(1) != 1 {
            out(url)
        } else {
            Self.openInBrowser(url)
            out("opened the AWS console for identity \"\(name)\" in a browser")
        }
        return ExitStatus.success
    }
}
