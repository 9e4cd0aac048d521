// The one description of every executable, from which --help, man pages and completions are made.
//
// Text fields use one piece of markup: `backticks` mark literal text (commands, keys, paths),
// shown bold in man pages and without the backticks in terminal help. Everything here stays
// Foundation-free because the adapters that print --help must start as fast as a C program.

/// How a shell completes an option's value or a positional argument.
public enum ValueCompletion: Sendable, Equatable {
    /// Free text, such as a number or a duration: nothing to offer.
    case none
    case choices([String])
    case file
    case directory
    /// Identity names, from `brokerctl list --names`.
    case identity
    /// Names of the identities that can serve one use, from `brokerctl list --names --for USE`.
    case identityFor(IdentityUse)
}

/// What an identity is completed for: only kinds that can answer it are offered.
public enum IdentityUse: String, Sendable, CaseIterable {
    /// Kinds that give AWS credentials (aws-credential-process --identity).
    case aws
    /// Kinds with a login step (brokerctl login).
    case login
    /// Kinds with one credential to describe, not leased pools (brokerctl whoami).
    case whoami
}

/// A term and its explanation: an option, an exit status, a variable, a file.
public struct Definition: Sendable {
    public enum Style: Sendable {
        /// Set like a synopsis: options and words bold, METAVARIABLES italic.
        case synopsis
        /// Set bold as a whole: variable names, paths.
        case literal
        case plain
    }

    public var term: String
    public var style: Style
    public var paragraphs: [String]
    /// Definitions indented under this one (a subcommand's options).
    public var nested: [Definition]

    public init(_ term: String, style: Style = .literal, _ paragraphs: [String], nested: [Definition] = []) {
        self.term = term
        self.style = style
        self.paragraphs = paragraphs
        self.nested = nested
    }

    public init(_ term: String, style: Style = .literal, _ paragraph: String) {
        self.init(term, style: style, [paragraph])
    }
}

/// One piece of a manual section.
public enum ManualBlock: Sendable {
    case paragraph(String)
    case definitions([Definition])
    /// Literal lines shown verbatim, such as commands or a configuration excerpt.
    case code(String)
    case bullets([String])
    case subheading(String)
    /// Synopsis lines, each set like a command line.
    case synopsis([String])
}

public struct ManualSection: Sendable {
    public var title: String
    public var blocks: [ManualBlock]

    public init(_ title: String, _ blocks: [ManualBlock]) {
        self.title = title
        self.blocks = blocks
    }
}

/// A manual page as sections; the renderer adds the header and NAME.
public struct ManualPage: Sendable {
    public var name: String
    public var section: Int
    public var summary: String
    public var sections: [ManualSection]

    public init(name: String, section: Int, summary: String, sections: [ManualSection]) {
        self.name = name
        self.section = section
        self.summary = summary
        self.sections = sections
    }

    /// Where the page lives under a man directory: `man1/brokerctl.1`.
    public var relativePath: String { "man\(section)/\(name).\(section)" }
}

public struct CommandOption: Sendable {
    /// With its dashes: `--timeout`.
    public var long: String
    public var short: String?
    /// The metavariable of the option's value, nil for a flag.
    public var value: String?
    /// Whether the synopsis writes `--timeout=SECONDS` rather than `--timeout SECONDS` (both parse).
    public var joinsWithEquals: Bool
    public var completion: ValueCompletion
    /// One or two sentences, used by --help, the man page and (first sentence) completions.
    public var help: String
    /// Further paragraphs for the man page only.
    public var details: [String]

    public init(_ long: String, short: String? = nil, value: String? = nil, equals: Bool = false,
                completion: ValueCompletion = .none, _ help: String, details: [String] = []) {
        self.long = long
        self.short = short
        self.value = value
        self.joinsWithEquals = equals
        self.completion = completion
        self.help = help
        self.details = details
    }

