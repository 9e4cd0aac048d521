// swift-tools-version:5.9
// credential-broker: one agent and thin adapters that hand short-lived credentials to git, AWS
// tools and wrapped commands. No package dependencies by design (DESIGN D1).
import PackageDescription

/// Adapters run on every git and AWS call: release builds link them fully static, so start-up
/// loads no shared library at all (not even libstdc++, which the static Swift runtime needs).
let adapterLinking: [LinkerSetting] = [
    .unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "credential-broker",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "git-credential-broker", targets: ["git-credential-broker"]),
        .executable(name: "broker-agent", targets: ["broker-agent"]),
        .executable(name: "brokerctl", targets: ["brokerctl"]),
        .executable(name: "aws-credential-process", targets: ["aws-credential-process"]),
        .executable(name: "broker-env-wrap", targets: ["broker-env-wrap"]),
        .executable(name: "docker-credential-broker", targets: ["docker-credential-broker"]),
        .executable(name: "kube-credential-broker", targets: ["kube-credential-broker"]),
    ],
    targets: [
        /** Foundation-free: key=value codec, secrets, paths, agent client and spawn, exit codes, env plans. */
        .target(name: "BrokerWire", dependencies: ["CBrokerSystem"]),
        /** libc calls Swift's Glibc module hides behind _GNU_SOURCE (SO_PEERCRED, accept4). */
        .target(name: "CBrokerSystem"),
        /** Foundation-free: the adapters' front ends, the command catalog and its terminal usage text. */
        .target(name: "BrokerFrontends", dependencies: ["BrokerWire"]),
        /** Config, model, chain resolver, secret sources, cache, identity kinds, crypto. */
        .target(name: "BrokerCore", dependencies: ["BrokerWire"]),
        /** The agent: socket loop, single-flight, git credential store, audit. */
        .target(name: "BrokerAgent", dependencies: ["BrokerCore", "BrokerFrontends"]),
        /** brokerctl's subcommands, and the man pages and completions generated from the catalog. */
        .target(name: "BrokerControl", dependencies: ["BrokerCore", "BrokerFrontends"]),

        /** git's credential helper; links BrokerFrontends and BrokerWire only. */
        .executableTarget(name: "git-credential-broker", dependencies: ["BrokerFrontends"],
                          linkerSettings: adapterLinking),
        /** The AWS SDKs' credential_process; links BrokerFrontends and BrokerWire only. */
        .executableTarget(name: "aws-credential-process", dependencies: ["BrokerFrontends"],
                          linkerSettings: adapterLinking),
        /** Runs a command with credentials in its environment or behind a loopback endpoint; links BrokerFrontends and BrokerWire only. */
        .executableTarget(name: "broker-env-wrap", dependencies: ["BrokerFrontends"],
                          linkerSettings: adapterLinking),
        /** docker's credential helper (docker, podman, skopeo, crane); links BrokerFrontends and BrokerWire only. */
        .executableTarget(name: "docker-credential-broker", dependencies: ["BrokerFrontends"],
                          linkerSettings: adapterLinking),
        /** client-go's exec credential plugin (kubectl); links BrokerFrontends and BrokerWire only. */
        .executableTarget(name: "kube-credential-broker", dependencies: ["BrokerFrontends"],
                          linkerSettings: adapterLinking),
        /** The per-user agent. */
        .executableTarget(name: "broker-agent", dependencies: ["BrokerAgent"]),
        /** A person's window into the agent and the config. */
        .executableTarget(name: "brokerctl", dependencies: ["BrokerControl"]),

        /** The codec, the env plan and JSON text. */
        .testTarget(name: "BrokerWireTests", dependencies: ["BrokerWire"]),
        /** The adapters' option parsing, requests and env-wrap output, without a process. */
        .testTarget(name: "BrokerFrontendsTests", dependencies: ["BrokerFrontends"]),
        /** Config syntax, kinds, cache and resolver, crypto and SigV4 against published vectors. */
        .testTarget(name: "BrokerCoreTests", dependencies: ["BrokerCore"]),
        /** Leases, rate limits and the git credential store, in process. */
        .testTarget(name: "BrokerAgentTests", dependencies: ["BrokerAgent"]),
        /** The generated documentation against the catalog, the committed files and the kinds. */
        .testTarget(name: "BrokerControlTests", dependencies: ["BrokerControl"]),
        /** Runs the built executables under real git, the aws CLI and boto3 against moto_server. */
        .testTarget(name: "EndToEndTests", dependencies: ["BrokerWire", "BrokerCore"], exclude: ["Fixtures"]),
    ]
)
