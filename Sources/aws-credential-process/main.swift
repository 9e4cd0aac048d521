// credential_process for the AWS CLI and SDKs: everything happens in BrokerFrontends.
import BrokerFrontends

#if canImport(Glibc)
import Glibc
#endif

exit(AWSCredentialProcessFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
