// "Did you mean …?" for misspelt keys and ids: the closest candidate by edit distance
// (with swapped neighbours counting as one edit), if it is close enough to be a likely
// typo. Looking through every id of a 100,000-task plan for each unknown reference would
// make a plan full of typos quadratic, so id lookups share a budget of work: past it,
// messages simply go without a suggestion.

/// Finds the likely intended spelling among known names.
struct Suggester {
    private var byLength: [Int: [[UInt8]]] = [:]
    /// Lowercased, with `_` and spaces turned into `-`: catches `Rest_API` → `rest-api` at once.
    private var normalized: [String: String] = [:]
    private var names: [[UInt8]: String] = [:]
    /// Edit-distance cells left to compute across all lookups.
    private var budget: Int

    init(_ candidates: some Sequence<String>, budget: Int = 20_000_000) {
        self.budget = budget
        // Sorted, so that between equally close candidates the answer does not depend on
        // the order of a set.
        for c in candidates.sorted() {
            let u = Array(c.utf8)
            guard names[u] == nil else { continue }
            names[u] = c
            byLength[u.count, default: []].append(u)
            let n = Suggester.normalize(c)
            if normalized[n] == nil { normalized[n] = c }
        }
    }

    static func normalize(_ s: String) -> String {
        String(s.lowercased().map { $0 == "_" || $0 == " " ? "-" : $0 })
    }

    /// The closest candidate, or nil when none is close (or the budget is spent).
    mutating func suggest(_ word: String) -> String? {
        if let n = normalized[Suggester.normalize(word)], n != word { return n }
        let w = Array(word.utf8)
        guard !w.isEmpty, w.count <= 200 else { return nil }
        let limit = w.count <= 3 ? 1 : (w.count <= 6 ? 2 : 3)
        var best: (distance: Int, name: [UInt8])?
        for length in max(0, w.count - limit)...(w.count + limit) {
            guard let group = byLength[length] else { continue }
            for c in group {
                let cap = min(limit, (best?.distance ?? limit + 1) - 1)
                if cap < 0 { break }
                budget -= (w.count + 1) * (c.count + 1)
                if budget < 0 { return best.flatMap { names[$0.name] } }
                if let d = Suggester.distance(w, c, atMost: cap) { best = (d, c) }
            }
        }
        return best.flatMap { names[$0.name] }
    }

    /// Optimal-string-alignment distance, or nil when it exceeds `atMost`.
    static func distance(_ a: [UInt8], _ b: [UInt8], atMost k: Int) -> Int? {
        if abs(a.count - b.count) > k { return nil }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) <= k ? max(a.count, b.count) : nil }
        let m = b.count
        var prev2 = [Int](repeating: 0, count: m + 1)
        var prev = Array(0...m)
        var cur = [Int](repeating: 0, count: m + 1)
        for i in 1...a.count {
            cur[0] = i
            var rowMin = i
            for j in 1...m {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { v = min(v, prev2[j - 2] + 1) }
                cur[j] = v
                rowMin = min(rowMin, v)
            }
            if rowMin > k { return nil }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[m] <= k ? prev[m] : nil
    }
}

extension String {
    /// `" Did you mean `x`?"` or nothing, to append to a sentence.
    static func didYouMean(_ suggestion: String?) -> String {
        suggestion.map { "; did you mean `\($0)`?" } ?? ""
    }
}

extension String {
    /// The text cut to a length that fits in a message (a hostile plan may hold a key or
    /// an id a megabyte long).
    var clipped: String {
        if utf8.count <= 80 { return self }
        let head = prefix(77)
        return head.endIndex == endIndex ? self : String(head) + "…"
    }
}