    /// `-h, --help`, `--timeout=SECONDS`, `--format table|json`.
    public var term: String {
        var text = short.map { "\($0), " } ?? ""
        text += long
        if let value { text += (joinsWithEquals ? "=" : " ") + value }
        return text
    }

    public static let help = CommandOption("--help", short: "-h", "Print this help and exit.")
}

/// A positional argument; `values` lists fixed words (git's operations) with their meaning.
public struct CommandArgument: Sendable {
    public var name: String
    public var completion: ValueCompletion
    public var help: String
    public var values: [Definition]

    public init(_ name: String, completion: ValueCompletion = .none, _ help: String, values: [Definition] = []) {
        self.name = name
        self.completion = completion
        self.help = help
        self.values = values
    }
}

public struct Subcommand: Sendable {
    public var name: String
    /// What follows the name in a synopsis: `[--format table|json]`.
    public var arguments: String
    /// One sentence for --help and completions.
    public var summary: String
    /// Further paragraphs for the man page and the subcommand's own --help.
    public var details: [String]
    public var options: [CommandOption]
    public var positionals: [CommandArgument]

    public init(_ name: String, arguments: String = "", summary: String, details: [String] = [],
                options: [CommandOption] = [], positionals: [CommandArgument] = []) {
        self.name = name
        self.arguments = arguments
        self.summary = summary
        self.details = details
        self.options = options
        self.positionals = positionals
    }

    public var synopsis: String { arguments.isEmpty ? name : "\(name) \(arguments)" }
}

public struct Example: Sendable {
    public var text: String
    public var code: String

    public init(_ text: String, _ code: String) {
        self.text = text
        self.code = code
    }
}

/// Everything a person or a shell needs to know about one executable.
public struct CommandDescription: Sendable {
    public var name: String
    /// Lower-case fragment after "name - " in NAME and at the top of --help.
    public var summary: String
    /// Full synopsis lines, each starting with the name. Subcommand lines are added from `subcommands`.
    public var synopsis: [String]
    public var description: [ManualBlock]
    public var options: [CommandOption]
    public var arguments: [CommandArgument]
    public var subcommands: [Subcommand]
    /// Sections of the man page between OPTIONS and EXIT STATUS.
    public var sections: [ManualSection]
    public var exitStatus: [Definition]
    public var environment: [Definition]
    public var files: [Definition]
    public var examples: [Example]
    public var seeAlso: [String]

    public init(name: String, summary: String, synopsis: [String], description: [ManualBlock],
                options: [CommandOption], arguments: [CommandArgument] = [], subcommands: [Subcommand] = [],
                sections: [ManualSection] = [], exitStatus: [Definition], environment: [Definition],
                files: [Definition], examples: [Example], seeAlso: [String]) {
        self.name = name
        self.summary = summary
        self.synopsis = synopsis
        self.description = description
        self.options = options
        self.arguments = arguments
        self.subcommands = subcommands
        self.sections = sections
        self.exitStatus = exitStatus
        self.environment = environment
        self.files = files
        self.examples = examples
        self.seeAlso = seeAlso
    }

    /// The prefix of every subcommand's synopsis line: the name and the global options that take
    /// a value (`brokerctl [--config FILE]`).
    public var subcommandPrefix: String {
        let globals = options.filter { $0.value != nil }.map { "[\($0.term)]" }
        return ([name] + globals).joined(separator: " ")
    }

    /// Every option the command accepts anywhere, its subcommands' included.
    public var allOptions: [CommandOption] {
        options + subcommands.flatMap(\.options)
    }

    public func subcommand(named name: String) -> Subcommand? {
        subcommands.first { $0.name == name }
    }
}

public enum CommandCatalog {
    /// The executables that link this module, whose --help is printed from here; brokerctl's
    /// description and the whole list live in BrokerControl.
    public static let frontendCommands: [CommandDescription] = [gitCredentialBroker, awsCredentialProcess, brokerEnvWrap, dockerCredentialBroker, kubeCredentialBroker, brokerAgent]

