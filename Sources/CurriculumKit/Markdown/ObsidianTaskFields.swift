// The Obsidian Tasks plugin keeps a task's fields at the end of its checklist line as
// emoji "signifiers": `- [ ] Title 📅 2026-12-20 🆔 jwt ⛔ setup,schema`. Like the plugin,
// fields are read from the end of the line backwards until something else is met, so an
// emoji in the middle of a title is never mistaken for a field.

/// The Obsidian Tasks fields at the end of a checklist item, and the text before them.
struct ObsidianTaskFields: Equatable {
    var text: String
    var due: Day?
    /// `✅ YYYY-MM-DD`: the day the plugin recorded the task done.
    var done: Day?
    var id: String?
    var requires: [String] = []
    /// Fields that looked like dates but were not real ones, e.g. "📅 2026-02-30".
    var badDates: [String] = []

    enum Kind { case due, done, id, requires, date, recurrence, onCompletion, flag }

    /// Signifier scalar → what follows it.
    static let kinds: [UInt32: Kind] = [
        0x1F4C5: .due, 0x1F4C6: .due, 0x1F5D3: .due,  // 📅 📆 🗓
        0x1F194: .id,  // 🆔
        0x26D4: .requires,  // ⛔
        0x23F3: .date, 0x231B: .date, 0x1F6EB: .date, 0x2795: .date, 0x2705: .done, 0x274C: .date,  // ⏳ ⌛ 🛫 ➕ ✅ ❌
        0x1F501: .recurrence,  // 🔁
        0x1F3C1: .onCompletion,  // 🏁
        0x1F53A: .flag, 0x23EB: .flag, 0x1F53C: .flag, 0x1F53D: .flag, 0x23EC: .flag,  // 🔺 ⏫ 🔼 🔽 ⏬
    ]

    /// Splits the trailing fields off `item`. Trailing `#tags` may sit among the fields, as
    /// the plugin allows; they stay part of the text.
    static func parse(_ item: String) -> ObsidianTaskFields {
        var chars = Array(item)
        var tags: [String] = []
        var fields = ObsidianTaskFields(text: item)
        while true {
            trimTrailingSpace(&chars)
            if let tag = trailingTag(chars) {
                tags.insert(tag, at: 0)
                chars.removeLast(tag.count)
                continue
            }
            // The last signifier on the line, and what follows it.
            guard let at = chars.lastIndex(where: { signifier($0) != nil }),
                let kind = signifier(chars[at])
            else { break }
            let value = String(chars[(at + 1)...]).trimmingSpaces()
            guard fields.take(kind, value: value) else { break }
            chars.removeSubrange(at...)
        }
        trimTrailingSpace(&chars)
        fields.text = ([String(chars)] + tags).filter { !$0.isEmpty }.joined(separator: " ")
        return fields
    }

    /// Records a field if `value` has the shape its signifier needs; false otherwise.
    private mutating func take(_ kind: Kind, value: String) -> Bool {
        switch kind {
        case .due, .date, .done:
            guard Self.looksLikeDate(value) else { return false }
            if let day = Day(iso: value) {
                if kind == .due { due = day }
                if kind == .done { done = day }
            } else {
                badDates.insert(value, at: 0)
            }
            return true
        case .id:
            guard Self.isIdToken(value) else { return false }
            id = value
            return true
        case .requires:
            let parts = value.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
            guard !parts.isEmpty, parts.allSatisfy(Self.isIdToken) else { return false }
            requires = parts + requires
            return true
        case .recurrence:
            return !value.isEmpty
                && value.unicodeScalars.allSatisfy {
                    $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "," || $0 == " " || $0 == "!"
                }
        case .onCompletion:
            return value == "keep" || value == "delete"
        case .flag:
            return value.isEmpty
        }
    }

    private static func signifier(_ c: Character) -> Kind? {
        let scalars = c.unicodeScalars
        guard let first = scalars.first, let kind = kinds[first.value] else { return nil }
        // Only the emoji itself, optionally with the emoji-presentation selector.
        return scalars.dropFirst().allSatisfy { $0.value == 0xFE0F } ? kind : nil
    }

    private static func looksLikeDate(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { (48...57).contains(u[$0]) }
    }

    /// The plugin's id alphabet: letters, digits, `-` and `_`.
    private static func isIdToken(_ s: String) -> Bool {
        !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            }
    }

    /// A `#tag` ending the line, preceded by a space (so `C#` is not one).
    private static func trailingTag(_ chars: [Character]) -> String? {
        guard let space = chars.lastIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let word = chars[(space + 1)...]
        guard word.count > 1, word.first == "#",
            word.dropFirst().allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "/" }),
            word.dropFirst().contains(where: { !$0.isNumber })
        else { return nil }
        return String(word)
    }

    private static func trimTrailingSpace(_ chars: inout [Character]) {
        while let last = chars.last, last == " " || last == "\t" { chars.removeLast() }
    }
}
