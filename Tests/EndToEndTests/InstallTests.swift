// install.sh for real: this run's own programs installed under a prefix that pass their own
// selftest, and (BROKER_LONG_TESTS=1) a static release build from scratch; the checks around it
// run in a fresh HOME with a stand-in toolchain so that they take no build.

import Foundation
import XCTest

final class InstallTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let installScript = repository + "/install.sh"
    static let programs = ["git-credential-broker", "aws-credential-process", "broker-env-wrap", "docker-credential-broker", "kube-credential-broker", "broker-agent", "brokerctl"]

    /// The default run builds once (README's test command) and installs what that build made:
    /// everything install.sh does after `swift build`, on real programs.
    func testInstallOfThisRunsBuildGivesWorkingTools() throws {
        let sandbox = Sandbox()
        let prefix = sandbox.root + "/prefix"
        for program in Self.programs {
            try FileManager.default.createDirectory(atPath: sandbox.root + "/build/release", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: sandbox.root + "/build/release/" + program,
                                                       withDestinationPath: Sandbox.executable(program))
        }
        let install = sandbox.run("/bin/sh", [Self.installScript, "--prefix", prefix, "--no-build", "--no-install-deps"],
                                  extraEnvironment: ["BROKER_BUILD_DIR": sandbox.root + "/build", "SHELL": "/bin/bash"])
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        XCTAssertTrue(install.stdout.contains("git config --global credential.helper broker"), install.stdout)
        for path in Self.programs.map({ "bin/" + $0 }) + Self.pagesAndCompletions {
            XCTAssertTrue(FileManager.default.fileExists(atPath: prefix + "/" + path), "missing \(path)")
        }
        let selftest = sandbox.run(prefix + "/bin/brokerctl", ["selftest"])
        XCTAssertEqual(selftest.status, 0, selftest.stdout + selftest.stderr)
    }

    static let pagesAndCompletions = [
        "share/man/man1/brokerctl.1", "share/man/man5/credential-broker.5", "share/bash-completion/completions/brokerctl",
        "share/zsh/site-functions/_brokerctl", "share/fish/vendor_completions.d/brokerctl.fish",
    ]

    /// The newcomer's first command from scratch: a second, static release build (about six
    /// minutes on two cores), so it runs with BROKER_LONG_TESTS=1 and not in every test run.
    func testInstallBuildsReleaseAndTheInstalledToolsWork() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["BROKER_LONG_TESTS"] == "1",
                          "a second, release build: set BROKER_LONG_TESTS=1 to run it")
        let sandbox = Sandbox()
        let prefix = sandbox.root + "/prefix"
        // The linker honours LIBRARY_PATH, and so does install.sh's check: a machine without
        // libcurl's development package can point it at a directory holding a libcurl.so link.
        var environment = ["BROKER_BUILD_DIR": Self.repository + "/.build-install", "SHELL": "/bin/bash"]
        environment["LIBRARY_PATH"] = ProcessInfo.processInfo.environment["LIBRARY_PATH"]
        let install = sandbox.run("/bin/sh", [Self.installScript, "--prefix", prefix, "--no-install-deps"],
                                  extraEnvironment: environment, timeout: 900)
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        guard install.status == 0 else { return }
        XCTAssertTrue(install.stdout.contains("git config --global credential.helper broker"), install.stdout)
        XCTAssertFalse(install.stdout.contains("in statically linked applications"), install.stdout)
        XCTAssertTrue(install.stdout.contains("add this line to ~/.bashrc:\n\nexport PATH=\"\(prefix)/bin:$PATH\"\n"), install.stdout)
        for path in Self.programs.map({ "bin/" + $0 }) + Self.pagesAndCompletions {
            XCTAssertTrue(FileManager.default.fileExists(atPath: prefix + "/" + path), "missing \(path)")
        }
        // The adapter loads no shared library at all; the others carry the Swift runtime inside.
        let adapter = sandbox.run("/usr/bin/ldd", [prefix + "/bin/git-credential-broker"])
        XCTAssertTrue((adapter.stdout + adapter.stderr).contains("not a dynamic executable"), adapter.stdout)
        let agent = sandbox.run("/usr/bin/ldd", [prefix + "/bin/broker-agent"])
        XCTAssertFalse(agent.stdout.contains("libswiftCore"), agent.stdout)
        XCTAssertFalse(agent.stdout.contains("libFoundation"), agent.stdout)
        let selftest = sandbox.run(prefix + "/bin/brokerctl", ["selftest"])
        XCTAssertEqual(selftest.status, 0, selftest.stderr)
    }

    func testMissingLibcurlDevelopmentLibraryStopsBeforeBuildingWithTheCommandThatInstallsIt() throws {
        try XCTSkipUnless(Self.isDebianFamily, "the expected command is apt-get's")
        let sandbox = Sandbox()
        let toolchain = StandInToolchain(sandbox)
        let started = Date()
        let install = sandbox.run("/bin/sh", [Self.installScript, "--prefix", sandbox.root + "/prefix", "--no-install-deps"],
                                  extraEnvironment: toolchain.environment, timeout: 60)
        let seconds = Date().timeIntervalSince(started)

        XCTAssertEqual(install.status, 1, install.stderr)
        let runCommand = geteuid() == 0 ? "apt-get install libcurl4-openssl-dev" : "sudo apt-get install libcurl4-openssl-dev"
        XCTAssertEqual(install.stderr, "install.sh: libcurl's development library is missing; run: \(runCommand)\n")
        XCTAssertEqual(install.stdout, "")
        XCTAssertFalse(toolchain.swiftRan, "install.sh started a build")
        XCTAssertFalse(FileManager.default.fileExists(atPath: toolchain.buildDirectory))
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/prefix"))
        XCTAssertLessThan(seconds, 5)
    }

    func testLibcurlOnLibraryPathSatisfiesTheCheck() {
        let sandbox = Sandbox()
        let toolchain = StandInToolchain(sandbox)
        let libraries = sandbox.write("lib/libcurl.so", "")
        let install = sandbox.run("/bin/sh", [Self.installScript, "--prefix", sandbox.root + "/prefix", "--no-install-deps"],
                                  extraEnvironment: toolchain.environment.merging(
                                      ["LIBRARY_PATH": "/nonexistent:" + (libraries as NSString).deletingLastPathComponent]) { $1 })
        XCTAssertTrue(toolchain.swiftRan, install.stderr)
        XCTAssertFalse(install.stderr.contains("is missing"), install.stderr)
    }

    func testKnownLinkerWarningsAreHiddenAndBuildErrorsStillShow() {
        let sandbox = Sandbox()
        let toolchain = StandInToolchain(sandbox, libcurlOnSearchPath: true, swiftOutput: """
            Building for production...
            /src/BrokerPaths.swift:58: warning: Using 'getpwuid' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
            libswiftCore.a(LibPrespecialized.cpp.o):function findLibPrespecialized(): warning: Using 'dlopen' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
            libFoundationEssentials.a(Data+Writing.swift.o):function createTemporaryFile: warning: the use of `mktemp' is dangerous, better use `mkstemp' or `mkdtemp'
            /src/main.swift:3:1: error: cannot find 'x' in scope
            """, swiftStatus: 1)
        let install = sandbox.run("/bin/sh", [Self.installScript, "--prefix", sandbox.root + "/prefix", "--no-install-deps"],
                                  extraEnvironment: toolchain.environment)
        XCTAssertEqual(install.status, 1)
        XCTAssertEqual(install.stdout, """
            Building for production...
            /src/main.swift:3:1: error: cannot find 'x' in scope
            install.sh: 3 known linker warnings hidden (glibc calls in static programs, mktemp in the static Foundation); they are expected

            """)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/prefix"))
    }

    func testHelpNamesAllFiveProgramsAndWhatElseItInstalls() {
        let sandbox = Sandbox()
        let help = sandbox.run("/bin/sh", [Self.installScript, "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        for program in Self.programs {
            XCTAssertTrue(help.stdout.contains(program), "--help does not name \(program)")
        }
        for other in ["manual pages", "bash completions", "zsh completions", "fish completions", "--no-install-deps"] {
            XCTAssertTrue(help.stdout.contains(other), "--help does not name \(other)")
        }
    }

    /// $SHELL → the note's instruction and the line itself, for the default prefix ~/.local.
    func testBinDirectoryOffPathPrintsTheLineForTheUsersShell() {
        let table: [(shell: String, instruction: String, line: String)] = [
            ("/bin/bash", "add this line to ~/.bashrc:", #"export PATH="$HOME/.local/bin:$PATH""#),
            ("/usr/bin/zsh", "add this line to ~/.zshrc:", #"export PATH="$HOME/.local/bin:$PATH""#),
            ("/usr/bin/fish", "run this once in fish:", "fish_add_path ~/.local/bin"),
            ("/bin/dash", "add this line to ~/.profile:", #"export PATH="$HOME/.local/bin:$PATH""#),
        ]
        for row in table {
            let sandbox = Sandbox()
            let home = sandbox.environment["HOME"]!
            let install = sandbox.run("/bin/sh", [Self.installScript, "--no-build", "--no-install-deps"], extraEnvironment: [
                "SHELL": row.shell, "BROKER_BUILD_DIR": Self.standInReleaseBuild(sandbox),
            ])
            XCTAssertEqual(install.status, 0, install.stderr)
            XCTAssertTrue(install.stdout.contains("""
                note: \(home)/.local/bin is not on your PATH, and git finds git-credential-broker there; \(row.instruction)

                \(row.line)

                """), "\(row.shell):\n\(install.stdout)")
        }
    }

    func testBinDirectoryOnPathPrintsNoLineToAdd() {
        let sandbox = Sandbox()
        let home = sandbox.environment["HOME"]!
        let install = sandbox.run("/bin/sh", [Self.installScript, "--no-build", "--no-install-deps"], extraEnvironment: [
            "SHELL": "/bin/bash", "BROKER_BUILD_DIR": Self.standInReleaseBuild(sandbox),
            "PATH": home + "/.local/bin:" + sandbox.environment["PATH"]!,
        ])
        XCTAssertEqual(install.status, 0, install.stderr)
        XCTAssertTrue(install.stdout.contains("which has \(home)/.local/bin"), install.stdout)
        XCTAssertFalse(install.stdout.contains("export PATH"), install.stdout)
    }

    static var isDebianFamily: Bool {
        let release = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        return release.split(separator: "\n").contains {
            ($0.hasPrefix("ID=") || $0.hasPrefix("ID_LIKE=")) && ($0.contains("debian") || $0.contains("ubuntu"))
        }
    }

    /// A release folder of stub programs for `--no-build`: what is installed, without building it.
    static func standInReleaseBuild(_ sandbox: Sandbox) -> String {
        for program in programs {
            sandbox.write("build/release/" + program, "#!/bin/sh\n", mode: 0o755)
        }
        return sandbox.root + "/build"
    }
}

/// The C compiler drivers and swift that install.sh finds first on PATH. The drivers answer
/// `-print-file-name=libcurl.so` as a real one does when no directory on its search path holds
/// the file (the bare name), unless `libcurlOnSearchPath`; swift records that it ran, prints
/// `swiftOutput` and exits with `swiftStatus`. The real linker, git and everything else stay on PATH.
struct StandInToolchain {
    let directory: String
    let buildDirectory: String
    let environment: [String: String]

    init(_ sandbox: Sandbox, libcurlOnSearchPath: Bool = false, swiftOutput: String = "", swiftStatus: Int32 = 1) {
        directory = sandbox.root + "/toolchain"
        buildDirectory = sandbox.root + "/build"
        let libcurl = libcurlOnSearchPath ? sandbox.write("lib/libcurl.so", "") : "libcurl.so"
        for driver in ["clang", "cc", "gcc"] {
            sandbox.write("toolchain/" + driver, """
                #!/bin/sh
                case $1 in -print-file-name=libcurl.so) echo \(libcurl) ;; *) echo "stand-in \(driver): $*" >&2; exit 1 ;; esac

                """, mode: 0o755)
        }
        sandbox.write("toolchain/swift-output", swiftOutput.isEmpty ? "" : swiftOutput + "\n")
        sandbox.write("toolchain/swift", """
            #!/bin/sh
            touch "\(directory)/swift-ran"
            cat "\(directory)/swift-output"
            exit \(swiftStatus)

            """, mode: 0o755)
        environment = ["PATH": directory + ":" + sandbox.environment["PATH"]!, "BROKER_BUILD_DIR": buildDirectory]
    }

    var swiftRan: Bool { FileManager.default.fileExists(atPath: directory + "/swift-ran") }
}
