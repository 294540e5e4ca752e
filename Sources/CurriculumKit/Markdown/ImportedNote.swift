/// What importing a note gives: the plan, the tasks whose boxes were ticked, and warnings
/// about anything the importer skipped or repaired.
public struct ImportedNote: Sendable {
    public var plan: Plan
    /// Ids of the tasks whose box is `[x]` or `[X]`, in plan order.
    public var ticked: [String]
    public var warnings: [Diagnostic]
    /// Ticked tasks' done dates from Obsidian Tasks' `✅ YYYY-MM-DD`, by task id.
    public var doneOn: [String: Day]

    public init(plan: Plan, ticked: [String], warnings: [Diagnostic], doneOn: [String: Day] = [:]) {
        self.plan = plan; self.ticked = ticked; self.warnings = warnings; self.doneOn = doneOn
    }
}
