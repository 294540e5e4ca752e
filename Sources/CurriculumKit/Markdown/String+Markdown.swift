// Small string helpers the note reader and writers share.

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }

    /// The text split into lines at `\n`, `\r\n` and `\r`, none of them kept.
    func markdownLines() -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var afterCR = false
        for s in unicodeScalars {
            if afterCR {
                afterCR = false
                if s == "\n" { continue }
            }
            if s == "\n" || s == "\r" {
                lines.append(String(current))
                current = String.UnicodeScalarView()
                afterCR = s == "\r"
            } else {
                current.append(s)
            }
        }
        lines.append(String(current))
        return lines
    }
}
