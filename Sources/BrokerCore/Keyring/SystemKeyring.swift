// The platform split for the `system` keyring: Secret Service on Linux, the login Keychain on macOS.

import BrokerWire

enum SystemKeyring {
    #if os(macOS)
    static func make(environment: Environment, runner: CommandRunner) -> KeychainKeyring { KeychainKeyring() }
    #else
    static func make(environment: Environment, runner: CommandRunner) -> SecretServiceKeyring {
        SecretServiceKeyring(environment: environment, runner: runner)
    }
    #endif
}
