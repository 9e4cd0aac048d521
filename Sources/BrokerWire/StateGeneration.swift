// One process-wide number that changes whenever the agent's answers may change.

import CBrokerSystem

/// The agent remembers the bytes of an answer it can give again (AgentServer's warm answers) only
/// while this number stays what it was when the answer was made. Everything such an answer reads
/// bumps it after a change: the credential cache, the git credential store, a reloaded
/// configuration. A bump costs one atomic add; a spurious one costs a remembered answer, never a
/// wrong one, so a site that may change state bumps rather than reasons about whether it must.
public enum StateGeneration {
    @inline(__always)
    public static var current: UInt64 { UInt64(cbroker_state_generation()) }

    @inline(__always)
    public static func bump() { cbroker_bump_state_generation() }
}
