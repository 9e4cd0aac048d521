// Every generated documentation file, by the path it has under the source tree and the install.

import BrokerFrontends
import BrokerWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Documentation {
    /// Man pages and completions for every executable in the catalog, with paths relative to
    /// the directory they are written into (`man/man1/brokerctl.1`, `completions/zsh/_brokerctl`).
    /// `brokerctl generate-docs DIR` writes them; install.sh copies the committed ones.
    public static func files() -> [(path: String, contents: String)] {
        var files: [(path: String, contents: String)] = []
        for command in CommandCatalog.commands {
            let page = ManualRenderer.page(for: command)
            files.append(("man/" + page.relativePath, ManualRenderer.render(page)))
        }
        for page in CommandCatalog.manuals {
            files.append(("man/" + page.relativePath, ManualRenderer.render(page)))
        }
        for command in CommandCatalog.commands {
            files.append(("completions/bash/\(command.name)", CompletionRenderer.bash(command)))
        }
        for command in CommandCatalog.commands {
            files.append(("completions/zsh/_\(command.name)", CompletionRenderer.zsh(command)))
        }
        for command in CommandCatalog.commands {
            files.append(("completions/fish/\(command.name).fish", CompletionRenderer.fish(command)))
        }
        return files
    }

    /// The directories `files()` writes into, parents first, for a writer that must create them.
    public static func directories() -> [String] {
        var seen: [String] = []
        for file in files() {
            var parts = file.path.split(separator: "/").dropLast()
            var chain: [String] = []
            while !parts.isEmpty {
                chain.insert(parts.joined(separator: "/"), at: 0)
                parts = parts.dropLast()
            }
            for directory in chain where !seen.contains(directory) { seen.append(directory) }
        }
        return seen
    }

    /// Writes `files()` under `directory` (created if missing), as `brokerctl generate-docs DIR`
    /// does. Files are public documentation, so 0644 in 0755 directories, not the 0700 the
    /// broker's own state uses. Returns the paths written.
    @discardableResult
    public static func write(to directory: String) throws -> [String] {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        for sub in [""] + directories().map({ "/" + $0 }) {
            let path = (base.isEmpty ? "." : base) + sub
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw BrokerFailure(.config, "cannot create directory \(path): \(Errno.current)")
            }
        }
        var written: [String] = []
        for file in files() {
            let path = (base.isEmpty ? "." : base) + "/" + file.path
            let descriptor: FileDescriptor
            do {
                descriptor = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: 0o644)
            } catch {
                throw BrokerFailure(.config, "cannot write \(path): \(error)")
            }
            try descriptor.closeAfter { try descriptor.writeAll(file.contents) }
            written.append(path)
        }
        return written
    }
}
