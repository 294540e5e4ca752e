// Writes a plan as `curriculum.yaml` text (DESIGN.md §1): the keys in a fixed order, empty
// and missing values left out, every string quoted exactly as much as YAML needs. The same
// plan always gives the same bytes, so a written plan diffs cleanly under version control.
// It is written by hand rather than through Yams so the layout (key order, flow lists of
// ids, `|` blocks for notes) is the one a person would write.

/// Renders a `Plan` as YAML.
public enum PlanWriter {
    public static func yaml(_ plan: Plan) -> String {
        var out: [String] = []
        func field(_ indent: Int, _ key: String, _ value: String?) {
            guard let value else { return }
            out.append(String(repeating: " ", count: indent) + key + ":" + YAMLScalar.value(value, indent: indent))
        }
        // Dates are written bare (`due: 2026-12-20`), as DESIGN.md shows them; a reader
        // that resolves timestamps still gets the same text back from the scalar.
        func date(_ indent: Int, _ key: String, _ day: Day?) {
            guard let day else { return }
            out.append(String(repeating: " ", count: indent) + key + ": " + day.description)
        }
        func list(_ indent: Int, _ key: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            let items = values.map { YAMLScalar.inline($0, flow: true) }.joined(separator: ", ")
            out.append(String(repeating: " ", count: indent) + key + ": [" + items + "]")
        }

        out.append("schema: \(plan.schema)")
        field(0, "id", plan.id)
        field(0, "title", plan.title)
        field(0, "generated-from", plan.generatedFrom)
        date(0, "start", plan.start)
        field(0, "front-matter", plan.frontMatter)
        out.append(plan.phases.isEmpty ? "phases: []" : "phases:")
        for phase in plan.phases {
            out.append("  - id:" + YAMLScalar.value(phase.id, indent: 4))
            out.append("    number: \(phase.number)")
            field(4, "icon", phase.icon)
            field(4, "title", phase.title)
            date(4, "due", phase.due)
            field(4, "notes", phase.notes)
            if let rule = phase.ruleBefore { out.append("    rule-before: \(rule)") }
            let tasks = phase.tasks.filter { plan.tasks.indices.contains($0) }
            out.append(tasks.isEmpty ? "    tasks: []" : "    tasks:")
            for i in tasks {
                let task = plan.tasks[i]
                out.append("      - id:" + YAMLScalar.value(task.id, indent: 8))
                field(8, "title", task.title)
                list(8, "labs", task.labs)
                list(8, "requires", task.requires)
                date(8, "due", task.due)
                field(8, "decomposed-from", task.decomposedFrom)
                field(8, "generated-from", task.generatedFrom)
                list(8, "renamed-from", task.renamedFrom)
                field(8, "notes", task.notes)
            }
        }
        // The note's own text around its phases, kept for `export`.
        field(0, "note-before", plan.noteBefore)
        field(0, "note-after", plan.noteAfter)
        return out.joined(separator: "\n") + "\n"
    }
}
