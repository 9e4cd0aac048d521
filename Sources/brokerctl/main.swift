// brokerctl: everything happens in BrokerControl's Brokerctl.
import BrokerControl
import Foundation

exit(Brokerctl().run(Array(CommandLine.arguments.dropFirst())))
