// Turns catalog descriptions into bash, zsh and fish completion scripts.

import BrokerFrontends

public enum CompletionRenderer {
    /// Prints one identity name per line; completions call it for `.identity` values.
    public static let identityNamesCommand = "brokerctl list --names"

    static func header(_ shell: String, _ command: CommandDescription) -> [String] {
        [
            "# \(shell) completion for \(command.name), generated from Sources/*/CommandCatalog*.swift",
            "# by `brokerctl generate-docs`; edit the catalog, not this file.",
        ]
    }

    static func usesIdentities(_ command: CommandDescription) -> Bool {
        let completions = command.allOptions.map(\.completion)
            + (command.arguments + command.subcommands.flatMap(\.positionals)).map(\.completion)
        return completions.contains { if case .identityFor = $0 { return true }; return $0 == .identity }
    }

    /// The arguments after `list --names` for one completion: `--for USE` when restricted.
    static func identityFilter(_ completion: ValueCompletion) -> String {
        if case .identityFor(let use) = completion { return " --for \(use.rawValue)" }
        return ""
    }

    /// The command's name as a shell identifier: `git-credential-broker` → `git_credential_broker`.
    static func identifier(_ command: CommandDescription) -> String {
        String(command.name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func functionName(_ command: CommandDescription) -> String {
        "_" + identifier(command)
    }

    /// One sentence, no markup, starting lower-case: what a completion menu shows beside a word.
    static func shortHelp(_ text: String) -> String {
        var text = String(text.filter { $0 != "`" })
        let characters = Array(text)
        if let end = characters.indices.first(where: { characters[$0] == "." && $0 + 1 < characters.count && characters[$0 + 1] == " " }) {
            text = String(characters[..<end])
        }
        if text.hasSuffix(".") { text.removeLast() }
        let first = Array(text)
        if first.count > 1, first[0].isUppercase, first[1].isLowercase {
            text = first[0].lowercased() + String(first.dropFirst())
        }
        return text
    }

    /// Quotes for a single-quoted shell word (bash, zsh): ' becomes '\''.
    static func singleQuoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    // MARK: bash

    public static func bash(_ command: CommandDescription) -> String {
        let function = functionName(command)
        var out = header("bash", command) + [""]
        let identities = "__\(identifier(command))_identities"
        if usesIdentities(command) {
            // The names come from the configuration this command line names (`--config FILE`).
            out += [
                "\(identities)() {",
                "    local i config=()",
                "    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do",
                "        case ${COMP_WORDS[i]} in",
                // bash splits `--config=FILE` at `=` (COMP_WORDBREAKS) into three words.
                "            --config) [[ ${COMP_WORDS[i+1]} == = ]] && ((i++)); config=(--config \"${COMP_WORDS[i+1]}\") ;;",
                "            --config=*) config=(--config \"${COMP_WORDS[i]#--config=}\") ;;",
                "        esac",
                "    done",
                "    brokerctl \"${config[@]}\" list --names \"$@\" 2>/dev/null",
                "}",
                "",
            ]
        }
        func reply(_ generator: String) -> String {
            "mapfile -t COMPREPLY < <(\(generator))"
        }
        func words(_ list: [String]) -> String {
            reply("compgen -W \(singleQuoted(list.joined(separator: " "))) -- \"$cur\"")
        }
        func valueCompletion(_ completion: ValueCompletion) -> String? {
            switch completion {
            case .none: return nil
            case .choices(let list): return words(list)
            case .file: return "compopt -o filenames 2>/dev/null; " + reply("compgen -f -- \"$cur\"")
            case .directory: return "compopt -o filenames 2>/dev/null; " + reply("compgen -d -- \"$cur\"")
            case .identity, .identityFor: return reply("compgen -W \"$(\(identities)\(identityFilter(completion)))\" -- \"$cur\"")
            }
        }
        /// The body that completes within one scope: option values, options, then positionals.
        func scope(options: [CommandOption], positionals: [CommandArgument], subcommands: [String], indent: String) -> [String] {
            var lines: [String] = []
            let valued = options.filter { $0.value != nil }
            if !valued.isEmpty {
                lines.append(indent + "case $prev in")
                for option in valued {
                    let action = valueCompletion(option.completion).map { $0 + "; " } ?? ""
                    lines.append(indent + "    \(option.long)) \(action)return ;;")
                }
                lines.append(indent + "esac")
            }
            let optionWords = options.flatMap { [$0.long] + ($0.short.map { [$0] } ?? []) }
            var positional: String?
            if !subcommands.isEmpty {
                positional = words(subcommands)
            } else if let first = positionals.first {
                positional = valueCompletion(first.completion)
            }
            switch (optionWords.isEmpty, positional) {
            case (true, nil):
                lines.append(indent + "COMPREPLY=()")
            case (false, nil):
                lines.append(indent + words(optionWords))
            case (true, let action?):
                lines.append(indent + action)
            case (false, let action?):
                lines += [
                    indent + "if [[ $cur == -* ]]; then",
                    indent + "    " + words(optionWords),
                    indent + "else",
                    indent + "    " + action,
                    indent + "fi",
                ]
            }
            return lines
        }

        out += [
            "\(function)() {",
            "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        ]
        if command.subcommands.isEmpty {
            out += scope(options: command.options, positionals: command.arguments, subcommands: [], indent: "    ")
        } else {
            let skipping = command.options.filter { $0.value != nil }.map(\.long)
            out += [
                "    # The subcommand is the first word that is neither an option nor an option's value.",
                "    local sub='' i",
                "    for (( i = 1; i < COMP_CWORD; i++ )); do",
                "        case ${COMP_WORDS[i]} in",
            ]
            if !skipping.isEmpty {
                out.append("            \(skipping.joined(separator: "|"))) i=$((i + 1)) ;;")
            }
            out += [
                "            -*) ;;",
                "            *) sub=${COMP_WORDS[i]}; break ;;",
                "        esac",
                "    done",
                "    case $sub in",
                "        '')",
            ]
            out += scope(options: command.options, positionals: [], subcommands: command.subcommands.map(\.name), indent: "            ")
            out.append("            ;;")
            for sub in command.subcommands {
                out.append("        \(sub.name))")
                out += scope(options: sub.options, positionals: sub.positionals, subcommands: [], indent: "            ")
                out.append("            ;;")
            }
            out += ["        *) COMPREPLY=() ;;", "    esac"]
        }
        out += ["}", "complete -F \(function) \(command.name)"]
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: zsh

    public static func zsh(_ command: CommandDescription) -> String {
        let function = functionName(command)
        let identities = function + "_identities"
        var out = ["#compdef \(command.name)"] + header("zsh", command) + [""]
        if usesIdentities(command) {
            // The whole command line as typed, saved before _arguments shifts `words`, so a
            // `--config FILE` before the subcommand still chooses the configuration.
            out += [
                "\(identities)() {",
                "  local -a names config",
                "  local i",
                "  for (( i = 1; i < ${#\(function)_line}; i++ )); do",
                "    case ${\(function)_line[i]} in",
                "      (--config) config=(--config \"${\(function)_line[i+1]}\") ;;",
                "      (--config=*) config=(--config \"${\(function)_line[i]#--config=}\") ;;",
                "    esac",
                "  done",
                "  names=(${(f)\"$(_call_program identities brokerctl $config list --names $@ 2>/dev/null)\"})",
                "  _wanted identities expl identity compadd -a names",
                "}",
                "",
            ]
        }
        func description(_ text: String) -> String {
            String(shortHelp(text).map { $0 == "[" ? "(" : $0 == "]" ? ")" : $0 })
        }
        func action(_ completion: ValueCompletion) -> String {
            switch completion {
            case .none: return " "
            case .choices(let list): return "(\(list.joined(separator: " ")))"
            case .file: return "_files"
            case .directory: return "_files -/"
            case .identity, .identityFor: return identities + identityFilter(completion)
            }
        }
        func spec(_ option: CommandOption) -> String {
            let help = "[\(description(option.help))]"
            var value = ""
            if let metavariable = option.value {
                // The message zsh shows above the values: the metavariable, or the option's
                // name where the metavariable spells out the choices (`table|json`).
                let isWord = metavariable.allSatisfy { $0.isLetter || $0 == "_" }
                let message = isWord ? metavariable.lowercased() : String(option.long.dropFirst(2))
                value = ":\(message):\(action(option.completion))"
            }
            let long = option.value == nil ? option.long : option.long + "="
            if let short = option.short {
                let exclusion = option.long == "--help" ? "(- *)" : "(\(short) \(option.long))"
                return singleQuoted(exclusion) + "{\(short),\(long)}" + singleQuoted(help + value)
            }
            return singleQuoted(long + help + value)
        }
        func positionalSpec(_ index: Int, _ argument: CommandArgument) -> String {
            singleQuoted("\(index):\(argument.name.lowercased()):\(action(argument.completion))")
        }
        func arguments(_ specs: [String], indent: String) -> [String] {
            guard !specs.isEmpty else { return [indent + "_message 'no more arguments'"] }
            var lines = [indent + "_arguments -s -S \\"]
            for (index, spec) in specs.enumerated() {
                lines.append(indent + "  " + spec + (index == specs.count - 1 ? " && ret=0" : " \\"))
            }
            return lines
        }

        out += ["\(function)() {", "  local curcontext=$curcontext state line ret=1", "  typeset -A opt_args"]
        if usesIdentities(command) { out.append("  local -a \(function)_line; \(function)_line=(\"${words[@]}\")") }
        if command.subcommands.isEmpty {
            let specs = command.options.map(spec) + command.arguments.enumerated().map { positionalSpec($0.offset + 1, $0.element) }
            out += arguments(specs, indent: "  ")
        } else {
            out.append("  _arguments -C \\")
            for option in command.options { out.append("    " + spec(option) + " \\") }
            out += [
                "    '1: :->subcommand' \\",
                "    '*:: :->argument' && ret=0",
                "  case $state in",
                "    (subcommand)",
                "      local -a subcommands",
                "      subcommands=(",
            ]
            for sub in command.subcommands {
                out.append("        " + singleQuoted("\(sub.name):\(shortHelp(sub.summary))"))
            }
            out += [
                "      )",
                "      _describe -t subcommands '\(command.name) subcommand' subcommands && ret=0",
                "      ;;",
                "    (argument)",
                "      curcontext=${curcontext%:*:*}:\(command.name)-$words[1]:",
                "      case $words[1] in",
            ]
            for sub in command.subcommands {
                out.append("        (\(sub.name))")
                let specs = sub.options.map(spec) + sub.positionals.enumerated().map { positionalSpec($0.offset + 1, $0.element) }
                out += arguments(specs, indent: "          ")
                out.append("          ;;")
            }
            out += ["      esac", "      ;;", "  esac"]
        }
        out += ["  return ret", "}", "", "\(function) \"$@\""]
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: fish

    public static func fish(_ command: CommandDescription) -> String {
        let name = command.name
        let identities = "__fish_\(identifier(command))_identities"
        var out = header("fish", command) + [""]
        if usesIdentities(command) {
            out += [
                "function \(identities)",
                "    set -l config",
                "    set -l words (commandline -opc)",
                "    for i in (seq (count $words))",
                "        if test $words[$i] = --config; and test $i -lt (count $words)",
                "            set config --config $words[(math $i + 1)]",
                "        else if string match -q -- '--config=*' $words[$i]",
                "            set config --config (string replace -- --config= '' $words[$i])",
                "        end",
                "    end",
                "    brokerctl $config list --names $argv 2>/dev/null",
                "end",
                "",
            ]
        }
        /// fish single quotes: only \ and ' need a backslash.
        func quoted(_ text: String) -> String {
            var out = "'"
            for character in text {
                if character == "\\" || character == "'" { out.append("\\") }
                out.append(character)
            }
            return out + "'"
        }
        func valueFlags(_ completion: ValueCompletion) -> String {
            switch completion {
            case .none: return "-x"
            case .choices(let list): return "-x -a " + quoted(list.joined(separator: " "))
            case .file: return "-r -F"
            case .directory: return "-x -a '(__fish_complete_directories)'"
            case .identity, .identityFor: return "-x -a '(\(identities)\(identityFilter(completion)))'"
            }
        }
        func line(_ condition: String?, _ rest: String) -> String {
            "complete -c \(name)" + (condition.map { " -n \($0)" } ?? "") + " " + rest
        }
        func optionLine(_ option: CommandOption, _ condition: String?) -> String {
            var rest = option.short.map { "-s \($0.dropFirst()) " } ?? ""
            rest += "-l \(option.long.dropFirst(2))"
            if option.value != nil { rest += " " + valueFlags(option.completion) }
            return line(condition, rest + " -d " + quoted(shortHelp(option.help)))
        }
        func positionalLines(_ argument: CommandArgument, _ condition: String?) -> [String] {
            if !argument.values.isEmpty {
                return argument.values.map { line(condition, "-a \($0.term) -d " + quoted(shortHelp($0.paragraphs.first ?? ""))) }
            }
            let help = " -d " + quoted(argument.name.lowercased())
            switch argument.completion {
            case .none: return []
            case .choices(let list): return [line(condition, "-a " + quoted(list.joined(separator: " ")) + help)]
            case .file: return [line(condition, "-F")]
            case .directory: return [line(condition, "-a '(__fish_complete_directories)'")]
            case .identity, .identityFor: return [line(condition, "-a '(\(identities)\(identityFilter(argument.completion)))'" + help)]
            }
        }

        out.append("# Files only where an option or argument takes one.")
        out.append(line(nil, "-f"))
        if command.subcommands.isEmpty {
            out += command.options.map { optionLine($0, nil) }
            out += command.arguments.flatMap { positionalLines($0, nil) }
        } else {
            let variable = "__\(identifier(command))_subcommands"
            out.append("set -l \(variable) \(command.subcommands.map(\.name).joined(separator: " "))")
            let top = "\"not __fish_seen_subcommand_from $\(variable)\""
            for sub in command.subcommands {
                out.append(line(top, "-a \(sub.name) -d " + quoted(shortHelp(sub.summary))))
            }
            out += command.options.map { optionLine($0, top) }
            for sub in command.subcommands {
                let condition = "'__fish_seen_subcommand_from \(sub.name)'"
                out += sub.options.map { optionLine($0, condition) }
                out += sub.positionals.flatMap { positionalLines($0, condition) }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
