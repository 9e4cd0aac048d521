// Asking a person for one line (an MFA code, a secret): on the terminal, optionally without echo, or from a pipe.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TerminalPrompt {
    /// Whether a person can be asked: standard input and standard error are both a terminal.
    public static var isInteractive: Bool { isatty(0) == 1 && isatty(2) == 1 }

    /// Writes `prompt` to standard error and reads one line from standard input, without echo
    /// when `echo` is false and standard input is a terminal (echo is restored afterwards, also
    /// when the read fails). Without a terminal it reads one line from the pipe, with no prompt
    /// noise beyond `prompt`. nil at end of input.
    public static func readLine(_ prompt: String, echo: Bool = true) -> String? {
        var saved = termios()
        let terminal = isatty(0) == 1 && tcgetattr(0, &saved) == 0
        if terminal && !echo {
            // Echo off before the prompt shows: whatever is typed once the prompt is visible
            // must never reach the screen (getpass's order).
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(0, TCSAFLUSH, &quiet)
        }
        try? FileDescriptor.standardError.writeAll(prompt)
        defer {
            if terminal && !echo {
                _ = tcsetattr(0, TCSAFLUSH, &saved)
                try? FileDescriptor.standardError.writeAll("\n")  // the Enter the person typed was not echoed
            }
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = readByte(0, &byte)
            if n <= 0 { return line.isEmpty ? nil : decode(line) }
            if byte == 10 { return decode(line) }
            line.append(byte)
            if line.count > 64 * 1024 { return decode(line) }
        }
    }

    static func decode(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        while text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    private static func readByte(_ fd: Int32, _ byte: inout UInt8) -> Int {
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }
}
