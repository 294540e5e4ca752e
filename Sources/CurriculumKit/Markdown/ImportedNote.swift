/// What importing a note gives: the plan, the tasks whose boxes were ticked, and warnings
/// about anything the importer skipped or repaired.
public struct ImportedNote: Sendable {
    public var plan: Plan
    /// Ids of the tasks whose box is `[x]` or `[X]`, in plan order.
    public var ticked: [String]
    public var warnings: [Diagnostic]

    public init(plan: Plan, ticked: [String], warnings: [Diagnostic]) {
        self.plan = plan; self.ticked = ticked; self.warnings = warnings
    }
}