    /// The `--help` text of `command`, or of its subcommand; an unknown subcommand gets the
    /// command's text.
    public static func usage(of command: CommandDescription, subcommand: String? = nil) -> String {
        if let name = subcommand, let sub = command.subcommand(named: name) {
            return UsageRenderer.render(sub, of: command)
        }
        return UsageRenderer.render(command)
    }

    /// The synopsis alone, `usage: …` lines, for printing after a usage error (exit 64).
    public static func shortUsage(of command: CommandDescription, subcommand: String? = nil) -> String {
        if let name = subcommand, let sub = command.subcommand(named: name) {
            return "usage: \(command.subcommandPrefix) \(sub.synopsis)"
        }
        return UsageRenderer.usageLines(command.synopsis)
    }
}

/// Terminal help: plain text wrapped to 80 columns.
enum UsageRenderer {
    static let width = 80

    static func render(_ command: CommandDescription) -> String {
        var out = usageLines(command.synopsis) + "\n\n"
        out += wrap("\(command.name) - \(command.summary)", indent: 0) + "\n"
        for argument in command.arguments where !argument.values.isEmpty {
            out += "\n\(argument.name.lowercased()):\n"
            out += table(argument.values.map { ($0.term, $0.paragraphs.first ?? "") })
        }
        if !command.subcommands.isEmpty {
            out += "\nsubcommands:\n"
            for sub in command.subcommands {
                out += "  " + sub.synopsis + "\n" + wrap(sub.summary, indent: 6) + "\n"
            }
        }
        if !command.options.isEmpty {
            out += "\noptions:\n" + table(command.options.map { ($0.term, $0.help) })
        }
        if !command.subcommands.isEmpty {
            out += "\nRun `\(command.name) SUBCOMMAND --help` for a subcommand's options."
        }
        out += "\nSee \(command.name)(1) for details and examples.\n"
        return plain(out)
    }

    static func render(_ sub: Subcommand, of command: CommandDescription) -> String {
        var out = "usage: \(command.subcommandPrefix) \(sub.synopsis)\n\n"
        out += wrap(sub.summary, indent: 0) + "\n"
        for paragraph in sub.details {
            out += "\n" + wrap(paragraph, indent: 0) + "\n"
        }
        let arguments = sub.positionals.map { ($0.name, $0.help) }
        if !arguments.isEmpty {
            out += "\narguments:\n" + table(arguments)
        }
        if !sub.options.isEmpty {
            out += "\noptions:\n" + table(sub.options.map { ($0.term, $0.help) })
        }
        out += "\nSee \(command.name)(1) for details and examples.\n"
        return plain(out)
    }

    static func usageLines(_ synopsis: [String]) -> String {
        var lines: [String] = []
        for (index, line) in synopsis.enumerated() {
            lines.append((index == 0 ? "usage: " : "       ") + line)
        }
        return lines.joined(separator: "\n")
    }

    /// Two columns: terms indented two spaces, explanations aligned after the longest short term.
    static func table(_ rows: [(String, String)]) -> String {
        let limit = 24
        let column = min(limit, (rows.map { $0.0.count }.filter { $0 + 4 <= limit }.max() ?? 0) + 4)
        var out = ""
        for (term, text) in rows {
            let lead = "  " + term
            if lead.count + 2 <= column {
                let body = wrap(text, indent: column)
                out += lead + body.dropFirst(lead.count) + "\n"
            } else {
                out += lead + "\n" + wrap(text, indent: column) + "\n"
            }
        }
        return out
    }

    /// Greedy word wrap; every line is indented by `indent` spaces.
    static func wrap(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = pad + word
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = pad + word
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    /// Removes the catalog's `literal` markup, which a terminal cannot show.
    static func plain(_ text: String) -> String {
        String(text.filter { $0 != "`" })
    }
}
