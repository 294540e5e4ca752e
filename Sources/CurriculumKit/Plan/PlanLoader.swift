// Reads `curriculum.yaml`: the only user of Yams in the tracker. Three stages; a problem
// in one stops the next (YAML cannot be checked before it parses), and the last reports
// every problem of the plan at once:
//
//  1. bytes → text: invalid UTF-8 is reported at its line and column (`load(path:)`,
//     `load(bytes:)`);
//  2. a lexical pre-scan (`PlanPrescan`) refuses what would make a YAML parser crash,
//     hang or explode: control characters, huge lines, tab indentation, deep nesting,
//     anchors and aliases;
//  3. Yams parses the text into nodes with line and column marks; `PlanYAMLReader` turns
//     them into a draft, checking keys and value types, and `PlanValidator` checks ids,
//     references, cycles and dates and builds the `Plan`.

import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum PlanLoader {
    /// Parses and validates plan text. `file` names it in diagnostics. `knownLabs` is the set
    /// of lab ids that exist (from `LabCatalog`); a `labs:` entry outside it is an error.
    public static func load(text: String, file: String, knownLabs: Set<String>) -> PlanLoadResult {
        // libyaml, told the text is UTF-8, would take a byte-order mark for content.
        let text = text.utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? String(decoding: text.utf8.dropFirst(3), as: UTF8.self) : text
        var contiguous = text
        return contiguous.withUTF8 { bytes in parse(text: text, bytes: bytes, file: file, knownLabs: knownLabs) }
    }

    /// Parses and validates the raw bytes of a plan file; invalid UTF-8 is an error
    /// diagnostic pointing at the first bad byte.
    public static func load(bytes: [UInt8], file: String, knownLabs: Set<String>) -> PlanLoadResult {
        if let bad = firstInvalidUTF8(bytes) {
            var line = 1, column = 1
            for b in bytes[..<bad] {
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            let shown = bytes[bad...].prefix(4).map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            return PlanLoadResult(
                plan: nil,
                diagnostics: [
                    .error(
                        "the file is not valid UTF-8 text (bytes \(shown)); save the plan as UTF-8",
                        at: SourceLocation(file: file, line: line, column: column))
                ])
        }
        return load(text: String(decoding: bytes, as: UTF8.self), file: file, knownLabs: knownLabs)
    }

    /// Reads and validates the plan file at `path`. Throws only when the file cannot be
    /// read at all; everything wrong inside it is a diagnostic.
    public static func load(path: String, knownLabs: Set<String>) throws(PlanFileError) -> PlanLoadResult {
        let bytes = try readFile(path)
        return load(bytes: bytes, file: path, knownLabs: knownLabs)
    }

    // MARK: - Stages

    private static func parse(
        text: String, bytes: UnsafeBufferPointer<UInt8>, file: String,
        knownLabs: Set<String>
    ) -> PlanLoadResult {
        let empty = PlanLoadResult(
            plan: nil,
            diagnostics: [
                .error(
                    "the plan file is empty; a plan needs at least schema, id, title and phases",
                    at: SourceLocation(file: file, line: 1, column: 1))
            ])
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return empty }
        var prescan = PlanPrescan(file: file)
        guard prescan.scan(bytes) else { return PlanLoadResult(plan: nil, diagnostics: prescan.diagnostics) }

        var reader = PlanYAMLReader(file: file)
        let root: Node?
        // The parser must outlive the walk over its nodes: anchors are held weakly by the
        // nodes, and the reader relies on seeing them to refuse aliases.
        let parser: Parser
        do {
            parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            root = try parser.singleRoot()
        } catch let error as YamlError {
            return PlanLoadResult(plan: nil, diagnostics: [reader.diagnostic(for: error, text: text)])
        } catch {
            return PlanLoadResult(plan: nil, diagnostics: [.error("the plan could not be parsed: \(error)", at: nil)])
        }
        guard let root else { return empty }
        guard let draft = withExtendedLifetime(parser, { reader.read(root) }) else {
            return PlanLoadResult(plan: nil, diagnostics: reader.diagnostics)
        }
        var validator = PlanValidator(file: file, knownLabs: knownLabs)
        let plan = validator.validate(draft)
        var all = reader.diagnostics + validator.diagnostics
        if !reader.diagnostics.isEmpty { all = Diagnostic.inFileOrder(all) }
        let failed = all.contains { $0.severity == .error }
        return PlanLoadResult(plan: failed ? nil : plan, diagnostics: all)
    }

    /// Index of the first byte that is not part of valid UTF-8 (overlong forms,
    /// surrogates and values past U+10FFFF included), or nil.
    static func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return i
            }
            guard i + need < n, (lo...hi).contains(b[i + 1]) else { return i }
            if need >= 2 {
                for k in 2...need where b[i + k] & 0xC0 != 0x80 { return i }
            }
            i += need + 1
        }
        return nil
    }

    // MARK: - Files

    private static func readFile(_ path: String) throws(PlanFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR { throw .missing(path) }
            if e == EISDIR { throw .isDirectory(path) }
            throw .unreadable(path, reason: String(cString: strerror(e)))
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { throw .isDirectory(path) }
            if Int(st.st_size) > PlanPrescan.maxBytes {
                throw .unreadable(path, reason: "it is \(Int(st.st_size) >> 20) MB, and a plan may be at most \(PlanPrescan.maxBytes >> 20) MB")
            }
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EISDIR { throw .isDirectory(path) }
                throw .unreadable(path, reason: String(cString: strerror(e)))
            }
            if got == 0 { break }
            out.append(contentsOf: chunk[0..<got])
            if out.count > PlanPrescan.maxBytes {
                throw .unreadable(path, reason: "it is larger than \(PlanPrescan.maxBytes >> 20) MB, the most a plan may be")
            }
        }
        return out
    }
}
