// Reading a secret from a person: from the terminal without echo, or from standard input when there is none.

import BrokerWire
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum TerminalInput {
    /// With a terminal on stdin, prompts and reads one line with echo off (TerminalPrompt);
    /// otherwise reads all of standard input (a pipe or file, so a multi-line key fits) and drops
    /// one trailing newline.
    static func readSecret(prompt: String) throws -> String {
        if isatty(0) == 1 {
            return TerminalPrompt.readLine(prompt, echo: false) ?? ""
        }
        var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
