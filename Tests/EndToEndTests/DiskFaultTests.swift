// The agent on a full and on a read-only disk. The cache and state directories sit on a 1 MiB
// tmpfs mounted in the agent's own mount namespace (unshare; these tests run as root, as CI
// does), filled up or remounted read-only before the agent starts. Credentials are still
// served, `brokerctl status` says what is wrong, and nothing already on disk is damaged.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class DiskFaultTests: XCTestCase {
    typealias Kit = AgentProcessKit

    enum Fault: String { case full, readonly }

    /// Runs `fault` against an agent whose cache already holds identity "kept" (obtained by a
    /// healthy agent first), and returns what the faulted agent's namespace holds afterwards.
    func exercise(_ fault: Fault, file: StaticString = #filePath, line: UInt = #line) throws {
        guard geteuid() == 0 else {
            return XCTFail("mounting a tmpfs in a mount namespace needs root (CI runs as root)", file: file, line: line)
        }
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let volume = sandbox.root + "/vol"
        sandbox.environment["XDG_CACHE_HOME"] = volume + "/cache"
        sandbox.environment["XDG_STATE_HOME"] = volume + "/state"
        let kept = Kit.mintScript(sandbox, name: "kept-mint", password: "tok-kept")
        let fresh = Kit.mintScript(sandbox, name: "fresh-mint", password: "tok-fresh")
        sandbox.writeConfig("""
            [identity "kept"]
            \tkind = exec
            \tcommand = \(kept.script)
            [identity "fresh"]
            \tkind = exec
            \tcommand = \(fresh.script)
            [git "https://kept.example"]
            \tidentity = kept
            [git "https://fresh.example"]
            \tidentity = fresh

            """)

        // A healthy agent caches "kept" on the real disk, then stops.
        XCTAssertEqual(Kit.helperGet(sandbox, host: "kept.example").status, 0, file: file, line: line)
        Kit.stopAgents(sandbox)
        let entries = sandbox.paths.cacheEntriesDirectory
        let keptFiles = Kit.cacheFiles(sandbox)
        XCTAssertEqual(keptFiles.count, 1, "\(keptFiles)", file: file, line: line)
        let keptBytes = try Data(contentsOf: URL(fileURLWithPath: entries + "/" + keptFiles[0]))

        // The next agent starts through this wrapper: its own mount namespace, the volume copied
        // onto a small tmpfs over itself, then filled to the last block or remounted read-only.
        let wrapper = sandbox.write("bin/agent-on-faulty-disk", """
            #!/bin/sh
            exec unshare --mount --propagation private /bin/sh -ec '
              seed=$(mktemp -d)
              cp -a "$0"/. "$seed"/
              mount -t tmpfs -o size=1m,mode=0700 cb-disk-fault "$0"
              cp -a "$seed"/. "$0"/
              rm -rf "$seed"
              case "$1" in
                full) dd if=/dev/zero of="$0/filler" bs=4096 2>/dev/null || true ;;
                readonly) mount -o remount,ro "$0" ;;
              esac
              shift
              exec "$@"
            ' "\(volume)" "\(fault.rawValue)" "\(Sandbox.executable("broker-agent"))" "$@"

            """, mode: 0o755)
        sandbox.environment["BROKER_AGENT"] = wrapper

        // The cached identity is served from the old file.
        let fromDisk = Kit.helperGet(sandbox, host: "kept.example")
        XCTAssertEqual(fromDisk.status, 0, fromDisk.stderr, file: file, line: line)
        XCTAssertTrue(fromDisk.stdout.contains("password=tok-kept\n"), fromDisk.stdout, file: file, line: line)
        XCTAssertEqual(Kit.runs(sandbox, kept.counter), 1, "served from the disk cache", file: file, line: line)
        guard let pid = sandbox.agentPID else { return XCTFail("no agent", file: file, line: line) }
        // What the agent sees, through its own mount namespace.
        let seen = "/proc/\(pid)/root"
        XCTAssertTrue(sandbox.read("/proc/\(pid)/mountinfo").contains("cb-disk-fault"), "the agent runs on the faulty volume", file: file, line: line)

        // A new credential cannot be written, and is served all the same.
        let minted = Kit.helperGet(sandbox, host: "fresh.example")
        XCTAssertEqual(minted.status, 0, minted.stderr, file: file, line: line)
        XCTAssertTrue(minted.stdout.contains("password=tok-fresh\n"), minted.stdout, file: file, line: line)
        XCTAssertEqual(minted.stderr, "", file: file, line: line)
        let again = Kit.helperGet(sandbox, host: "fresh.example")
        XCTAssertTrue(again.stdout.contains("password=tok-fresh\n"), again.stdout, file: file, line: line)
        XCTAssertEqual(Kit.runs(sandbox, fresh.counter), 1, "kept in memory", file: file, line: line)

        // brokerctl status names the problem.
        let expected = fault == .full ? "No space left on device" : "Read-only file system"
        let status = sandbox.broker("brokerctl", ["status"])
        XCTAssertEqual(status.status, 0, status.stderr, file: file, line: line)
        XCTAssertTrue(status.stdout.contains("cache error: cannot write") && status.stdout.contains(expected),
                      status.stdout, file: file, line: line)
        XCTAssertTrue(status.stdout.contains("kept in memory only"), status.stdout, file: file, line: line)
        if fault == .readonly {
            XCTAssertTrue(status.stdout.contains("audit error: cannot open") && status.stdout.contains(expected),
                          status.stdout, file: file, line: line)
        }
        XCTAssertEqual(Kit.isAlive(pid), true, file: file, line: line)

        // Nothing on the volume was damaged: the old entry byte for byte, no temp file, no
        // entry for "fresh", and the audit log (if anything reached it) in whole lines.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: seen + entries)) ?? []
        XCTAssertEqual(names.sorted(), keptFiles, file: file, line: line)
        XCTAssertEqual(try? Data(contentsOf: URL(fileURLWithPath: seen + entries + "/" + keptFiles[0])), keptBytes, file: file, line: line)
        for record in sandbox.read(seen + sandbox.paths.auditLogPath).split(separator: "\n") {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(record.utf8)), "torn audit line: \(record)", file: file, line: line)
        }
        // Once the disk is healthy again, a new agent writes as before.
        Kit.stopAgents(sandbox)
        sandbox.environment["BROKER_AGENT"] = nil
        XCTAssertEqual(Kit.helperGet(sandbox, host: "fresh.example").status, 0, file: file, line: line)
        XCTAssertEqual(Kit.cacheFiles(sandbox).count, 2, "\(Kit.cacheFiles(sandbox))", file: file, line: line)
        XCTAssertEqual(try? Data(contentsOf: URL(fileURLWithPath: entries + "/" + keptFiles[0])), keptBytes, file: file, line: line)
    }

    func testFullDiskServesFromMemoryAndSaysSo() throws {
        try exercise(.full)
    }

    func testReadOnlyCacheDirectoryServesFromMemoryAndSaysSo() throws {
        try exercise(.readonly)
    }
}
