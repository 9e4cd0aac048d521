// `brokerctl unlock`: ask for the file keyring's passphrase once; the agent holds it until `lock` or the idle timeout.

import BrokerWire

extension Brokerctl {
    func unlock(_ args: [String]) throws -> Int32 {
        _ = try parse(args, as: "unlock")
        let passphrase = try TerminalInput.readSecret(prompt: "keyring passphrase: ")
        guard !passphrase.isEmpty else { throw BrokerFailure(.input, "an empty passphrase cannot unlock the keyring") }
        _ = try agent(WireMessage(.keyringUnlock, [.init(WireKey.passphrase, passphrase)]))
        out("keyring unlocked")
        return ExitStatus.success
    }
}
