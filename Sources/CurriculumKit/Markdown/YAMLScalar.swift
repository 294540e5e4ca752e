// Writing a string into YAML so that any YAML 1.1 or 1.2 reader gives the same string back.
// A plain (unquoted) scalar is used only when it is certainly read as that string: not
// empty, no surrounding spaces, not starting with an indicator (`- ? : , [ ] { } # & * ! |
// > ' " % @ \``), without `: ` or ` #`, and not a word or number YAML would turn into
// something else (yes, no, on, off, true, null, ~, 12, 0x1F, 1e3, .inf, 2026-12-20, 1:30 …).
// Everything else is double-quoted, with escapes for quotes, backslashes, control
// characters and anything not printable. Clean multi-line text becomes a `|` block.

/// Renders strings as YAML scalars.
enum YAMLScalar {
    /// The string as a scalar on one line. `flow` is for items inside `[…]`, where `,[]{}`
    /// also need quotes.
    static func inline(_ s: String, flow: Bool = false) -> String {
        isPlainSafe(s, flow: flow) ? s : doubleQuoted(s)
    }

    /// The value of `key:` at `indent` spaces: a plain or quoted scalar on the key's line,
    /// or a literal block under it for text of several clean lines.
    static func value(_ s: String, indent: Int) -> String {
        guard s.contains("\n"), isLiteralSafe(s) else { return " " + inline(s) }
        let chomp = s.hasSuffix("\n\n") ? "+" : s.hasSuffix("\n") ? "" : "-"
        let pad = String(repeating: " ", count: indent + 2)
        var lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if s.hasSuffix("\n") { lines.removeLast() }
        return " |" + chomp + "\n" + lines.map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
    }

    static func doubleQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0B}": out += "\\v"
            case "\u{0C}": out += "\\f"
            case "\u{1B}": out += "\\e"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                if isPrintable(scalar) && scalar.value != 0xFEFF {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        return out + "\""
    }

    /// YAML's printable set (c-printable), minus the line and paragraph separators.
    static func isPrintable(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF:
            return s.value != 0x2028 && s.value != 0x2029
        default:
            return false
        }
    }

    static func isPlainSafe(_ s: String, flow: Bool) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return false }
        // Any whitespace at either end (a no-break space included) is quoted, to stay visible.
        guard !Character(first).isWhitespace, !Character(last).isWhitespace, last != ":" else { return false }
        guard s.unicodeScalars.allSatisfy({ isPrintable($0) && $0.value != 0xFEFF }) else { return false }
        if "-?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) { return false }
        if s.contains(": ") || s.contains(" #") { return false }
        if flow && s.unicodeScalars.contains(where: { ",[]{}:#".unicodeScalars.contains($0) }) { return false }
        if s.hasPrefix("...") || s.hasPrefix("---") { return false }
        return !looksTyped(s)
    }

    /// Words and numbers a YAML 1.1 or 1.2 reader resolves to booleans, nulls, numbers,
    /// dates or merge keys. Anything starting with a digit (or a sign or dot and a digit)
    /// is treated as one: quoting a title like "3 ways" costs nothing.
    static func looksTyped(_ s: String) -> Bool {
        let reserved: Set<String> = [
            "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "<<", "=",
            ".inf", "-.inf", "+.inf", ".nan",
        ]
        if reserved.contains(s.lowercased()) { return true }
        let u = Array(s.unicodeScalars)
        func digit(_ i: Int) -> Bool { i < u.count && ("0"..."9").contains(u[i]) }
        if digit(0) { return true }
        if let f = u.first, f == "+" || f == "-" || f == ".", digit(1) || (u.count > 2 && u[1] == "." && digit(2)) {
            return true
        }
        return false
    }

    /// Multi-line text that reads back the same from a `|` block: printable, no tabs or
    /// carriage returns, no line that starts with a space or is only spaces, and a first
    /// line with text (the block's indentation is taken from it).
    static func isLiteralSafe(_ s: String) -> Bool {
        guard s.unicodeScalars.allSatisfy({ $0 == "\n" || (isPrintable($0) && $0.value != 0xFEFF) }) else { return false }
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, !first.isEmpty else { return false }
        return lines.allSatisfy { line in line.isEmpty || (line.first != " " && line.last != " ") }
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
