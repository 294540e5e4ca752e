// Writes a plan back out in the shape of the learner's note: front matter, `# Title`, one
// `#### <icon> Phase N: Title` heading per phase with a progress line under it, and a
// `- [x]`/`- [ ]` item per task with its title in bold, parts indented under their
// parent. `NoteImporter` reads the result back into the same phases, tasks and ticks
// (it skips the progress lines). With `obsidianTasks`, each item also carries the
// Obsidian Tasks plugin's fields: 📅 due date, 🆔 id and ⛔ the ids it depends on.

/// Renders a plan and its progress as a markdown checklist note.
public enum MarkdownExporter {
    /// - Parameters:
    ///   - isDone: whether task `i` (an index into `plan.tasks`) is done; for a parent the
    ///     caller decides (normally: all of its parts are done).
    ///   - obsidianTasks: append 📅/🆔/⛔ fields the Obsidian Tasks plugin understands.
    ///   - today: when given, each progress line also counts the open tasks overdue on that day.
    ///   - doneOn: with `obsidianTasks`, the day a done task was done, written as `✅ YYYY-MM-DD`.
    public static func export(
        plan: Plan, isDone: (Int) -> Bool, obsidianTasks: Bool, today: Day? = nil,
        doneOn: (Int) -> Day? = { _ in nil }
    ) -> String {
        var out: [String] = []
        // A YAML block scalar keeps its final newline; the closing rule follows the last line.
        if let front = plan.frontMatter?.trimmingCharacters(in: .newlines), !front.isEmpty {
            out += ["---", front, "---"]
        }
        out += ["# \(plan.title)", ""]
        // The note's own text around the phases, where it was.
        if let before = plan.noteBefore?.trimmingCharacters(in: .newlines), !before.isEmpty {
            out += before.markdownLines() + [""]
        }
        for (p, phase) in plan.phases.enumerated() {
            if phase.ruleBefore ?? (p > 0) { out += ["---", ""] }
            let icon = phase.icon.map { "\($0) " } ?? ""
            out += ["#### \(icon)Phase \(phase.number): \(phase.title)", ""]
            out += [progressLine(plan: plan, phase: phase, isDone: isDone, today: today), ""]
            if let notes = phase.notes {
                out += noteLines(notes, indent: "")
                out.append("")
            }
            // Parts are written under their parent; a part whose parent is in another phase
            // (or that has no parent) is written at the top of its own phase.
            let inPhase = Set(phase.tasks)
            for i in phase.tasks {
                if let parent = plan.parent[i], inPhase.contains(parent) { continue }
                write(
                    task: i, depth: 0, plan: plan, inPhase: inPhase, isDone: isDone,
                    obsidianTasks: obsidianTasks, doneOn: doneOn, into: &out, visited: [])
            }
        }
        if let after = plan.noteAfter?.trimmingCharacters(in: .newlines), !after.isEmpty {
            out += after.markdownLines() + [""]
        }
        return out.joined(separator: "\n") + "\n"
    }

    private static func write(
        task i: Int, depth: Int, plan: Plan, inPhase: Set<Int>, isDone: (Int) -> Bool,
        obsidianTasks: Bool, doneOn: (Int) -> Day?, into out: inout [String], visited: Set<Int>
    ) {
        let task = plan.tasks[i]
        let indent = String(repeating: " ", count: 4 * depth)
        var line = "\(indent)- [\(isDone(i) ? "x" : " ")] **\(escapedTitle(task.title))**"
        if obsidianTasks {
            line += fields(of: i, plan: plan)
            if isDone(i), let d = doneOn(i) { line += " ✅ \(d)" }
        }
        out += [line, ""]
        if let notes = task.notes {
            out += noteLines(notes, indent: indent + "    ")
            out.append("")
        }
        // `visited` guards against a decomposed-from cycle in a plan that was not validated.
        for part in plan.parts[i] where inPhase.contains(part) && !visited.contains(part) {
            write(
                task: part, depth: depth + 1, plan: plan, inPhase: inPhase, isDone: isDone,
                obsidianTasks: obsidianTasks, doneOn: doneOn, into: &out, visited: visited.union([i]))
        }
    }

    /// ` 📅 2026-12-20 🆔 jwt-auth ⛔ a,b`: the effective due date, the id, and the task's own
    /// requirements with phase ids expanded (the plugin knows only task ids).
    private static func fields(of i: Int, plan: Plan) -> String {
        var s = ""
        if let due = plan.due(of: i) { s += " 📅 \(due)" }
        s += " 🆔 \(plan.tasks[i].id)"
        var ids: [String] = []
        for name in plan.tasks[i].requires {
            if plan.taskIndex[name] != nil {
                ids.append(name)
            } else if let p = plan.phaseIndex[name] {
                ids += plan.phases[p].tasks.map { plan.tasks[$0].id }
            }
        }
        var seen: Set<String> = [plan.tasks[i].id]
        ids = ids.filter { seen.insert($0).inserted }
        if !ids.isEmpty { s += " ⛔ " + ids.joined(separator: ",") }
        return s
    }

    /// `Progress: 3/6 (50%)`, with `, 2 overdue` when `today` is given and some open task is late.
    static func progressLine(plan: Plan, phase: Phase, isDone: (Int) -> Bool, today: Day?) -> String {
        let total = phase.tasks.count
        let done = phase.tasks.filter(isDone).count
        let percent = total == 0 ? 0 : done * 100 / total
        var line = "Progress: \(done)/\(total) (\(percent)%)"
        if let today {
            let overdue = phase.tasks.filter { !isDone($0) && (plan.due(of: $0).map { $0 < today } ?? false) }.count
            if overdue > 0 { line += ", \(overdue) overdue" }
        }
        return line
    }

    /// The title as bold text: on one line, and outside code spans a `\` before a backslash
    /// that precedes punctuation (or ends the title) and before each `*` of a `**`, which
    /// would otherwise end the bold.
    static func escapedTitle(_ title: String) -> String {
        var out = ""
        for (piece, isCode) in InlineText.segments(title.markdownLines().joined(separator: " ")) {
            if isCode { out += piece; continue }
            let chars = Array(piece)
            for (i, c) in chars.enumerated() {
                let next = i + 1 < chars.count ? chars[i + 1] : nil
                let previous = i > 0 ? chars[i - 1] : nil
                if c == "\\", next.map({ $0.isASCII && ($0.isPunctuation || $0.isSymbol) }) ?? true {
                    out += "\\\\"
                } else if c == "*", next == "*" || previous == "*" {
                    out += "\\*"
                } else {
                    out.append(c)
                }
            }
        }
        return out
    }

    /// Notes as lines; a line that would read as a heading, rule or list item gets a
    /// backslash, as markdown escapes it (the importer removes it again).
    static func noteLines(_ notes: String, indent: String) -> [String] {
        notes.markdownLines().map { $0.trimmingSpaces() }.filter { !$0.isEmpty }.map { line in
            let chars = Array(line)
            if let first = chars.first,
                "#-*+_>\\=".contains(first) || first == "`" && line.hasPrefix("```")
                    || first == "~" && line.hasPrefix("~~~")
            {
                return indent + "\\" + line
            }
            let digits = chars.prefix { $0.isASCII && $0.isNumber }.count
            if digits > 0, digits < chars.count, chars[digits] == "." || chars[digits] == ")" {
                return indent + String(chars[..<digits]) + "\\" + String(chars[digits...])
            }
            // Would read as the progress line; `\:` renders as `:`.
            if line.hasPrefix("Progress:") { return indent + "Progress\\:" + line.dropFirst("Progress:".count) }
            return indent + line
        }
    }
}
