// Turns catalog descriptions into roff man pages (man(7) macros that groff and mandoc both read).

import BrokerFrontends

public enum ManualRenderer {
    /// The page of an executable, in section 1.
    public static func render(_ command: CommandDescription) -> String {
        render(page(for: command))
    }

    /// Arranges a command's description in the usual order of a section 1 page.
    public static func page(for command: CommandDescription) -> ManualPage {
        var synopsis = command.synopsis
        for sub in command.subcommands {
            synopsis.append("\(command.subcommandPrefix) \(sub.synopsis)")
        }
        var sections = [
            ManualSection("SYNOPSIS", [.synopsis(synopsis)]),
            ManualSection("DESCRIPTION", command.description),
        ]
        if !command.subcommands.isEmpty {
            sections.append(ManualSection("SUBCOMMANDS", [.definitions(command.subcommands.map { sub in
                Definition(sub.synopsis, style: .synopsis, [sub.summary] + sub.details,
                           nested: sub.positionals.map(definition) + sub.options.map(definition))
            })]))
        }
        for argument in command.arguments where !argument.values.isEmpty {
            let title = argument.name + "S"
            sections.append(ManualSection(title, [.paragraph(argument.help), .definitions(argument.values)]))
        }
        if !command.options.isEmpty {
            sections.append(ManualSection("OPTIONS", [.definitions(command.options.map(definition))]))
        }
        sections += command.sections
        sections.append(ManualSection("EXIT STATUS", [.definitions(command.exitStatus)]))
        if !command.environment.isEmpty {
            sections.append(ManualSection("ENVIRONMENT", [.definitions(command.environment)]))
        }
        if !command.files.isEmpty {
            sections.append(ManualSection("FILES", [.definitions(command.files)]))
        }
        if !command.examples.isEmpty {
            sections.append(ManualSection("EXAMPLES", command.examples.flatMap { [ManualBlock.paragraph($0.text), .code($0.code)] }))
        }
        if !command.seeAlso.isEmpty {
            sections.append(ManualSection("SEE ALSO", [.paragraph(command.seeAlso.joined(separator: ", "))]))
        }
        return ManualPage(name: command.name, section: 1, summary: command.summary, sections: sections)
    }

    static func definition(_ option: CommandOption) -> Definition {
        Definition(option.term, style: .synopsis, [option.help] + option.details)
    }

    static func definition(_ argument: CommandArgument) -> Definition {
        Definition(argument.name, style: .synopsis, [argument.help])
    }

