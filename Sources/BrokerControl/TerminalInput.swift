// Reading a secret from a person: from the terminal without echo, or from standard input when there is none.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum TerminalInput {
    /// With a terminal on stdin, prompts on /dev/tty and reads one line with echo off; otherwise
    /// reads all of standard input (a pipe or file) and drops one trailing newline.
    static func readSecret(prompt: String) throws -> String {
        if isatty(0) == 1, let tty = FileHandle(forUpdatingAtPath: "/dev/tty") {
            let fd = tty.fileDescriptor
            var saved = termios()
            let canHideEcho = tcgetattr(fd, &saved) == 0
            if canHideEcho {
                var quiet = saved
                quiet.c_lflag &= ~tcflag_t(ECHO)
                quiet.c_lflag |= tcflag_t(ECHONL)
                _ = tcsetattr(fd, TCSAFLUSH, &quiet)
            }
            defer { if canHideEcho { _ = tcsetattr(fd, TCSAFLUSH, &saved) } }
            tty.write(Data(prompt.utf8))
            var line = Data()
            while let byte = try tty.read(upToCount: 1), let b = byte.first, b != 10 { line.append(b) }
            return String(decoding: line, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        }
        var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
