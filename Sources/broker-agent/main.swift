// The per-user agent: everything happens in BrokerAgent.
import BrokerAgent
import Foundation

exit(AgentFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
