// `brokerctl lock`: make the agent forget the file keyring's passphrase and every decrypted secret.

import BrokerWire

extension Brokerctl {
    func lock(_ args: [String]) throws -> Int32 {
        _ = try parse(args, as: "lock")
        if try client().send(WireMessage(.keyringLock), startAgent: false) != nil {
            out("keyring locked")
        } else {
            out("keyring locked (no agent is running)")
        }
        return ExitStatus.success
    }
}
