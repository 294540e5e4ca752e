import Foundation

/// The version of every `--json` output's shape (docs/JSON.md), given as `json_schema` in
/// each object output. Raised when a field is renamed or removed or changes meaning;
/// adding a field does not raise it.
public enum JSONSchema {
    public static let version = 1
}

/// The plan with its state as data: the `--json` output of the commands and
/// `export --format json`. Field names are stable; new fields may be added, none renamed.
public struct TaskJSON: Codable, Sendable, Equatable {
    public var id: String
    /// `PHASE.N`.
    public var number: String
    public var title: String
    public var phase: String
    /// done, ready or blocked.
    public var status: String
    /// The effective due date (own, parent's or phase's), YYYY-MM-DD.
    public var due: String?
    public var overdue: Bool
    public var labs: [String]
    /// Own requirements as written (task or phase ids).
    public var requires: [String]
    /// Open tasks that keep this one blocked (requirements, then parts).
    public var blockedBy: [String]
    public var partOf: String?
    public var parts: [String]
    public var generatedFrom: String?
    public var doneOn: String?
    public var verified: Bool
    /// What the verifying labs judged: `reference`, or the kind of the learner's own work
    /// (`url`, `against`, `source`, `answers`); nil when not verified.
    public var verifiedAgainst: String?
    /// The URL, command or path of the learner's work that was judged.
    public var verifiedSubject: String?
    public var regressed: Bool
    public var note: String?

    public init(_ i: Int, state: PlanState, progress: Tracker.Progress, today: Day) {
        let plan = state.plan
        let t = plan.tasks[i]
        id = t.id
        number = "\(plan.phases[t.phase].number).\(t.position)"
        title = t.title
        phase = plan.phases[t.phase].id
        status = state.status[i].rawValue
        let d = plan.due(of: i)
        due = d?.description
        overdue = d.map { $0 < today } == true && !state.done[i]
        labs = t.labs
        requires = t.requires
        if state.done[i] {
            blockedBy = []
        } else {
            let b = state.blockers(of: i)
            blockedBy = (b.requirements + b.parts).map { plan.tasks[$0].id }
        }
        partOf = plan.parent[i].map { plan.tasks[$0].id }
        parts = plan.parts[i].map { plan.tasks[$0].id }
        generatedFrom = t.generatedFrom
        let p = progress.byTask[i]
        doneOn = state.done[i] ? (p?.doneOn ?? plan.parts[i].compactMap { progress.byTask[$0]?.doneOn }.max()) : nil
        verified = state.done[i] && (p?.verified ?? false)
        verifiedAgainst = verified ? (p?.subject?.kind ?? .reference).rawValue : nil
        verifiedSubject = verified ? p?.subject?.value : nil
        regressed = state.done[i] && (p?.regressed ?? false)
        note = p?.note
    }

    enum CodingKeys: String, CodingKey {
        case id, number, title, phase, status, due, overdue, labs, requires
        case blockedBy = "blocked_by", partOf = "part_of", parts, generatedFrom = "generated_from"
        case doneOn = "done_on", verified, verifiedAgainst = "verified_against", verifiedSubject = "verified_subject", regressed, note
    }
}

public struct PhaseJSON: Codable, Sendable, Equatable {
    public var id: String
    public var number: Int
    public var icon: String?
    public var title: String
    public var due: String?
    public var done: Int
    public var total: Int
    public var tasks: [String]
}

public struct PlanJSON: Codable, Sendable {
    /// The JSON shape's version (`JSONSchema.version`).
    public var jsonSchema = JSONSchema.version
    public var schema: Int
    public var id: String
    public var title: String
    public var generatedFrom: String?
    /// The plan's own `start`.
    public var start: String?
    /// The learner's own start, which every due date follows (nil without `start`).
    public var learnerStart: String?
    public var today: String
    public var done: Int
    public var total: Int
    public var phases: [PhaseJSON]
    public var tasks: [TaskJSON]
    /// Progress recorded under ids no longer in the plan.
    public var orphaned: [String]

    enum CodingKeys: String, CodingKey {
        case jsonSchema = "json_schema", schema, id, title, generatedFrom = "generated_from", start, learnerStart = "learner_start", today, done, total, phases,
            tasks, orphaned
    }

    public init(state: PlanState, progress: Tracker.Progress, today: Day) {
        self.init(state: state, progress: progress, today: today, withTasks: true)
    }

    /// Without `tasks`, for writing them one at a time (`writeStreaming`).
    init(state: PlanState, progress: Tracker.Progress, today: Day, withTasks: Bool) {
        let plan = state.plan
        schema = plan.schema; id = plan.id; title = plan.title
        generatedFrom = plan.generatedFrom; start = plan.start?.description; learnerStart = plan.learnerStart?.description; self.today = today.description
        done = state.doneCount; total = plan.tasks.count
        phases = plan.phases.indices.map { p in
            let ph = plan.phases[p]
            let pr = state.progress(ofPhase: p)
            return PhaseJSON(
                id: ph.id, number: ph.number, icon: ph.icon, title: ph.title, due: plan.due(ofPhase: p)?.description,
                done: pr.done, total: pr.total, tasks: ph.tasks.map { plan.tasks[$0].id })
        }
        tasks = withTasks ? plan.tasks.indices.map { TaskJSON($0, state: state, progress: progress, today: today) } : []
        orphaned = progress.orphans.map(\.task).sorted()
    }
}
