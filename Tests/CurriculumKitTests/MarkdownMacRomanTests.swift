import Testing

@testable import CurriculumKit

// The Mac Roman repair on its own: the table, repairs of mangled text in many scripts, and
// real text that must be left exactly as it is.

/// What a UTF-8 → Mac Roman → UTF-8 round trip does to a string.
private func mangled(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    for byte in s.utf8 {
        if byte < 0x80 {
            out.append(Unicode.Scalar(byte))
        } else if let scalar = Unicode.Scalar(MacRomanRepair.upperHalf[Int(byte) - 0x80]) {
            out.append(scalar)
        }
    }
    return String(out)
}

@Suite("Markdown Mac Roman repair")
struct MarkdownMacRomanTests {
    @Test func theTableHas128DistinctNonASCIIEntries() {
        #expect(MacRomanRepair.upperHalf.count == 128)
        #expect(Set(MacRomanRepair.upperHalf).count == 128)
        #expect(MacRomanRepair.upperHalf.allSatisfy { $0 >= 0xA0 })
        // Spot checks against Apple's published table.
        #expect(MacRomanRepair.upperHalf[0xF0 - 0x80] == 0xF8FF)
        #expect(MacRomanRepair.upperHalf[0xDB - 0x80] == 0x20AC)
        #expect(MacRomanRepair.upperHalf[0x9F - 0x80] == 0x00FC)
    }

    @Test func manglingMatchesTheSeedsBytes() {
        // Expected forms worked out with Python's mac_roman codec, independently of the table.
        #expect(mangled("🏗️") == "\u{F8FF}üèóÔ∏è")
        #expect(mangled("⚙️") == "‚öôÔ∏è")
        #expect(mangled("é") == "√©")
        #expect(mangled("’") == "‚Äô")
    }

    @Test(arguments: [
        "🏗️ Phase 1", "café", "naïve façade", "ñandú", "Привет, мир", "Γειά σου", "日本語のテキスト",
        "שלום", "’quotes’ — dashes…", "🧵🧠📡 in a row", "mixed ✓ and ∑", "Ærø",
    ])
    func mangledTextIsRepaired(original: String) {
        let (text, repairs) = MacRomanRepair.repair(mangled(original))
        #expect(text == original)
        #expect(Array(text.unicodeScalars) == Array(original.unicodeScalars))
        #expect(repairs == original.unicodeScalars.filter { !$0.isASCII }.count)
    }

    @Test(arguments: [
        "🏗️ Phase 1", "café", "naïve façade", "Grüße", "señor", "Ærø", "“Über” and «Ça»",
        "5 € ≈ ¬ 6", "À la carte", "≤ ≥ ∞ π Ω ∆ ◊ † ‡ ﬁ", "Привет", "plain ASCII",
    ])
    func realTextIsLeftAlone(text: String) {
        let (repaired, repairs) = MacRomanRepair.repair(text)
        #expect(repairs == 0)
        #expect(Array(repaired.unicodeScalars) == Array(text.unicodeScalars))
    }
}
