// Repairs text whose UTF-8 bytes were once decoded as Mac Roman and saved again as UTF-8:
// the seed note's phase icons went through that round trip, so 🏗️ (F0 9F 8F 97 EF B8 8F)
// reads "üèóÔ∏è". Each mangled character stands for one byte ≥ 0x80, so re-encoding a
// run of them as Mac Roman gives back the original bytes. The table is written out here
// because Foundation's Mac Roman support on Linux cannot be relied on.

/// Undoes UTF-8 → Mac Roman → UTF-8 mojibake, one UTF-8 sequence at a time, and leaves
/// everything else (real emoji, accented words such as "café") alone.
enum MacRomanRepair {
    /// Unicode scalar of each Mac Roman byte 0x80...0xFF (Apple's table, with € at 0xDB).
    static let upperHalf: [UInt32] = [
        0x00C4, 0x00C5, 0x00C7, 0x00C9, 0x00D1, 0x00D6, 0x00DC, 0x00E1,  // 0x80
        0x00E0, 0x00E2, 0x00E4, 0x00E3, 0x00E5, 0x00E7, 0x00E9, 0x00E8,  // 0x88
        0x00EA, 0x00EB, 0x00ED, 0x00EC, 0x00EE, 0x00EF, 0x00F1, 0x00F3,  // 0x90
        0x00F2, 0x00F4, 0x00F6, 0x00F5, 0x00FA, 0x00F9, 0x00FB, 0x00FC,  // 0x98
        0x2020, 0x00B0, 0x00A2, 0x00A3, 0x00A7, 0x2022, 0x00B6, 0x00DF,  // 0xA0
        0x00AE, 0x00A9, 0x2122, 0x00B4, 0x00A8, 0x2260, 0x00C6, 0x00D8,  // 0xA8
        0x221E, 0x00B1, 0x2264, 0x2265, 0x00A5, 0x00B5, 0x2202, 0x2211,  // 0xB0
        0x220F, 0x03C0, 0x222B, 0x00AA, 0x00BA, 0x03A9, 0x00E6, 0x00F8,  // 0xB8
        0x00BF, 0x00A1, 0x00AC, 0x221A, 0x0192, 0x2248, 0x2206, 0x00AB,  // 0xC0
        0x00BB, 0x2026, 0x00A0, 0x00C0, 0x00C3, 0x00D5, 0x0152, 0x0153,  // 0xC8
        0x2013, 0x2014, 0x201C, 0x201D, 0x2018, 0x2019, 0x00F7, 0x25CA,  // 0xD0
        0x00FF, 0x0178, 0x2044, 0x20AC, 0x2039, 0x203A, 0xFB01, 0xFB02,  // 0xD8
        0x2021, 0x00B7, 0x201A, 0x201E, 0x2030, 0x00C2, 0x00CA, 0x00C1,  // 0xE0
        0x00CB, 0x00C8, 0x00CD, 0x00CE, 0x00CF, 0x00CC, 0x00D3, 0x00D4,  // 0xE8
        0xF8FF, 0x00D2, 0x00DA, 0x00DB, 0x00D9, 0x0131, 0x02C6, 0x02DC,  // 0xF0
        0x00AF, 0x02D8, 0x02D9, 0x02DA, 0x00B8, 0x02DD, 0x02DB, 0x02C7,  // 0xF8
    ]

    /// Scalar → Mac Roman byte, for the upper half, plus the look-alikes older tables and
    /// other tools produce for the same bytes (Ω/Ω, ∆/Δ, µ/μ, €/¤).
    static let byteOf: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (i, scalar) in upperHalf.enumerated() { map[scalar] = UInt8(0x80 + i) }
        map[0x2126] = 0xBD  // OHM SIGN
        map[0x0394] = 0xC6  // GREEK CAPITAL DELTA
        map[0x03BC] = 0xB5  // GREEK SMALL MU
        map[0x00A4] = 0xDB  // CURRENCY SIGN (the pre-euro table)
        return map
    }()

    /// The repaired text and how many UTF-8 sequences were restored.
    static func repair(_ text: String) -> (text: String, repairs: Int) {
        let scalars = Array(text.unicodeScalars)
        // Fast path: nothing from the upper half, nothing to do.
        guard scalars.contains(where: { byteOf[$0.value] != nil }) else { return (text, 0) }
        // Every run of characters that re-encodes to one valid UTF-8 sequence, left to right.
        var found: [Candidate] = []
        var i = 0
        while i < scalars.count {
            if let candidate = candidate(at: i, in: scalars) {
                found.append(candidate)
                i += candidate.length
            } else {
                i += 1
            }
        }
        var accepted: [Int: Candidate] = [:]
        for (k, c) in found.enumerated() {
            let touchesPrevious = k > 0 && found[k - 1].start + found[k - 1].length == c.start
            let touchesNext = k + 1 < found.count && c.start + c.length == found[k + 1].start
            if plausible(c, inAWord: touchesPrevious || touchesNext) { accepted[c.start] = c }
        }
        guard !accepted.isEmpty else { return (text, 0) }
        var out = String.UnicodeScalarView()
        i = 0
        while i < scalars.count {
            if let c = accepted[i] {
                out.append(c.scalar)
                i += c.length
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return (String(out), accepted.count)
    }

    /// One run of mangled characters standing for one UTF-8 sequence.
    struct Candidate {
        var start: Int
        var length: Int
        var lead: UInt8
        var scalar: Unicode.Scalar
    }

    /// The mangled UTF-8 sequence starting at `i`, if the characters there form one.
    private static func candidate(at i: Int, in scalars: [Unicode.Scalar]) -> Candidate? {
        guard let lead = byteOf[scalars[i].value] else { return nil }
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return nil
        }
        guard i + length <= scalars.count else { return nil }
        var bytes = [lead]
        for k in 1..<length {
            guard let b = byteOf[scalars[i + k].value], (0x80...0xBF).contains(b) else { return nil }
            bytes.append(b)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { return nil }
        let result = Array(decoded.unicodeScalars)
        guard result.count == 1, let scalar = result.first else { return nil }
        return Candidate(start: i, length: length, lead: lead, scalar: scalar)
    }

    /// Two-character runs are the ones that could be real text (“Über” is “ then Ü, which
    /// also spell U+0486), so a lone two-byte sequence is only taken when it starts with
    /// ¬ √ ƒ ≈ (0xC2...0xC5: Latin-1 and Latin Extended-A, by far the commonest mojibake,
    /// and characters that never sit right before a letter in prose). Other two-byte
    /// sequences (Greek, Cyrillic, Hebrew, …) are taken when they touch another one, as
    /// in a mangled word. Three- and four-byte sequences (emoji, ’, —) are always taken:
    /// three or more Mac Roman symbols forming valid UTF-8 by chance does not happen.
    private static func plausible(_ c: Candidate, inAWord: Bool) -> Bool {
        if (0x80...0x9F).contains(c.scalar.value) { return false }  // C1 controls
        if c.lead >= 0xE0 { return true }
        return (0xC2...0xC5).contains(c.lead) || inAWord
    }
}
