// docker's credential helper (`"credHelpers": {"registry": "broker"}`): everything happens in BrokerFrontends.
import BrokerFrontends

#if canImport(Glibc)
import Glibc
#endif

exit(DockerCredentialFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
