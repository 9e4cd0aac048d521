// client-go's exec credential plugin (a kubeconfig user's `exec:` stanza): everything happens in BrokerFrontends.
import BrokerFrontends

#if canImport(Glibc)
import Glibc
#endif

exit(KubeCredentialFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
