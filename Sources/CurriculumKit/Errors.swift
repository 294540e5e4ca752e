import Foundation

/// Everything a person can get wrong, as one sentence and an exit status (DESIGN.md §3).
public enum CurriculumError: Error, Sendable, CustomStringConvertible {
    case usage(String)
    case invalidPlan([Diagnostic])
    case planFile(PlanFileError)
    case store(StoreError)
    case unknownTask(String, [String])
    case ambiguousTask(String, [String])
    case unknownPhase(String, [String])
    case refused(String)
    case failed(String)
    /// Something needed is not installed (the labs binary, a server).
    case unavailable(String)
    /// A file the learner named does not exist or cannot be read.
    case missingFile(String)

    public var exitStatus: Int32 {
        switch self {
        case .usage, .unknownTask, .ambiguousTask, .unknownPhase: return ExitStatus.usage
        case .invalidPlan: return ExitStatus.badPlan
        case .planFile, .missingFile: return ExitStatus.missingFile
        case let .store(e): return e.exitStatus
        case .refused, .failed: return ExitStatus.failure
        case .unavailable: return ExitStatus.unavailable
        }
    }

    public var description: String {
        switch self {
        case let .usage(s), let .refused(s), let .failed(s), let .unavailable(s), let .missingFile(s): return s
        case let .invalidPlan(d):
            let errors = d.filter { $0.severity == .error }
            return errors.map(\.description).joined(separator: "\n")
                + "\n\(errors.count) error\(errors.count == 1 ? "" : "s") in the plan; nothing was changed."
        case let .planFile(e): return e.description
        case let .store(e): return e.description
        case let .unknownTask(name, candidates):
            let c = Array(NSOrderedSet(array: candidates)) as? [String] ?? candidates
            return "no task is named \(name)" + (c.isEmpty ? "; `curriculum list` shows every task." : "; did you mean \(c.joined(separator: ", "))?")
        case let .ambiguousTask(name, candidates):
            return "\(name) could be any of \(candidates.prefix(8).joined(separator: ", "))\(candidates.count > 8 ? ", …" : ""); type more of the id."
        case let .unknownPhase(name, candidates):
            return "no phase is named \(name)" + (candidates.isEmpty ? "." : "; did you mean \(candidates.joined(separator: ", "))?")
        }
    }
}

/// The exit statuses of DESIGN.md §3, plus the database ones (sysexits.h).
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Anything else, a failed lab included.
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
    /// A bad plan file (or a bad note for `import`).
    public static let badPlan: Int32 = 65
    /// A missing or unreadable plan or note file.
    public static let missingFile: Int32 = 66
    /// A lab could not run: something it needs is not installed.
    public static let unavailable: Int32 = 69
    /// The progress database cannot be created (its folder or file).
    public static let cannotCreate: Int32 = 73
    /// The progress database is unusable: not ours, damaged, newer, read-only, locked.
    public static let database: Int32 = 74
    /// Interrupted with Ctrl-C.
    public static let interrupted: Int32 = 130
}

extension StoreError {
    public var exitStatus: Int32 {
        if case .cannotCreate = self { return ExitStatus.cannotCreate }
        return ExitStatus.database
    }
}

/// "Did you mean" with several candidates (for task, phase and lab names on the command
/// line), by the same edit distance the plan validator uses.
public enum Suggest {
    public static func closest(to word: String, in candidates: [String], limit: Int) -> [String] {
        let w = Array(word.lowercased().utf8)
        let threshold = max(2, w.count / 3)
        return
            candidates
            .compactMap { c in Suggester.distance(w, Array(c.lowercased().utf8), atMost: threshold).map { (c, $0) } }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .prefix(limit).map(\.0)
    }

    /// Ids that begin with something within a small edit distance of `word` (`layerd` →
    /// `layered-architecture`), closest first, then by id.
    public static func prefixed(_ word: String, in candidates: [String], limit: Int) -> [String] {
        let w = Array(word.lowercased().utf8)
        guard w.count >= 3 else { return [] }
        let budget = max(1, w.count / 4)
        var scored: [(String, Int)] = []
        for c in candidates {
            let u = Array(c.lowercased().utf8)
            guard u.count >= w.count - budget else { continue }
            var best = Int.max
            for length in max(1, w.count - budget)...min(u.count, w.count + budget) {
                if let d = Suggester.distance(w, Array(u.prefix(length)), atMost: budget) { best = min(best, d) }
            }
            if best <= budget { scored.append((c, best)) }
        }
        return scored.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }
}
