import Foundation

// Ids for a note's phases and tasks, made from their titles. An id must be short enough to
// type (`curriculum done jwt-based-authentication`), kebab-case ASCII, unique in the plan, and
// the same every time the same note is imported, so it is a pure function of the titles.

/// Turns titles into short kebab-case ids and keeps them unique.
struct IdentifierMaker {
    /// Ids handed out so far (and ids reserved because the note spells them out).
    private(set) var used: Set<String> = []

    /// Words that carry no meaning in an id.
    static let stopWords: Set<String> = [
        "a", "an", "the", "and", "or", "nor", "of", "in", "on", "at", "to", "for", "with",
        "by", "from", "into", "onto", "using", "via", "as", "your", "my", "our", "their", "its",
        "e", "g", "eg", "i", "ie", "etc", "is", "are", "be", "it", "this", "that", "these",
        "properly", "effectively", "correctly", "efficiently",
    ]

    /// Generic verbs that open most checklist items ("Use …", "Implement …"); dropped from the
    /// front of an id when at least two words remain.
    static let leadingVerbs: Set<String> = [
        "use", "create", "implement", "understand", "build", "write", "handle", "design",
        "learn", "study", "master", "apply", "add", "make", "do", "work", "define", "configure",
        "install", "integrate", "enable", "explore", "practice", "experiment",
        "try", "compare", "develop", "deploy", "generate", "read", "building", "using",
        "creating", "designing", "understanding", "learning", "mastering",
    ]

    /// At most this many words in a derived id.
    static let maxWords = 4
    /// A derived id stops growing once it is this long (it keeps at least one word).
    static let maxLength = 32

    /// Marks `id` as taken; returns false when it already was.
    @discardableResult
    mutating func reserve(_ id: String) -> Bool { used.insert(id).inserted }

    /// A unique id for `title`: its slug, or `fallback` when the title has no usable
    /// words, with -2, -3, … appended on a collision.
    mutating func make(from title: String, fallback: String) -> String {
        var base = Self.shortSlug(title) ?? fallback
        // An id starts with a letter: "2FA setup" becomes task-2fa-setup, not 2fa-setup.
        if !PlanValidator.isKebab(base) { base = String(fallback.prefix { $0 != "-" }) + "-" + base }
        return unique(base)
    }

    /// `base`, or `base-2`, `base-3`, … whichever is free first; records it as used.
    mutating func unique(_ base: String) -> String {
        var candidate = base
        var n = 2
        while used.contains(candidate) {
            candidate = "\(base)-\(n)"
            n += 1
        }
        used.insert(candidate)
        return candidate
    }

    /// The few meaningful words of a title as kebab-case, or nil when none are left.
    static func shortSlug(_ title: String) -> String? {
        var words = meaningfulWords(withoutAsides(title))
        if words.isEmpty { words = meaningfulWords(title) }
        if words.isEmpty { words = compounds(title).map { $0.joined(separator: "-") } }
        if words.count > 2, let first = words.first, leadingVerbs.contains(first) { words.removeFirst() }
        guard !words.isEmpty else { return nil }
        var id = ""
        var count = 0
        for word in words {
            let next = id.isEmpty ? word : id + "-" + word
            if count > 0 && (count == maxWords || next.count > maxLength) { break }
            id = next
            count += 1
        }
        return id
    }

    /// The whole title as kebab-case (for the plan id), or nil when it has no words.
    static func fullSlug(_ title: String, maxWords: Int = 8) -> String? {
        let words = asciiWords(title).filter { !$0.isEmpty }
        guard !words.isEmpty else { return nil }
        let slug = words.prefix(maxWords).joined(separator: "-")
        return PlanValidator.isKebab(slug) ? slug : "plan-" + slug
    }

    /// An id written by hand (an Obsidian `🆔`), made kebab-case if it can be.
    static func normalized(_ id: String) -> String? {
        let words = asciiWords(id)
        guard !words.isEmpty else { return nil }
        let result = words.joined(separator: "-")
        return PlanValidator.isKebab(result) ? result : nil
    }

    /// The title without parenthesised asides: "Install PostgreSQL (or MariaDB)" → "Install PostgreSQL".
    static func withoutAsides(_ title: String) -> String {
        var out = ""
        var depth = 0
        for c in title {
            if c == "(" { depth += 1; continue }
            if c == ")" { if depth > 0 { depth -= 1 }; continue }
            if depth == 0 { out.append(c) }
        }
        return out
    }

    /// Lowercase ASCII words without stop words; a hyphenated compound ("role-based") stays
    /// one word so it counts once.
    static func meaningfulWords(_ title: String) -> [String] {
        compounds(title).compactMap { compound in
            let parts = compound.filter { !stopWords.contains($0) }
            return parts.isEmpty ? nil : parts.joined(separator: "-")
        }
    }

    /// All ASCII words of a text, compounds split.
    static func asciiWords(_ text: String) -> [String] { compounds(text).flatMap { $0 } }

    /// Words of a text, grouped into hyphen-joined compounds, folded to lowercase ASCII.
    /// "C++" becomes "cpp" and "C#" "csharp", since dropping the symbols would leave "c".
    static func compounds(_ text: String) -> [[String]] {
        let folded = asciiFolded(sharpAfterLetterOnly(text: text.replacingOccurrences(of: "++", with: "pp")))
        var result: [[String]] = []
        var compound: [String] = []
        var word = ""
        func endWord() {
            if !word.isEmpty { compound.append(word); word = "" }
        }
        func endCompound() {
            endWord()
            if !compound.isEmpty { result.append(compound); compound = [] }
        }
        let chars = Array(folded.unicodeScalars)
        for (i, s) in chars.enumerated() {
            if ("a"..."z").contains(s) || ("0"..."9").contains(s) {
                word.unicodeScalars.append(s)
            } else if s == "-" && !word.isEmpty && i + 1 < chars.count
                && (("a"..."z").contains(chars[i + 1]) || ("0"..."9").contains(chars[i + 1]))
            {
                endWord()  // inside a compound
            } else {
                endCompound()
            }
        }
        endCompound()
        return result
    }

    /// "C#" → "Csharp"; a "#" elsewhere (a tag, a heading mark) is left for the word splitter.
    private static func sharpAfterLetterOnly(text: String) -> String {
        let chars = Array(text)
        var out = ""
        for (i, c) in chars.enumerated() {
            let afterLetter = i > 0 && chars[i - 1].isLetter
            let beforeWord = i + 1 < chars.count && (chars[i + 1].isLetter || chars[i + 1].isNumber)
            if c == "#" && afterLetter && !beforeWord { out += "sharp" } else { out.append(c) }
        }
        return out
    }

    /// Lowercase ASCII: accents dropped ("café" → "cafe"), a few letters spelt out, anything
    /// else that is not ASCII removed.
    static func asciiFolded(_ text: String) -> String {
        let special: [Character: String] = [
            "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
            "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "þ": "th", "ı": "i",
        ]
        var spelt = ""
        for c in text { if let s = special[c] { spelt += s } else { spelt.append(c) } }
        // Bytes, not a growing String.UnicodeScalarView: appending to that copied the whole
        // text each time, so a long title took quadratic time (found by PlanFuzzTests).
        var out: [UInt8] = []
        for s in spelt.decomposedStringWithCanonicalMapping.unicodeScalars where s.isASCII {
            let b = UInt8(truncatingIfNeeded: s.value)
            out.append((0x41...0x5A).contains(b) ? b + 0x20 : b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
