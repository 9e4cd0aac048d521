// Reading a fixture's first line of output (its port, or a JSON line of endpoints) with a deadline.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum FixtureOutput {
    /// Bytes read from `fd` until a newline, the deadline, end of file, or `alive` turning false:
    /// a broken fixture must never hang a test run. The caller takes the part before the newline.
    static func firstLine(_ fd: Int32, within seconds: TimeInterval, while alive: () -> Bool = { true }) -> [UInt8] {
        var line: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        while !line.contains(10) && Date() < deadline && alive() {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            line += chunk[0..<n]
        }
        return line
    }
}
