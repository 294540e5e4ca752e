// A heading that starts a phase: `#### 🏗️ Phase 1: Building REST APIs` at any level from
// 2 down. Before "Phase" there may be an icon (anything but letters and digits); after the
// number a separator (`:` `.` `-` `–` `—` `)`) and the title.

/// The number, icon and title of a phase heading.
struct PhaseHeading: Equatable {
    var number: Int
    var icon: String?
    var title: String

    /// Nil when `text` (a heading's text) is not a phase heading.
    init?(_ text: String) {
        let chars = Array(InlineText.title(text))
        guard let word = chars.firstIndex(where: { $0.isLetter || $0.isNumber }),
            chars.count >= word + 5, String(chars[word..<(word + 5)]).lowercased() == "phase"
        else { return nil }
        var i = word + 5
        guard i < chars.count, chars[i] == " " || chars[i] == "\t" else { return nil }
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
        var digits = ""
        while i < chars.count, digits.count < 6, chars[i].isASCII, chars[i].isNumber { digits.append(chars[i]); i += 1 }
        guard let number = Int(digits) else { return nil }
        guard i == chars.count || [" ", "\t", ":", ".", "-", "–", "—", ")"].contains(chars[i]) else { return nil }
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
        if i < chars.count, [":", ".", "-", "–", "—", ")"].contains(chars[i]) { i += 1 }
        let title = String(chars[i...]).trimmingSpaces()
        let icon = String(chars[..<word]).trimmingSpaces()
        self.number = number
        self.icon = icon.isEmpty ? nil : icon
        self.title = title.isEmpty ? "Phase \(number)" : title
    }
}
