// The plan: phases of tasks joined by four morphisms (requires, is due, decomposed from,
// generated from). This file holds plain values only; reading YAML lives in PlanLoader,
// readiness and ordering in Graph/.

/// A calendar date in the learner's own calendar, with no time of day and no time zone:
/// "due 2026-12-20" means that whole day wherever the learner is.
public struct Day: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Days since 1970-01-01 (proleptic Gregorian).
    public let ordinal: Int

    public init(ordinal: Int) { self.ordinal = ordinal }

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...Day.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        ordinal = era * 146097 + doe - 719468
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(iso text: some StringProtocol) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard (48...57).contains(u[i]) else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let m = num(5..<7), let d = num(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var components: (year: Int, month: Int, day: Int) {
        let z = ordinal + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public var description: String {
        let c = components
        if (0...9999).contains(c.year) {
            // Ten digits and dashes written in place: dates are printed for every task.
            return String(unsafeUninitializedCapacity: 10) { buf in
                var y = c.year
                for k in stride(from: 3, through: 0, by: -1) { buf[k] = UInt8(48 + y % 10); y /= 10 }
                buf[4] = 45
                buf[5] = UInt8(48 + c.month / 10); buf[6] = UInt8(48 + c.month % 10)
                buf[7] = 45
                buf[8] = UInt8(48 + c.day / 10); buf[9] = UInt8(48 + c.day % 10)
                return 10
            }
        }
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    public func adding(days: Int) -> Day { Day(ordinal: ordinal + days) }
    public static func < (a: Day, b: Day) -> Bool { a.ordinal < b.ordinal }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = Day(iso: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
        }
        self = day
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Where something stands in a file, for messages a person can act on.
public struct SourceLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

public struct Phase: Hashable, Sendable {
    public var id: String
    public var number: Int
    public var icon: String?
    public var title: String
    public var due: Day?
    public var notes: String?
    /// Whether the markdown note draws a rule (`---`) above the phase's heading; nil for the
    /// usual: a rule above every phase but the first. The seed has none between phases 1 and 2.
    public var ruleBefore: Bool?
    /// Indices into `Plan.tasks`, in plan order.
    public var tasks: [Int]

    public init(
        id: String, number: Int, icon: String? = nil, title: String, due: Day? = nil,
        notes: String? = nil, ruleBefore: Bool? = nil, tasks: [Int] = []
    ) {
        self.id = id; self.number = number; self.icon = icon; self.title = title
        self.due = due; self.notes = notes; self.ruleBefore = ruleBefore; self.tasks = tasks
    }
}

public struct Task: Hashable, Sendable {
    public var id: String
    public var title: String
    /// Index into `Plan.phases`.
    public var phase: Int
    /// 1-based position within its phase: the N of `PHASE.N`.
    public var position: Int
    public var labs: [String]
    /// Ids as written: task ids, or phase ids meaning every task of that phase.
    public var requires: [String]
    /// The task's own due date, if it has one (see `Plan.due(of:)` for the inherited one).
    public var due: Day?
    public var decomposedFrom: String?
    public var generatedFrom: String?
    public var renamedFrom: [String]
    public var notes: String?

    public init(
        id: String, title: String, phase: Int, position: Int, labs: [String] = [],
        requires: [String] = [], due: Day? = nil, decomposedFrom: String? = nil,
        generatedFrom: String? = nil, renamedFrom: [String] = [], notes: String? = nil
    ) {
        self.id = id; self.title = title; self.phase = phase; self.position = position
        self.labs = labs; self.requires = requires; self.due = due
        self.decomposedFrom = decomposedFrom; self.generatedFrom = generatedFrom
        self.renamedFrom = renamedFrom; self.notes = notes
    }
}

/// A whole plan with its relations resolved to indices. Build one with `Plan(...)` and
/// the relations are resolved once; unknown references are dropped here (the loader has
/// already reported them as errors).
public struct Plan: Sendable {
    public var schema: Int
    public var id: String
    public var title: String
    public var generatedFrom: String?
    public var start: Day?
    /// Front matter of the note the plan came from, kept verbatim for export.
    public var frontMatter: String?
    /// The note's own text before its first phase (e.g. `## Overview`), kept for export.
    public var noteBefore: String?
    /// The note's own text after its last phase (e.g. `## Resources`, `## Tags`), kept for export.
    public var noteAfter: String?
    public var phases: [Phase]
    public var tasks: [Task]

    /// Task id → index.
    public let taskIndex: [String: Int]
    /// Phase id → index.
    public let phaseIndex: [String: Int]
    /// Resolved `requires` of each task (phase ids expanded), own edges only, sorted, unique.
    public let requires: [[Int]]
    /// Parent of each task (`decomposed-from`), if any.
    public let parent: [Int?]
    /// Parts of each task, in plan order.
    public let parts: [[Int]]
    /// Days every due date moves by: the learner's own start minus the plan's `start`
    /// (0 for a plan without `start`, whose dates stay absolute). Set by the tracker.
    public var dateShift: Int = 0

    public init(
        schema: Int = 1, id: String, title: String, generatedFrom: String? = nil,
        start: Day? = nil, frontMatter: String? = nil, noteBefore: String? = nil, noteAfter: String? = nil,
        phases: [Phase], tasks: [Task]
    ) {
        var ti = [String: Int](minimumCapacity: tasks.count)
        for (i, t) in tasks.enumerated() where ti[t.id] == nil { ti[t.id] = i }
        var pi = [String: Int](minimumCapacity: phases.count)
        for (i, p) in phases.enumerated() where pi[p.id] == nil { pi[p.id] = i }
        var req = [[Int]](repeating: [], count: tasks.count)
        var par = [Int?](repeating: nil, count: tasks.count)
        for (i, t) in tasks.enumerated() {
            var r: [Int] = []
            for name in t.requires {
                if let j = ti[name] { r.append(j) } else if let p = pi[name] { r.append(contentsOf: phases[p].tasks) }
            }
            r.removeAll { $0 == i }
            if r.count > 1 { r = Array(Set(r)).sorted() }
            req[i] = r
            if let p = t.decomposedFrom, let j = ti[p], j != i { par[i] = j }
        }
        self.init(
            schema: schema, id: id, title: title, generatedFrom: generatedFrom, start: start, frontMatter: frontMatter,
            noteBefore: noteBefore, noteAfter: noteAfter, phases: phases, tasks: tasks, resolvedRequires: req, resolvedParent: par)
    }

    /// A plan whose relations were resolved before (by `PlanCache`): only the indexes are
    /// built. `requires` and `parent` must be what the public initializer would compute.
    init(
        schema: Int, id: String, title: String, generatedFrom: String?, start: Day?, frontMatter: String?,
        noteBefore: String? = nil, noteAfter: String? = nil,
        phases: [Phase], tasks: [Task], resolvedRequires: [[Int]], resolvedParent: [Int?]
    ) {
        self.schema = schema; self.id = id; self.title = title
        self.generatedFrom = generatedFrom; self.start = start; self.frontMatter = frontMatter
        self.noteBefore = noteBefore; self.noteAfter = noteAfter
        self.phases = phases; self.tasks = tasks
        var ti = [String: Int](minimumCapacity: tasks.count)
        for (i, t) in tasks.enumerated() where ti[t.id] == nil { ti[t.id] = i }
        var pi = [String: Int](minimumCapacity: phases.count)
        for (i, p) in phases.enumerated() where pi[p.id] == nil { pi[p.id] = i }
        var kids = [[Int]](repeating: [], count: tasks.count)
        for (i, p) in resolvedParent.enumerated() { if let p { kids[p].append(i) } }
        taskIndex = ti; phaseIndex = pi; requires = resolvedRequires; parent = resolvedParent; parts = kids
    }

    /// The date a task is due: its own, else its parent's, else its phase's, moved by
    /// `dateShift` (the learner's own start).
    public func due(of i: Int) -> Day? {
        var k: Int? = i
        var hops = 0
        while let j = k, hops <= tasks.count {
            if let d = tasks[j].due { return dateShift == 0 ? d : d.adding(days: dateShift) }
            k = parent[j]; hops += 1
        }
        return due(ofPhase: tasks[i].phase)
    }

    /// The date a phase is due, moved by `dateShift`.
    public func due(ofPhase p: Int) -> Day? {
        guard let d = phases[p].due else { return nil }
        return dateShift == 0 ? d : d.adding(days: dateShift)
    }

    /// The learner's own start, which the due dates follow (the plan's `start` moved by
    /// `dateShift`); nil for a plan without `start`.
    public var learnerStart: Day? { start.map { $0.adding(days: dateShift) } }
}
