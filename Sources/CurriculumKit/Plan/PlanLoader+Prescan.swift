// A quick pass over the raw text before any YAML parser sees it, for the inputs that
// would make a parser crash, hang or blow up, or answer with a baffling message:
// control characters (a NUL, binary data), absurdly long lines, tabs used for
// indentation, nesting deeper than any plan needs (libyaml and Yams build trees
// recursively, so 20,000 levels would overflow the stack), and anchors or aliases (a
// plan has no use for them, and a "billion laughs" alias bomb expands exponentially as
// soon as anything walks or hashes it).
//
// It follows just enough of YAML's lexical rules to know where a node starts: quoted
// scalars, comments, block scalars, flow collections, `- ` and `? ` indicators. Where it
// cannot be exact it errs towards counting nesting too deep, never too shallow.

struct PlanPrescan {
    /// The deepest nesting a plan may have; the real plan needs six levels.
    static let maxDepth = 64
    /// The longest line accepted, in bytes.
    static let maxLineBytes = 1 << 20
    /// The largest plan accepted, in bytes (a 100,000-task plan is about 10 MB).
    static let maxBytes = 128 << 20
    /// Stop listing problems of one kind after this many.
    static let maxReported = 10

    let file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    /// Scans `bytes` (valid UTF-8). Returns false when the text must not be parsed.
    mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.count > PlanPrescan.maxBytes {
            diagnostics.append(.error("the plan is \(bytes.count / (1 << 20)) MB; a plan file may be at most \(PlanPrescan.maxBytes >> 20) MB", at: loc(1, 1)))
            return false
        }
        // Control characters and line lengths first: they rule out everything else.
        var line = 1
        var lineStart = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            if b == 0x0A {
                if i - lineStart > PlanPrescan.maxLineBytes { return tooLong(line, i - lineStart) }
                line += 1; lineStart = i + 1
            } else if (b < 0x20 && b != 0x09 && b != 0x0D) || b == 0x7F {
                let what = b == 0 ? "a NUL byte" : "the control character U+\(hex(b))"
                diagnostics.append(
                    .error(
                        "the file holds \(what), so it is not a text plan (is it a binary file?)",
                        at: loc(line, column(bytes, lineStart, i))))
                return false
            }
        }
        if bytes.count - lineStart > PlanPrescan.maxLineBytes { return tooLong(line, bytes.count - lineStart) }
        return structure(bytes)
    }

    private mutating func tooLong(_ line: Int, _ length: Int) -> Bool {
        diagnostics.append(
            .error(
                "line \(line) is \(length) bytes long; a plan line may be at most \(PlanPrescan.maxLineBytes) bytes",
                at: loc(line, 1)))
        return false
    }

    private func loc(_ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    private func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "00" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }

    /// 1-based column of byte `i` in the line starting at `start`, counted in Unicode
    /// scalars as libyaml counts them.
    private func column(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ i: Int) -> Int {
        var c = 1
        var k = start
        while k < i { if bytes[k] & 0xC0 != 0x80 { c += 1 }; k += 1 }
        return c
    }

    private enum Quote { case single, double }

    private mutating func structure(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = bytes.count
        var indents: [Int] = []
        var flow = 0
        var quote: Quote?
        /// Lines indented deeper than this belong to a block scalar (`|` or `>`).
        var blockScalarAbove: Int?
        var tabs = 0, anchors = 0
        var lineNo = 0
        var i = 0
        func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

        while i < n {
            lineNo += 1
            let start = i
            var end = i
            while end < n && bytes[end] != 0x0A { end += 1 }
            i = end + 1
            var p = start
            while p < end && bytes[p] == 0x20 { p += 1 }
            let indent = p - start
            var q = p
            while q < end && (bytes[q] == 0x20 || bytes[q] == 0x09 || bytes[q] == 0x0D) { q += 1 }
            let blank = q == end

            if let above = blockScalarAbove {
                if blank || indent > above { continue }
                blockScalarAbove = nil
            }
            var atNodeStart = true
            var k = p
            if let open = quote {
                // Inside a quoted scalar that began on an earlier line.
                k = q
                if let close = closingQuote(bytes, open, from: k, to: end) {
                    quote = nil; k = close; atNodeStart = false
                } else {
                    continue
                }
            } else {
                if blank || bytes[q] == UInt8(ascii: "#") { continue }
                if bytes[p] == 0x09 {
                    if flow == 0 {
                        tabs += 1
                        if tabs <= PlanPrescan.maxReported {
                            diagnostics.append(
                                .error(
                                    "line \(lineNo) is indented with a tab; YAML indents with spaces only",
                                    at: loc(lineNo, column(bytes, start, p))))
                        }
                        continue
                    }
                }
                if indent == 0, end - start >= 3 {
                    let a = bytes[start], b = bytes[start + 1], c = bytes[start + 2]
                    let after = end - start == 3 || isBlank(bytes[start + 3])
                    if after && ((a == 0x2D && b == 0x2D && c == 0x2D) || (a == 0x2E && b == 0x2E && c == 0x2E)) {
                        indents.removeAll(); flow = 0; continue
                    }
                }
                if indent == 0, bytes[p] == UInt8(ascii: "%") { continue }
                if flow == 0 {
                    while let top = indents.last, top > indent { indents.removeLast() }
                    if indents.last.map({ $0 < indent }) ?? true { indents.append(indent) }
                }
            }

            var extra = 0
            /// Column (byte offset in the line) of the node a block scalar would belong to.
            var owner = indent
            var keyColumn: Int?
            var scalarStart: Int?
            while k < end {
                let b = bytes[k]
                let next: UInt8 = k + 1 < end ? bytes[k + 1] : 0x0A
                if b == 0x20 || b == 0x09 || b == 0x0D { k += 1; continue }
                if b == UInt8(ascii: "#") && (k == start || isBlank(bytes[k - 1])) { break }
                if atNodeStart {
                    switch b {
                    case UInt8(ascii: "-") where flow == 0 && isBlank(next),
                        UInt8(ascii: "?") where isBlank(next):
                        extra += 1; owner = k - start; keyColumn = nil; k += 1; continue
                    case UInt8(ascii: ":") where isBlank(next) || (flow > 0 && isFlowIndicator(next)):
                        k += 1; continue
                    case UInt8(ascii: "&"), UInt8(ascii: "*"):
                        anchors += 1
                        if anchors <= PlanPrescan.maxReported {
                            var e = k + 1
                            while e < end && !isBlank(bytes[e]) && !(flow > 0 && isFlowIndicator(bytes[e])) && e - k < 40 { e += 1 }
                            let token = String(decoding: UnsafeBufferPointer(rebasing: bytes[k..<e]), as: UTF8.self)
                            let what = b == UInt8(ascii: "&") ? "an anchor" : "an alias"
                            diagnostics.append(
                                .error(
                                    "`\(token)` is \(what); a plan does not use YAML anchors or aliases (to start a text with `\(Character(Unicode.Scalar(b)))`, put it in quotes)",
                                    at: loc(lineNo, column(bytes, start, k))))
                        }
                        k += 1
                        while k < end && !isBlank(bytes[k]) { k += 1 }
                        atNodeStart = false; continue
                    case UInt8(ascii: "!"):
                        while k < end && !isBlank(bytes[k]) { k += 1 }
                        continue
                    case UInt8(ascii: "'"), UInt8(ascii: "\""):
                        let open: Quote = b == UInt8(ascii: "'") ? .single : .double
                        if let close = closingQuote(bytes, open, from: k + 1, to: end) {
                            k = close; atNodeStart = false; scalarStart = scalarStart ?? (k - start)
                            continue
                        }
                        quote = open; k = end; continue
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        flow += 1; k += 1
                        if indents.count + extra + flow > PlanPrescan.maxDepth { return tooDeep(lineNo) }
                        continue
                    case UInt8(ascii: "]"), UInt8(ascii: "}"):
                        flow = max(0, flow - 1); k += 1; atNodeStart = false; continue
                    case UInt8(ascii: ","):
                        k += 1; continue
                    case UInt8(ascii: "|"), UInt8(ascii: ">"):
                        if flow == 0 {
                            blockScalarAbove = keyColumn ?? owner
                            k = end; continue
                        }
                    default: break
                    }
                    // A plain scalar starts here.
                    atNodeStart = false
                    scalarStart = k - start
                    k += 1
                    continue
                }
                // Inside a plain or quoted scalar, or after it.
                if b == UInt8(ascii: ":") && (isBlank(next) || (flow > 0 && isFlowIndicator(next))) {
                    if flow == 0 { keyColumn = scalarStart ?? owner }
                    atNodeStart = true; scalarStart = nil; k += 1; continue
                }
                if flow > 0 {
                    if b == UInt8(ascii: ",") { atNodeStart = true; k += 1; continue }
                    if b == UInt8(ascii: "]") || b == UInt8(ascii: "}") { flow = max(0, flow - 1); k += 1; continue }
                }
                k += 1
            }
            if indents.count + extra + flow > PlanPrescan.maxDepth { return tooDeep(lineNo) }
        }
        if tabs > PlanPrescan.maxReported {
            diagnostics.append(.error("\(tabs - PlanPrescan.maxReported) more lines are indented with tabs", at: nil))
        }
        if anchors > PlanPrescan.maxReported {
            diagnostics.append(.error("\(anchors - PlanPrescan.maxReported) more anchors or aliases", at: nil))
        }
        return tabs == 0 && anchors == 0
    }

    private func isFlowIndicator(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]")
            || b == UInt8(ascii: "{") || b == UInt8(ascii: "}")
    }

    /// Index just past the closing quote, if it is on this line.
    private func closingQuote(_ bytes: UnsafeBufferPointer<UInt8>, _ open: Quote, from: Int, to end: Int) -> Int? {
        var k = from
        while k < end {
            let b = bytes[k]
            switch open {
            case .single:
                if b == UInt8(ascii: "'") {
                    if k + 1 < end && bytes[k + 1] == UInt8(ascii: "'") { k += 2; continue }
                    return k + 1
                }
            case .double:
                if b == UInt8(ascii: "\\") { k += 2; continue }
                if b == UInt8(ascii: "\"") { return k + 1 }
            }
            k += 1
        }
        return nil
    }

    private mutating func tooDeep(_ line: Int) -> Bool {
        diagnostics.append(
            .error(
                "the plan nests more than \(PlanPrescan.maxDepth) levels deep at line \(line) (a plan needs about six); refusing to read it",
                at: loc(line, 1)))
        return false
    }
}
