// One line of a note, classified the way the importer needs: headings, checklist items
// (with their indentation, tabs counted to the next multiple of four as CommonMark does),
// rules, code fences, and everything else. Only the small part of CommonMark that a
// checklist note uses is understood; the rest is "text".

/// What one line of a markdown note is.
enum MarkdownLine: Equatable {
    case blank
    /// `#`…`######`; `text` without the marks and without a closing `###`.
    case heading(level: Int, text: String)
    /// A list item with a checkbox. `indent` is the marker's column, `content` the column
    /// its text starts at (a nested item must be indented at least that far).
    case item(indent: Int, content: Int, box: Character, text: String)
    /// `---`, `***`, `___`.
    case rule
    /// The opening or closing line of a fenced code block: its character and length.
    case fence(Character, Int)
    /// Anything else, with its indentation and trimmed text.
    case text(indent: Int, text: String)

    static func classify(_ line: String) -> MarkdownLine {
        let chars = Array(line)
        var column = 0
        var i = 0
        while i < chars.count, chars[i] == " " || chars[i] == "\t" {
            column = chars[i] == "\t" ? (column / 4 + 1) * 4 : column + 1
            i += 1
        }
        if i == chars.count { return .blank }
        let rest = Array(chars[i...])
        let restText = String(rest)
        if column <= 3 {
            if let heading = heading(rest) { return heading }
            if let fence = fence(rest) { return fence }
            if isRule(rest) { return .rule }
        }
        if let item = item(rest, indent: column) { return item }
        return .text(indent: column, text: restText.trimmingSpaces())
    }

    private static func heading(_ s: [Character]) -> MarkdownLine? {
        var level = 0
        while level < s.count, s[level] == "#" { level += 1 }
        guard (1...6).contains(level), level == s.count || s[level] == " " || s[level] == "\t" else { return nil }
        var text = String(s[level...]).trimmingSpaces()
        // A closing sequence of #s, preceded by a space, is not part of the text.
        if let lastNonHash = text.lastIndex(where: { $0 != "#" }), lastNonHash < text.index(before: text.endIndex),
            text[lastNonHash] == " " || text[lastNonHash] == "\t"
        {
            text = String(text[...lastNonHash]).trimmingSpaces()
        } else if text.allSatisfy({ $0 == "#" }) {
            text = ""
        }
        return .heading(level: level, text: text)
    }

    private static func fence(_ s: [Character]) -> MarkdownLine? {
        guard let c = s.first, c == "`" || c == "~" else { return nil }
        var n = 0
        while n < s.count, s[n] == c { n += 1 }
        guard n >= 3 else { return nil }
        // An info string after backticks may not contain backticks.
        if c == "`" && s[n...].contains("`") { return nil }
        return .fence(c, n)
    }

    private static func isRule(_ s: [Character]) -> Bool {
        guard let c = s.first, c == "-" || c == "*" || c == "_" else { return false }
        var count = 0
        for x in s {
            if x == c { count += 1 } else if x != " " && x != "\t" { return false }
        }
        return count >= 3
    }

    private static func item(_ s: [Character], indent: Int) -> MarkdownLine? {
        var i = 0
        if let c = s.first, c == "-" || c == "*" || c == "+" {
            i = 1
        } else {
            while i < s.count, i < 9, s[i].isASCII, s[i].isNumber { i += 1 }
            guard i > 0, i < s.count, s[i] == "." || s[i] == ")" else { return nil }
            i += 1
        }
        // The marker is followed by 1…4 spaces (more, and the text is indented code: count one).
        var spaces = 0
        while i + spaces < s.count, s[i + spaces] == " " || s[i + spaces] == "\t" { spaces += 1 }
        guard spaces >= 1 else { return nil }
        let content = indent + i + (spaces <= 4 ? spaces : 1)
        let afterMarker = i + spaces
        guard afterMarker + 2 < s.count, s[afterMarker] == "[", s[afterMarker + 2] == "]" else { return nil }
        let box = s[afterMarker + 1]
        guard box != "]", box != "[" else { return nil }
        let tail = afterMarker + 3
        guard tail == s.count || s[tail] == " " || s[tail] == "\t" else { return nil }
        return .item(indent: indent, content: content, box: box, text: String(s[tail...]).trimmingSpaces())
    }
}
