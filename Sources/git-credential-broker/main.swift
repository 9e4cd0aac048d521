// git's credential helper (`credential.helper = broker`): everything happens in BrokerFrontends.
import BrokerFrontends

#if canImport(Glibc)
import Glibc
#endif

exit(GitCredentialFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
