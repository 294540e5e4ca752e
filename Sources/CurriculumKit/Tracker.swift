import Foundation
import LabCatalog

/// Everything a command needs, opened once: the plan (from `--curriculum`,
/// `$CURRICULUM_FILE`, `./curriculum.yaml`, or the copy built into the binary), the
/// progress database, the state derived from both, and today's date.
public final class Tracker {
    public struct Options: Sendable {
        public var planFile: String?
        public var database: String?
        public var today: String?
        public var environment: [String: String]
        public var currentDirectory: String

        public init(planFile: String? = nil, database: String? = nil, today: String? = nil,
                    environment: [String: String] = Tracker.processEnvironment(),
                    currentDirectory: String = Tracker.currentDirectory()) {
            self.planFile = planFile; self.database = database; self.today = today
            self.environment = environment; self.currentDirectory = currentDirectory
        }
    }

    /// The process environment, read straight from `environ`: ProcessInfo builds the same
    /// dictionary through Foundation at several times the cost, noticeable at start-up.
    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let pair = String(cString: entry)
            if let eq = pair.utf8.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(pair[..<eq])
                if env[key] == nil { env[key] = String(pair[pair.utf8.index(after: eq)...]) }
            }
            p += 1
        }
        return env
    }

    /// The working directory from getcwd (FileManager's costs more at start-up than it is worth).
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(cString: buffer)
    }

    public let options: Options
    public let plan: Plan
    /// Where the plan came from, for messages ("curriculum.yaml", "the built-in plan").
    public let planSource: String
    public let warnings: [Diagnostic]
    public let today: Day

    /// Reads the plan and validates it; opening the database waits until a command needs it.
    public init(_ options: Options) throws(CurriculumError) {
        self.options = options
        let env = options.environment
        if let text = options.today ?? env["CURRICULUM_TODAY"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let d = Day(iso: text) else { throw .usage("--today takes a date as YYYY-MM-DD, not \(text)") }
            today = d
        } else {
            today = Day.today()
        }
        let loaded = try Tracker.loadPlan(options)
        plan = loaded.plan
        planSource = loaded.source
        warnings = loaded.warnings
    }

    public static let knownLabs = Set(LabCatalog.all.map(\.id))

    /// Which plan file the options name, or nil for the built-in plan.
    public static func planPath(_ options: Options) -> String? {
        if let f = options.planFile { return f }
        if let f = options.environment["CURRICULUM_FILE"], !f.isEmpty { return f }
        let local = (options.currentDirectory as NSString).appendingPathComponent("curriculum.yaml")
        if access(local, F_OK) == 0 { return local }
        return nil
    }

    static func loadPlan(_ options: Options) throws(CurriculumError) -> (plan: Plan, source: String, warnings: [Diagnostic]) {
        let result: PlanLoadResult
        let source: String
        if let path = planPath(options) {
            do {
                result = try PlanCache.load(path: path, knownLabs: knownLabs, environment: options.environment)
            } catch { throw .planFile(error) }
            source = path
        } else {
            result = PlanCache.loadBuiltIn(text: BuiltInPlan.text, file: "(built-in) curriculum.yaml", knownLabs: knownLabs,
                                           environment: options.environment)
            source = "the built-in plan"
        }
        guard let plan = result.plan, result.errors.isEmpty else { throw .invalidPlan(result.diagnostics) }
        return (plan, source, result.warnings)
    }

    // MARK: The database

    /// `--db`, else `$CURRICULUM_DB`, else `$XDG_DATA_HOME/curriculum/<plan-id>.sqlite`
    /// (`~/.local/share/curriculum/…` when XDG_DATA_HOME is unset).
    public var databasePath: String { Tracker.databasePath(for: plan.id, options: options) }

    public static func databasePath(for planID: String, options: Options) -> String {
        if let p = options.database { return p }
        let env = options.environment
        if let p = env["CURRICULUM_DB"], !p.isEmpty { return p }
        let base: String
        if let x = env["XDG_DATA_HOME"], x.hasPrefix("/") {
            base = x
        } else {
            base = (env["HOME"] ?? NSHomeDirectory()) + "/.local/share"
        }
        return "\(base)/curriculum/\(planID).sqlite"
    }

    private var openedStore: Store?

    /// Closes the progress database (SQLite then folds its write-ahead log back into the
    /// file); a later `store()` opens it again.
    public func closeStore() { openedStore = nil }

    public func store() throws(CurriculumError) -> Store {
        if let s = openedStore { return s }
        do {
            let s = try Store(path: databasePath)
            openedStore = s
            return s
        } catch { throw .store(error) }
    }

    // MARK: Progress mapped onto the plan

    /// Recorded progress, keyed by task index (renamed tasks carry their old ids' progress).
    public struct Progress: Sendable {
        public var byTask: [Int: TaskProgress] = [:]
        /// Recorded progress whose task id is no longer in the plan (and no task was renamed from it).
        public var orphans: [TaskProgress] = []
        /// Progress recorded on a task that now has parts (a parent is done by its parts only).
        public var onParents: [Int] = []
    }

    private var cachedProgress: Progress?
    private var cachedState: PlanState?

    public func progress() throws(CurriculumError) -> Progress {
        if let p = cachedProgress { return p }
        let rows: [TaskProgress]
        let db = try store()
        do { rows = try db.progressRows() } catch { throw .store(error) }
        var out = Progress()
        out.byTask.reserveCapacity(rows.count)
        var renamed: [String: Int]?
        for row in rows {
            var index = plan.taskIndex[row.task]
            if index == nil {
                if renamed == nil { renamed = renamedIndex() }
                index = renamed?[row.task]
            }
            if let i = index {
                // The current id wins over an old one; otherwise the latest record wins.
                if let existing = out.byTask[i], plan.tasks[i].id == existing.task, row.task != plan.tasks[i].id { continue }
                out.byTask[i] = row
            } else {
                out.orphans.append(row)
            }
        }
        out.onParents = out.byTask.keys.filter { !plan.parts[$0].isEmpty }.sorted()
        cachedProgress = out
        return out
    }

    /// Old id → task index, from `renamed-from`.
    private func renamedIndex() -> [String: Int] {
        var renamed: [String: Int] = [:]
        for i in plan.tasks.indices where !plan.tasks[i].renamedFrom.isEmpty {
            for old in plan.tasks[i].renamedFrom { renamed[old] = i }
        }
        return renamed
    }

    public func state() throws(CurriculumError) -> PlanState {
        if let s = cachedState { return s }
        var checked = [Bool](repeating: false, count: plan.tasks.count)
        if let p = cachedProgress {
            for i in p.byTask.keys { checked[i] = true }
        } else {
            // Readiness needs only which tasks have progress (the same mapping as `progress()`).
            let ids: [String]
            let db = try store()
            do { ids = try db.doneTaskIDs() } catch { throw .store(error) }
            var renamed: [String: Int]?
            for id in ids {
                if let i = plan.taskIndex[id] { checked[i] = true; continue }
                if renamed == nil { renamed = renamedIndex() }
                if let i = renamed?[id] { checked[i] = true }
            }
        }
        let s = PlanState(plan: plan, checked: checked)
        cachedState = s
        return s
    }

    /// Forget derived state after a write.
    public func invalidate() { cachedProgress = nil; cachedState = nil }

    // MARK: Naming tasks

    /// A task by id, `PHASE.N`, or unique id prefix; an unknown or ambiguous name is an
    /// error that lists candidates.
    public func task(named name: String) throws(CurriculumError) -> Int {
        if let i = plan.taskIndex[name] { return i }
        for (i, t) in plan.tasks.enumerated() where t.renamedFrom.contains(name) { return i }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, let p = Int(parts[0]), let n = Int(parts[1]) {
            guard let phase = plan.phases.first(where: { $0.number == p }) else {
                throw .unknownTask(name, plan.phases.map { "\($0.number).1" }.prefix(3).map { $0 })
            }
            guard n >= 1, n <= phase.tasks.count else {
                throw .unknownTask(name, ["\(p).1 … \(p).\(phase.tasks.count)"])
            }
            return phase.tasks[n - 1]
        }
        let prefixed = plan.tasks.indices.filter { plan.tasks[$0].id.hasPrefix(name) }
        if prefixed.count == 1 { return prefixed[0] }
        if prefixed.count > 1 { throw .ambiguousTask(name, prefixed.map { plan.tasks[$0].id }) }
        throw .unknownTask(name, Suggest.closest(to: name, in: plan.tasks.map(\.id), limit: 3)
            + plan.tasks.filter { $0.id.contains(name) }.map(\.id).prefix(3))
    }

    /// A phase by id or number.
    public func phase(named name: String) throws(CurriculumError) -> Int {
        if let i = plan.phaseIndex[name] { return i }
        if let n = Int(name), let i = plan.phases.firstIndex(where: { $0.number == n }) { return i }
        throw .unknownPhase(name, Suggest.closest(to: name, in: plan.phases.map(\.id), limit: 3))
    }
}

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
        return candidates
            .compactMap { c in Suggester.distance(w, Array(c.lowercased().utf8), atMost: threshold).map { (c, $0) } }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .prefix(limit).map(\.0)
    }
}
