// brokerctl: everything happens in BrokerCore's Brokerctl.
import BrokerCore
import Foundation

exit(Brokerctl().run(Array(CommandLine.arguments.dropFirst())))
