// credential-broker(5)'s identity kinds, made from the kinds' own descriptors: nothing is written twice.

import BrokerCore
import BrokerFrontends

enum KindManual {
    /// "`a`, `b` or `c`", every registered kind.
    static var kindList: String { IdentityKinds.sentence(IdentityKinds.names.map { "`\($0)`" }) }

    /// One manual section per kind family, in registry order: the family's introduction, then
    /// each kind's description, settings and notes.
    static var sections: [ManualSection] {
        var families: [KindFamily] = []
        let descriptors = IdentityKinds.descriptors
        for kind in descriptors where !families.contains(kind.family) { families.append(kind.family) }
        return families.map { family in
            var blocks: [ManualBlock] = family.introduction.map { .paragraph($0) }
            for kind in descriptors where kind.family == family {
                blocks += self.blocks(kind)
            }
            return ManualSection(family.title, blocks)
        }
    }

    static func blocks(_ kind: KindDescriptor) -> [ManualBlock] {
        var blocks: [ManualBlock] = [.subheading(kind.name)]
        blocks += kind.description.map { .paragraph($0) }
        // Settings every kind of the family takes are told once, in the family's introduction.
        let own = kind.settings.filter { !kind.family.commonSettings.contains($0.name) }
        if !own.isEmpty { blocks.append(.definitions(own.map(definition))) }
        for note in kind.notes {
            switch note {
            case .paragraph(let text): blocks.append(.paragraph(text))
            case .code(let text): blocks.append(.code(text))
            }
        }
        return blocks
    }

    /// `key = VALUE` and its text: "Required: " first for required keys; a one-line summary
    /// becomes a sentence (details are written as sentences already).
    static func definition(_ setting: SettingSpec) -> Definition {
        var text = setting.details ?? setting.summary
        if setting.required {
            text = "Required: " + text
        } else if setting.details == nil, let first = text.first, first.isLowercase {
            text = first.uppercased() + text.dropFirst()
        }
        if !text.hasSuffix(".") { text += "." }
        return Definition("\(setting.name) = \(setting.value)", style: .synopsis, [text])
    }
}
