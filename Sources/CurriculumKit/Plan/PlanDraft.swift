// The plan as written, before validation: every value with the place it was written, and
// nothing resolved yet. The YAML reader fills it in; the validator checks it and turns it
// into a `Plan`. Keeping the two apart lets the validator know nothing of YAML.

/// A line and column in the plan file. Drafts hold these rather than `SourceLocation`s,
/// which carry the file name: one string fewer to retain per value in a 100,000-task plan.
struct Place: Hashable {
    var line: Int
    var column: Int
}

/// A value and where it was written.
struct Located<Value> {
    var value: Value
    var at: Place
}

struct TaskDraft {
    /// Where the task's entry starts (its `-`, or its mapping).
    var at: Place
    /// Index of its phase in `PlanDraft.phases`.
    var phase: Int
    var id: Located<String>?
    var title: Located<String>?
    var labs: [Located<String>] = []
    var labsAt: Place?
    var requires: [Located<String>] = []
    var requiresAt: Place?
    var due: Located<Day>?
    var decomposedFrom: Located<String>?
    var generatedFrom: Located<String>?
    var renamedFrom: [Located<String>] = []
    var notes: String?
    /// Keys that were written but whose value had the wrong type (already reported), so
    /// that they are not reported as missing too.
    var malformed: Set<String> = []

    init(at: Place, phase: Int) { self.at = at; self.phase = phase }
}

struct PhaseDraft {
    var at: Place
    var id: Located<String>?
    var number: Located<Int>?
    var icon: String?
    var title: Located<String>?
    var due: Located<Day>?
    var notes: String?
    var ruleBefore: Bool?
    var malformed: Set<String> = []

    init(at: Place) { self.at = at }
}

struct PlanDraft {
    var file: String
    var schema: Located<Int>?
    var id: Located<String>?
    var title: Located<String>?
    var generatedFrom: String?
    var start: Located<Day>?
    var frontMatter: String?
    var noteBefore: String?
    var noteAfter: String?
    var phases: [PhaseDraft] = []
    /// Every task of every phase, in plan order (flat, as `Plan.tasks` is).
    var tasks: [TaskDraft] = []
    var phasesAt: Place?
    var malformed: Set<String> = []

    init(file: String) { self.file = file }
}