    public static func render(_ page: ManualPage) -> String {
        var out: [String] = [
            ".\\\" \(page.name)(\(page.section)), generated from Sources/*/CommandCatalog*.swift",
            ".\\\" by `brokerctl generate-docs`; edit the catalog, not this file.",
            ".TH \"\(escapeArgument(page.name.uppercased()))\" \"\(page.section)\" \"\" \"credential-broker\" \"\(page.section == 5 ? "File Formats" : "User Commands")\"",
            // Ragged right and no hyphenation: paths and options must read exactly as typed.
            ".ad l",
            ".nh",
            ".SH NAME",
            "\(page.name) \\- \(escape(page.summary))",
        ]
        for section in page.sections {
            out.append(".SH \"\(escapeArgument(section.title))\"")
            var first = true
            for block in section.blocks {
                out += lines(for: block, first: first, indented: false)
                first = false
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// `first` drops the paragraph break right after a heading; `indented` keeps a block inside
    /// the indentation of the definition it belongs to.
    static func lines(for block: ManualBlock, first: Bool, indented: Bool) -> [String] {
        let paragraphBreak = indented ? ".IP" : ".PP"
        switch block {
        case .paragraph(let text):
            return (first ? [] : [paragraphBreak]) + [line(escape(text))]
        case .subheading(let title):
            return [".SS \"\(escapeArgument(title))\""]
        case .code(let text):
            var out = (first ? [] : [paragraphBreak]) + [".RS 4", ".nf"]
            for codeLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
                out.append(line(escapeLiteral(String(codeLine))))
            }
            return out + [".fi", ".RE"]
        case .bullets(let items):
            return items.flatMap { [".IP \\(bu 2", line(escape($0))] }
        case .synopsis(let synopsisLines):
            var out: [String] = []
            for (index, synopsisLine) in synopsisLines.enumerated() {
                if index > 0 { out.append(".br") }
                out.append(line(synopsisMarkup(synopsisLine)))
            }
            return out
        case .definitions(let definitions):
            return definitions.flatMap(definitionLines)
        }
    }

    static func definitionLines(_ definition: Definition) -> [String] {
        var out = [".TP", line(term(definition))]
        for (index, paragraph) in definition.paragraphs.enumerated() {
            if index > 0 { out.append(".IP") }
            out.append(line(escape(paragraph)))
        }
        if !definition.nested.isEmpty {
            out.append(".RS")
            out += definition.nested.flatMap(definitionLines)
            out.append(".RE")
        }
        return out
    }

    static func term(_ definition: Definition) -> String {
        switch definition.style {
        case .synopsis: return synopsisMarkup(definition.term)
        case .literal: return "\\fB\(escapeLiteral(definition.term))\\fR"
        case .plain: return escape(definition.term)
        }
    }

    // MARK: Escaping

    /// A synopsis or option term: options and literal words bold, METAVARIABLES italic,
    /// punctuation (`[ ] ( ) | = : ...`) roman.
    static func synopsisMarkup(_ text: String) -> String {
        var out = ""
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            let isMetavariable = word.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
                && word.unicodeScalars.contains { ("A"..."Z").contains($0) }
            let font = isMetavariable ? "\\fI" : "\\fB"
            out += font + escapeLiteral(word) + "\\fR"
            word = ""
        }
        for character in text {
            if "[]()|=: ".contains(character) || (character == "." && word.isEmpty) {
                flush()
                out += escapeLiteral(String(character))
            } else {
                word.append(character)
            }
        }
        flush()
        return out
    }

    /// Prose: `backticks` become bold literals, man page references `name(1)` bold names, and
    /// a dash that starts a word (an option) a real minus sign, so `--all` can be copied.
    static func escape(_ text: String) -> String {
        var out = ""
        var inLiteral = false
        var literal = ""
        var previous: Character = " "
        for character in text {
            if character == "`" {
                if inLiteral {
                    out += "\\fB" + escapeLiteral(literal) + "\\fR"
                    literal = ""
                }
                inLiteral.toggle()
            } else if inLiteral {
                literal.append(character)
            } else if character == "-" && (previous == " " || previous == "-" || previous == "(" || previous == "[" || previous == "|") {
                out += "\\-"
            } else {
                out += escapeCharacter(character)
            }
            previous = character
        }
        if inLiteral { out += "\\fB" + escapeLiteral(literal) + "\\fR" }
        return boldReferences(out)
    }

    /// Code and literals: every character exactly as typed, in ASCII where a terminal would
    /// otherwise show typographic look-alikes.
    static func escapeLiteral(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "-": out += "\\-"
            case "'": out += "\\(aq"
            case "`": out += "\\(ga"
            default: out += escapeCharacter(character)
            }
        }
        return out
    }

    static func escapeCharacter(_ character: Character) -> String {
        switch character {
        case "\\": return "\\e"
        case "~": return "\\(ti"
        case "^": return "\\(ha"
        case "\u{2014}": return "\\(em"
        case "\u{2013}": return "\\(en"
        case "\u{2192}": return "\\(->"
        case "\u{2026}": return "\\&..."
        default:
            guard character.unicodeScalars.contains(where: { !$0.isASCII }) else { return String(character) }
            var out = ""
            for scalar in character.unicodeScalars {
                if scalar.isASCII {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += "\\[u" + hex(scalar.value) + "]"
                }
            }
            return out
        }
    }

    /// Inside a macro's double-quoted argument a quote is written twice.
    static func escapeArgument(_ text: String) -> String {
        var out = ""
        for character in text {
            out += character == "\"" ? "\"\"" : escapeLiteral(String(character))
        }
        return out
    }

    /// A line of text must not begin with a control character, or roff reads it as a request.
    static func line(_ text: String) -> String {
        text.hasPrefix(".") || text.hasPrefix("'") ? "\\&" + text : text
    }

    /// `brokerctl(1)` → `\fBbrokerctl\fR(1)`, for the page names a reader may look up.
    static func boldReferences(_ text: String) -> String {
        let characters = Array(text)
        var out = ""
        var index = 0
        while index < characters.count {
            if characters[index] == "(", index + 2 < characters.count,
               ("1"..."8").contains(characters[index + 1]), characters[index + 2] == ")" {
                // Walk back over the name just emitted.
                var start = out.endIndex
                while start > out.startIndex {
                    let before = out[out.index(before: start)]
                    guard before.isLetter || before.isNumber || before == "-" || before == "_" || before == "." else { break }
                    start = out.index(before: start)
                }
                let name = String(out[start...])
                if !name.isEmpty, name.first!.isLetter {
                    out.removeSubrange(start...)
                    out += "\\fB\(name)\\fR"
                }
            }
            out.append(characters[index])
            index += 1
        }
        return out
    }

    static func hex(_ value: UInt32) -> String {
        let digits = Array("0123456789ABCDEF")
        var text = ""
        var rest = value
        repeat {
            text = String(digits[Int(rest % 16)]) + text
            rest /= 16
        } while rest > 0
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
