// broker-env-wrap: runs a command with credentials delivered by the agent; everything happens in BrokerFrontends.
import BrokerFrontends

#if canImport(Glibc)
import Glibc
#endif

// Returns only when the command could not be started (or with --print, after printing).
exit(EnvWrapFrontend.run(arguments: Array(CommandLine.arguments.dropFirst())))
