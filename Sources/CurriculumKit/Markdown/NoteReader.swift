// The importer's working state: one pass over the note's lines collects phases, items and
// notes as drafts; `build()` then gives every phase and task its id and makes the plan.
// Only `NoteImporter` uses it.

/// The state of one import: what has been read so far, then the plan built from it.
struct NoteReader {
    struct DraftPhase {
        var number: Int
        var icon: String?
        var title: String
        var line: Int
        var notes: [String] = []
        var tasks: [Int] = []
        /// Whether a rule (`---`) came between the previous phase and this one's heading.
        var ruleBefore = false
    }

    struct DraftTask {
        var title: String
        var phase: Int
        var parent: Int?
        var line: Int
        var ticked: Bool
        var fields: ObsidianTaskFields
        var notes: [String] = []
    }

    let file: String
    var title: String?
    var frontMatter: String?
    /// The note's own lines before its first phase and after its last (the title aside).
    var before: [String] = []
    var after: [String] = []
    var phases: [DraftPhase] = []
    var tasks: [DraftTask] = []
    var warnings: [Diagnostic] = []

    init(file: String) { self.file = file }

    func at(_ line: Int) -> SourceLocation { SourceLocation(file: file, line: line, column: 1) }

    mutating func read(_ text: String) throws(NoteImportError) {
        // U+FEFF is invisible, and YAML readers drop it at the start of a value, so a title
        // keeping one would not survive the written plan (found by PlanFuzzTests): it goes.
        let lines = text.markdownLines().map { line in
            line.unicodeScalars.contains("\u{FEFF}") ? String(String.UnicodeScalarView(line.unicodeScalars.filter { $0 != "\u{FEFF}" })) : line
        }
        var start = 0
        // Front matter: `---` on the first line, up to the next `---` or `...`, unless what
        // lies between holds headings or checkbox items (then the first line was a rule).
        if lines.first?.trimmingSpaces() == "---",
            let close = lines.indices.dropFirst().first(where: { ["---", "..."].contains(lines[$0].trimmingSpaces()) }),
            !lines[1..<close].contains(where: { line in
                switch MarkdownLine.classify(line) {
                case .heading, .item: return true
                default: return false
                }
            })
        {
            let inner = lines[1..<close].joined(separator: "\n")
            frontMatter = inner.isEmpty ? nil : inner
            start = close + 1
        }
        guard lines[start...].contains(where: { !$0.trimmingSpaces().isEmpty }) else { throw .empty(file: file) }

        var repairedLines: [Int] = []
        var phase: Int?
        // Open items, innermost last: the column a nested item must reach, and its task.
        var stack: [(content: Int, task: Int)] = []
        var fence: (Character, Int)?
        // A rule seen inside a phase, which the next phase's heading claims.
        var ruleSeen = false

        for index in start..<lines.count {
            let number = index + 1
            let (line, repairs) = MacRomanRepair.repair(lines[index])
            if repairs > 0 { repairedLines.append(number) }
            let kind = MarkdownLine.classify(line)
            // Outside the phases every line is kept, as written, for export.
            func keep() { if phases.isEmpty { before.append(line) } else { after.append(line) } }
            if let open = fence {
                if case let .fence(c, n) = kind, c == open.0, n >= open.1 { fence = nil }
                if phase == nil { keep() }
                continue
            }
            switch kind {
            case .blank, .rule:
                if phase == nil { keep() } else if kind == .rule { ruleSeen = true }
                continue
            case let .fence(c, n):
                fence = (c, n)
                if phase == nil { keep() }
            case let .heading(level, text):
                defer { ruleSeen = false }
                stack = []
                phase = nil
                if level == 1 && title == nil {
                    title = InlineText.title(text)
                } else if level == 1 {
                    keep()
                } else if let heading = PhaseHeading(text) {
                    if phases.contains(where: { $0.number == heading.number }) {
                        warnings.append(.warning("phase \(heading.number) appears twice; both are kept, so check their numbers", at: at(number)))
                    }
                    phases.append(
                        DraftPhase(number: heading.number, icon: heading.icon, title: heading.title, line: number, ruleBefore: ruleSeen))
                    phase = phases.count - 1
                } else {
                    keep()
                }
            case let .item(indent, content, box, text):
                guard let p = phase else {
                    warnings.append(.warning("a checkbox item outside any phase is not imported; move it under a phase heading to keep it", at: at(number)))
                    continue
                }
                let fields = ObsidianTaskFields.parse(text)
                for bad in fields.badDates {
                    warnings.append(.warning("'\(bad)' is not a real date, so it is ignored", at: at(number)))
                }
                let itemTitle = InlineText.title(fields.text)
                while let top = stack.last, indent < top.content { stack.removeLast() }
                guard !itemTitle.isEmpty else {
                    warnings.append(.warning("a checkbox item without a title is not imported", at: at(number)))
                    continue
                }
                tasks.append(
                    DraftTask(
                        title: itemTitle, phase: p, parent: stack.last?.task, line: number,
                        ticked: box == "x" || box == "X", fields: fields))
                phases[p].tasks.append(tasks.count - 1)
                stack.append((content, tasks.count - 1))
            case let .text(indent, text):
                guard let p = phase else { keep(); continue }
                while let top = stack.last, indent < top.content { stack.removeLast() }
                if let top = stack.last {
                    tasks[top.task].notes.append(Self.unescaped(text))
                } else if phases[p].tasks.isEmpty {
                    // The exporter's progress line sits here; it is output, not a note.
                    if !Self.isProgressLine(text) { phases[p].notes.append(Self.unescaped(text)) }
                } else {
                    warnings.append(.warning("text between tasks that is not indented under one is not imported", at: at(number)))
                }
            }
        }
        if let first = repairedLines.first {
            let count = repairedLines.count
            warnings.insert(
                .warning(
                    "repaired text whose UTF-8 had been read as Mac Roman on \(count) line\(count == 1 ? "" : "s") (the first is this one)", at: at(first)),
                at: 0)
        }
        guard !phases.isEmpty else { throw .noPhases(file: file) }
        guard !tasks.isEmpty else { throw .noTasks(file: file, line: phases[0].line) }
        for p in phases where p.tasks.isEmpty {
            warnings.append(.warning("phase \(p.number) has no checkbox items", at: at(p.line)))
        }
    }

