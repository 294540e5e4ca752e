// The text of a checklist item as a title: bold markers dropped, runs of spaces and tabs
// collapsed, code spans (`JOIN`, `std::thread`) kept exactly as written, backticks included.

/// Turns the inline markdown of an item or heading into a plain title.
enum InlineText {
    /// Pieces of a line: code spans (with their backticks) and the text between them.
    static func segments(_ text: String) -> [(text: String, isCode: Bool)] {
        let chars = Array(text)
        var result: [(String, Bool)] = []
        var plain = ""
        var i = 0
        while i < chars.count {
            guard chars[i] == "`" else { plain.append(chars[i]); i += 1; continue }
            var run = 0
            while i + run < chars.count, chars[i + run] == "`" { run += 1 }
            // Find a closing run of exactly the same length.
            var j = i + run
            var close: Int?
            while j < chars.count {
                if chars[j] == "`" {
                    var k = 0
                    while j + k < chars.count, chars[j + k] == "`" { k += 1 }
                    if k == run { close = j; break }
                    j += k
                } else {
                    j += 1
                }
            }
            if let close {
                if !plain.isEmpty { result.append((plain, false)); plain = "" }
                result.append((String(chars[i..<(close + run)]), true))
                i = close + run
            } else {
                plain += String(chars[i..<(i + run)])
                i += run
            }
        }
        if !plain.isEmpty { result.append((plain, false)) }
        return result
    }

    /// The title of an item: `**` removed and whitespace collapsed outside code spans.
    static func title(_ text: String) -> String {
        var out = ""
        for (piece, isCode) in segments(text) {
            if isCode { out += piece; continue }
            var cleaned = withoutBold(piece)
            cleaned = collapsed(cleaned)
            out += cleaned
        }
        return out.trimmingSpaces()
    }

    /// Runs of spaces and tabs outside code spans become one space.
    private static func collapsed(_ s: String) -> String {
        var out = ""
        var lastWasSpace = false
        for c in s {
            if c == " " || c == "\t" {
                if !lastWasSpace { out.append(" ") }
                lastWasSpace = true
            } else {
                out.append(c)
                lastWasSpace = false
            }
        }
        return out
    }

    /// Drops `**` and resolves backslash escapes (`\*` is a literal star).
    private static func withoutBold(_ s: String) -> String {
        let chars = Array(s)
        var out = ""
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1].isASCII, chars[i + 1].isPunctuation || chars[i + 1].isSymbol {
                out.append(chars[i + 1])
                i += 2
            } else if c == "*", i + 1 < chars.count, chars[i + 1] == "*" {
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }
}
