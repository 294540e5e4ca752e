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
        /// Whether opening the database records today as the learner's start when none is
        /// recorded yet (for a plan with `start`); `curriculum start` records its own.
        public var recordsStart: Bool

        public init(
            planFile: String? = nil, database: String? = nil, today: String? = nil,
            environment: [String: String] = Tracker.processEnvironment(),
            currentDirectory: String = Tracker.currentDirectory(), recordsStart: Bool = true
        ) {
            self.planFile = planFile; self.database = database; self.today = today
            self.environment = environment; self.currentDirectory = currentDirectory
            self.recordsStart = recordsStart
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
    private var loadedPlan: Plan
    /// Whether the learner's start has been read (it moves the plan's due dates).
    private var startResolved = false
    /// Set when this run recorded today as the learner's start (first use): say so once.
    public private(set) var recordedStartToday = false

    /// The plan, its due dates moved by the learner's own start when it has `start:`
    /// (reading that start opens the progress database).
    public var plan: Plan {
        if !startResolved { resolveStart() }
        return loadedPlan
    }

    /// The plan exactly as written, absolute dates.
    public var writtenPlan: Plan { var p = loadedPlan; p.dateShift = 0; return p }
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
        loadedPlan = loaded.plan
        startResolved = loaded.plan.start == nil
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
            result = PlanCache.loadBuiltIn(
                text: BuiltInPlan.text, file: "(built-in) curriculum.yaml", knownLabs: knownLabs,
                environment: options.environment)
            source = "the built-in plan"
        }
        guard let plan = result.plan, result.errors.isEmpty else { throw .invalidPlan(result.diagnostics) }
        return (plan, source, result.warnings)
    }

    // MARK: The database

    /// `--db`, else `$CURRICULUM_DB`, else `$XDG_DATA_HOME/curriculum/<plan-id>.sqlite`
    /// (`~/.local/share/curriculum/…` when XDG_DATA_HOME is unset).
    public var databasePath: String { Tracker.databasePath(for: loadedPlan.id, options: options) }

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
            if !startResolved { resolveStart(s) }
            return s
        } catch { throw .store(error) }
    }

    /// Reads the learner's start and moves the plan's dates by it. On first use (nothing
    /// recorded) today is recorded; if the database cannot be opened or written, today
    /// still serves as the start for this run.
    private func resolveStart(_ opened: Store? = nil) {
        startResolved = true
        guard let planStart = loadedPlan.start else { return }
        guard let db = opened ?? (try? store()) else { return }
        var start = (try? db.learnerStart()) ?? nil
        if start == nil, options.recordsStart {
            if !db.readOnly, (try? db.recordStart(today, day: today)) != nil { recordedStartToday = true }
            start = today
        }
        loadedPlan.dateShift = start.map { $0.ordinal - planStart.ordinal } ?? 0
    }

    /// Records the learner's own start and moves the plan's dates by it.
    public func recordStart(_ day: Day) throws(CurriculumError) {
        let db = try store()
        do { try db.recordStart(day, day: today) } catch { throw .store(error) }
        if let planStart = loadedPlan.start { loadedPlan.dateShift = day.ordinal - planStart.ordinal }
        cachedState = nil
    }

    // MARK: Progress mapped onto the plan

    /// Recorded progress, keyed by task index (renamed tasks carry their old ids' progress).
    public struct Progress: Sendable {
        public var byTask: [Int: TaskProgress] = [:]
        /// Recorded progress whose task id is no longer in the plan (and no task was renamed from it).
        public var orphans: [TaskProgress] = []
        /// Progress recorded on a task that now has parts (a parent is done by its parts only).
        public var onParents: [Int] = []
        public init() {}
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
            var index = loadedPlan.taskIndex[row.task]
            if index == nil {
                if renamed == nil { renamed = renamedIndex() }
                index = renamed?[row.task]
            }
            if let i = index {
                // The current id wins over an old one; otherwise the latest record wins.
                if let existing = out.byTask[i], loadedPlan.tasks[i].id == existing.task, row.task != loadedPlan.tasks[i].id { continue }
                out.byTask[i] = row
            } else {
                out.orphans.append(row)
            }
        }
        out.onParents = out.byTask.keys.filter { !loadedPlan.parts[$0].isEmpty }.sorted()
        cachedProgress = out
        return out
    }

    /// Old id → task index, from `renamed-from`.
    private func renamedIndex() -> [String: Int] {
        var renamed: [String: Int] = [:]
        for i in loadedPlan.tasks.indices where !loadedPlan.tasks[i].renamedFrom.isEmpty {
            for old in loadedPlan.tasks[i].renamedFrom { renamed[old] = i }
        }
        return renamed
    }

    public func state() throws(CurriculumError) -> PlanState {
        if let s = cachedState { return s }
        if !startResolved { resolveStart() }
        var checked = [Bool](repeating: false, count: loadedPlan.tasks.count)
        if let p = cachedProgress {
            for i in p.byTask.keys { checked[i] = true }
        } else {
            // Readiness needs only which tasks have progress (the same mapping as `progress()`).
            let ids: [String]
            let db = try store()
            do { ids = try db.doneTaskIDs() } catch { throw .store(error) }
            var renamed: [String: Int]?
            for id in ids {
                if let i = loadedPlan.taskIndex[id] { checked[i] = true; continue }
                if renamed == nil { renamed = renamedIndex() }
                if let i = renamed?[id] { checked[i] = true }
            }
        }
        let s = PlanState(plan: loadedPlan, checked: checked)
        cachedState = s
        return s
    }

    // MARK: Naming tasks

    /// A task by id, `PHASE.N`, or unique id prefix; an unknown or ambiguous name is an
    /// error that lists candidates.
    public func task(named name: String) throws(CurriculumError) -> Int {
        if let i = loadedPlan.taskIndex[name] { return i }
        for (i, t) in loadedPlan.tasks.enumerated() where t.renamedFrom.contains(name) { return i }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, let p = Int(parts[0]), let n = Int(parts[1]) {
            guard let phase = loadedPlan.phases.first(where: { $0.number == p }) else {
                throw .unknownTask(name, loadedPlan.phases.map { "\($0.number).1" }.prefix(3).map { $0 })
            }
            guard n >= 1, n <= phase.tasks.count else {
                throw .unknownTask(name, ["\(p).1 … \(p).\(phase.tasks.count)"])
            }
            return phase.tasks[n - 1]
        }
        let prefixed = loadedPlan.tasks.indices.filter { loadedPlan.tasks[$0].id.hasPrefix(name) }
        if prefixed.count == 1 { return prefixed[0] }
        if prefixed.count > 1 { throw .ambiguousTask(name, prefixed.map { loadedPlan.tasks[$0].id }) }
        let ids = loadedPlan.tasks.map(\.id)
        var seen: Set<String> = []
        let candidates =
            (Suggest.prefixed(name, in: ids, limit: 3) + Suggest.closest(to: name, in: ids, limit: 3)
            + loadedPlan.tasks.filter { $0.id.contains(name) }.map(\.id).prefix(3)).filter { seen.insert($0).inserted }
        throw .unknownTask(name, Array(candidates.prefix(5)))
    }

    /// A phase by id or number.
    public func phase(named name: String) throws(CurriculumError) -> Int {
        if let i = loadedPlan.phaseIndex[name] { return i }
        if let n = Int(name), let i = loadedPlan.phases.firstIndex(where: { $0.number == n }) { return i }
        throw .unknownPhase(name, Suggest.closest(to: name, in: loadedPlan.phases.map(\.id), limit: 3))
    }
}