    mutating func build() throws(NoteImportError) -> ImportedNote {
        let fileName = file.split(separator: "/").last.map(String.init) ?? file
        let stem = fileName.hasSuffix(".md") ? String(fileName.dropLast(3)) : fileName
        let planTitle: String
        if let title, !title.isEmpty {
            planTitle = title
        } else {
            planTitle = stem
            warnings.append(.warning("the note has no `# Title` heading, so the plan is named after the file", at: nil))
        }
        let planId = IdentifierMaker.fullSlug(planTitle) ?? IdentifierMaker.fullSlug(stem) ?? "plan"

        // Ids: the ones the note spells out (🆔) first, then phases, then tasks, in order.
        var maker = IdentifierMaker()
        var explicit: [String?] = Array(repeating: nil, count: tasks.count)
        for (i, t) in tasks.enumerated() {
            guard let written = t.fields.id else { continue }
            guard let id = IdentifierMaker.normalized(written) else {
                warnings.append(.warning("'\(written)' cannot be made a kebab-case id, so the task's id comes from its title", at: at(t.line)))
                continue
            }
            guard maker.reserve(id) else {
                warnings.append(.warning("the id '\(id)' is used twice, so this task's id comes from its title", at: at(t.line)))
                continue
            }
            if id != written {
                warnings.append(.warning("the id '\(written)' is written '\(id)' in the plan (ids are kebab-case)", at: at(t.line)))
            }
            explicit[i] = id
        }
        let phaseIds = phases.map { maker.make(from: $0.title, fallback: "phase-\($0.number)") }
        var taskIds: [String] = []
        for (i, t) in tasks.enumerated() {
            taskIds.append(explicit[i] ?? maker.make(from: t.title, fallback: "task"))
        }
        let known = Set(taskIds).union(phaseIds)

        var planTasks: [Task] = []
        var positions = Array(repeating: 0, count: phases.count)
        for (i, t) in tasks.enumerated() {
            positions[t.phase] += 1
            var requires: [String] = []
            for written in t.fields.requires {
                let id = IdentifierMaker.normalized(written) ?? written
                if !known.contains(id) {
                    warnings.append(.warning("'\(written)' after ⛔ names no task or phase, so it is dropped", at: at(t.line)))
                } else if id == taskIds[i] {
                    warnings.append(.warning("the task requires itself, which is dropped", at: at(t.line)))
                } else if !requires.contains(id) {
                    requires.append(id)
                }
            }
            planTasks.append(
                Task(
                    id: taskIds[i], title: t.title, phase: t.phase, position: positions[t.phase],
                    requires: requires, due: t.fields.due, decomposedFrom: t.parent.map { taskIds[$0] },
                    notes: t.notes.isEmpty ? nil : t.notes.joined(separator: "\n")))
        }
        let planPhases = phases.enumerated().map { i, p in
            Phase(
                id: phaseIds[i], number: p.number, icon: p.icon, title: p.title,
                notes: p.notes.isEmpty ? nil : p.notes.joined(separator: "\n"),
                // Only what differs from the usual (a rule above every phase but the first).
                ruleBefore: p.ruleBefore == (i > 0) ? nil : p.ruleBefore, tasks: p.tasks)
        }
        func block(_ lines: [String]) -> String? {
            var l = lines[...]
            while l.first?.trimmingSpaces().isEmpty == true { l = l.dropFirst() }
            while l.last?.trimmingSpaces().isEmpty == true { l = l.dropLast() }
            return l.isEmpty ? nil : l.joined(separator: "\n")
        }
        let plan = Plan(
            schema: 1, id: planId, title: planTitle, generatedFrom: fileName,
            frontMatter: frontMatter, noteBefore: block(before), noteAfter: block(after),
            phases: planPhases, tasks: planTasks)
        let ticked = tasks.indices.filter { tasks[$0].ticked }.map { taskIds[$0] }
        var doneOn: [String: Day] = [:]
        for i in tasks.indices where tasks[i].ticked { if let d = tasks[i].fields.done { doneOn[taskIds[i]] = d } }
        return ImportedNote(plan: plan, ticked: ticked, warnings: warnings, doneOn: doneOn)
    }

    /// The line the exporter writes under each phase heading, e.g. `Progress: 3/6 (50%)`.
    static func isProgressLine(_ text: String) -> Bool {
        guard text.hasPrefix("Progress:") else { return false }
        let rest = text.dropFirst("Progress:".count).drop { $0 == " " }
        let done = rest.prefix { $0.isASCII && $0.isNumber }
        guard !done.isEmpty else { return false }
        let afterDone = rest.dropFirst(done.count)
        guard afterDone.first == "/" else { return false }
        return afterDone.dropFirst().first.map { $0.isASCII && $0.isNumber } ?? false
    }

    /// A note line as written by the exporter, which escapes a leading list or heading mark
    /// (`\- [ ] not a task`) so it is not read back as structure.
    static func unescaped(_ text: String) -> String {
        if text.hasPrefix("Progress\\:") { return "Progress" + text.dropFirst("Progress".count + 1) }
        let chars = Array(text)
        if chars.count >= 2, chars[0] == "\\", chars[1].isASCII, chars[1].isPunctuation || chars[1].isSymbol {
            return String(chars.dropFirst())
        }
        let digits = chars.prefix { $0.isASCII && $0.isNumber }.count
        if digits > 0, digits + 1 < chars.count, chars[digits] == "\\", chars[digits + 1] == "." || chars[digits + 1] == ")" {
            var copy = chars
            copy.remove(at: digits)
            return String(copy)
        }
        return text
    }
}
