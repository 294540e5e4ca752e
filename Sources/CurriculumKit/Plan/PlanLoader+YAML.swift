// Turns Yams' node tree into a `PlanDraft`: the one place that knows the plan is YAML.
// Every key is checked against the keys its level allows, and every value against the
// type it must have; each problem becomes a diagnostic at the node's line and column, and
// reading carries on so that one run reports everything.

import Yams

struct PlanYAMLReader {
    static let planKeys = ["schema", "id", "title", "generated-from", "start", "front-matter", "note-before", "note-after", "phases"]
    static let phaseKeys = ["id", "number", "icon", "title", "due", "notes", "rule-before", "tasks"]
    static let taskKeys = [
        "id", "title", "labs", "requires", "due", "decomposed-from", "generated-from",
        "renamed-from", "notes",
    ]

    let file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    func location(_ node: Node) -> Place {
        let m = node.mark
        return Place(line: m?.line ?? 1, column: m?.column ?? 1)
    }

    mutating func error(_ message: String, _ at: Place) {
        diagnostics.append(.error(message, at: SourceLocation(file: file, line: at.line, column: at.column)))
    }

    // MARK: - Levels

    /// The draft, or nil when the document is not a mapping at all (nothing else to check).
    mutating func read(_ root: Node) -> PlanDraft? {
        var plan = PlanDraft(file: file)
        guard case let .mapping(map) = root, refuseAnchor(root) else {
            error("a plan is a YAML mapping with the keys schema, id, title and phases", location(root))
            return nil
        }
        var unknown: [Node] = []
        // Index-based loops: iterating a `Node.Mapping` copies its pairs into a new array.
        for k in map.indices {
            let (keyNode, value) = map[k]
            guard let key = key(keyNode, allowed: PlanYAMLReader.planKeys, &unknown) else { continue }
            switch key {
            case "schema": plan.schema = integer(value, key); if plan.schema == nil, !isNull(value) { plan.malformed.insert(key) }
            case "id": plan.id = text(value, key); if plan.id == nil, !isNull(value) { plan.malformed.insert(key) }
            case "title": plan.title = text(value, key); if plan.title == nil, !isNull(value) { plan.malformed.insert(key) }
            case "generated-from": plan.generatedFrom = text(value, key)?.value
            case "start": plan.start = date(value, key)
            case "front-matter": plan.frontMatter = text(value, key)?.value
            case "note-before": plan.noteBefore = text(value, key)?.value
            case "note-after": plan.noteAfter = text(value, key)?.value
            case "phases":
                plan.phasesAt = location(keyNode)
                if value.sequence == nil, !isNull(value) { plan.malformed.insert(key) }
                for node in list(value, key, of: "phases") {
                    if let phase = readPhase(node, index: plan.phases.count, into: &plan.tasks) { plan.phases.append(phase) }
                }
            default: break
            }
        }
        reportUnknown(unknown, PlanYAMLReader.planKeys, in: "the plan", &plan.malformed)
        return plan
    }

    mutating func readPhase(_ node: Node, index: Int, into tasks: inout [TaskDraft]) -> PhaseDraft? {
        guard case let .mapping(map) = node, refuseAnchor(node) else {
            error("each entry of `phases` is a mapping with id, number, title and tasks", location(node))
            return nil
        }
        var phase = PhaseDraft(at: location(node))
        var unknown: [Node] = []
        for k in map.indices {
            let (keyNode, value) = map[k]
            guard let key = key(keyNode, allowed: PlanYAMLReader.phaseKeys, &unknown) else { continue }
            switch key {
            case "id": phase.id = text(value, key); if phase.id == nil, !isNull(value) { phase.malformed.insert(key) }
            case "number": phase.number = integer(value, key); if phase.number == nil, !isNull(value) { phase.malformed.insert(key) }
            case "icon": phase.icon = text(value, key)?.value
            case "title": phase.title = text(value, key); if phase.title == nil, !isNull(value) { phase.malformed.insert(key) }
            case "due": phase.due = date(value, key)
            case "notes": phase.notes = text(value, key)?.value
            case "rule-before": phase.ruleBefore = boolean(value, key)
            case "tasks":
                for t in list(value, key, of: "tasks") {
                    if let task = readTask(t, phase: index) { tasks.append(task) }
                }
            default: break
            }
        }
        let name = phase.id.map { "phase `\($0.value.clipped)`" } ?? "a phase"
        reportUnknown(unknown, PlanYAMLReader.phaseKeys, in: name, &phase.malformed)
        return phase
    }

    mutating func readTask(_ node: Node, phase: Int) -> TaskDraft? {
        guard case let .mapping(map) = node, refuseAnchor(node) else {
            error("each entry of `tasks` is a mapping with at least an id and a title", location(node))
            return nil
        }
        var task = TaskDraft(at: location(node), phase: phase)
        var unknown: [Node] = []
        for k in map.indices {
            let (keyNode, value) = map[k]
            guard let key = key(keyNode, allowed: PlanYAMLReader.taskKeys, &unknown) else { continue }
            switch key {
            case "id": task.id = text(value, key); if task.id == nil, !isNull(value) { task.malformed.insert(key) }
            case "title": task.title = text(value, key); if task.title == nil, !isNull(value) { task.malformed.insert(key) }
            case "labs": task.labs = ids(value, key); task.labsAt = location(value)
            case "requires": task.requires = ids(value, key); task.requiresAt = location(value)
            case "due": task.due = date(value, key)
            case "decomposed-from": task.decomposedFrom = text(value, key)
            case "generated-from": task.generatedFrom = text(value, key)
            case "renamed-from": task.renamedFrom = ids(value, key)
            case "notes": task.notes = text(value, key)?.value
            default: break
            }
        }
        let name = task.id.map { "task `\($0.value.clipped)`" } ?? "a task"
        reportUnknown(unknown, PlanYAMLReader.taskKeys, in: name, &task.malformed)
        return task
    }

    // MARK: - Keys and values

    /// The key's text if it is one `allowed` here; otherwise nil, and a scalar key is kept
    /// in `unknown` to be reported once the mapping's id is known (to name it).
    private mutating func key(_ node: Node, allowed: [String], _ unknown: inout [Node]) -> String? {
        guard case let .scalar(s) = node, refuseAnchor(node) else {
            error("a key must be a plain word, not \(kind(node))", location(node))
            return nil
        }
        if allowed.contains(s.string) { return s.string }
        unknown.append(node)
        return nil
    }

    /// Reports unknown keys, each with a suggestion. A misspelt key counts as the key it
    /// was meant to be for `malformed`: "unknown key `titel`, did you mean `title`" is not
    /// followed by "no title".
    private mutating func reportUnknown(
        _ unknown: [Node], _ allowed: [String], in what: String,
        _ malformed: inout Set<String>
    ) {
        guard !unknown.isEmpty else { return }
        var suggester = Suggester(allowed)
        for node in unknown {
            let word = node.scalar?.string ?? ""
            let meant = suggester.suggest(word)
            if let meant { malformed.insert(meant) }
            error("unknown key `\(word.clipped)` in \(what)" + .didYouMean(meant), location(node))
        }
    }

    /// Refuses anchors and aliases; the pre-scan normally catches them first. Never walks
    /// into an anchored node, so an alias bomb that got this far is still not expanded.
    private mutating func refuseAnchor(_ node: Node) -> Bool {
        switch node {
        case .scalar:
            // A scalar cannot hide an expansion, and reading its (weak) anchor costs time.
            return true
        case .alias:
            error("a plan does not use YAML aliases", location(node)); return false
        case .mapping, .sequence:
            if node.anchor != nil {
                error("a plan does not use YAML anchors", location(node)); return false
            }
            return true
        }
    }

    private static func isNull(_ s: Node.Scalar) -> Bool {
        s.style == .plain && (s.string.isEmpty || s.string == "~" || s.string == "null" || s.string == "Null" || s.string == "NULL")
    }

    /// Whether a value was left empty (`key:` with nothing after it, or `~`/`null`).
    private func isNull(_ node: Node) -> Bool {
        if case let .scalar(s) = node { return PlanYAMLReader.isNull(s) }
        return false
    }

    private func kind(_ node: Node) -> String {
        switch node {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar: return "a text"
        case .alias: return "an alias"
        }
    }

    /// A single scalar; nil (with an error) for a list or mapping, nil (silently) for an
    /// empty value: a required key left empty is reported as missing by the validator.
    private mutating func text(_ node: Node, _ key: String) -> Located<String>? {
        guard refuseAnchor(node) else { return nil }
        guard case let .scalar(s) = node else {
            error("`\(key)` takes a single value, not \(kind(node))", location(node)); return nil
        }
        if PlanYAMLReader.isNull(s) { return nil }
        return Located(value: s.string, at: location(node))
    }

    private mutating func integer(_ node: Node, _ key: String) -> Located<Int>? {
        guard let t = text(node, key) else { return nil }
        let digits = t.value.utf8
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ (48...57).contains($0) }), let v = Int(t.value) else {
            error("`\(key)` takes a whole number, not `\(t.value.prefix(40))`", t.at); return nil
        }
        return Located(value: v, at: t.at)
    }

    private mutating func boolean(_ node: Node, _ key: String) -> Bool? {
        guard let t = text(node, key) else { return nil }
        switch t.value {
        case "true": return true
        case "false": return false
        default: error("`\(key)` takes true or false, not `\(t.value.prefix(40))`", t.at); return nil
        }
    }

    private mutating func date(_ node: Node, _ key: String) -> Located<Day>? {
        guard let t = text(node, key) else { return nil }
        guard let d = Day(iso: t.value) else {
            error("`\(key)` is not a date: `\(t.value.prefix(40))`; write a real calendar date as YYYY-MM-DD", t.at)
            return nil
        }
        return Located(value: d, at: t.at)
    }

    /// A list of ids; a single id is taken as a list of one.
    private mutating func ids(_ node: Node, _ key: String) -> [Located<String>] {
        guard refuseAnchor(node) else { return [] }
        switch node {
        case let .scalar(s):
            return PlanYAMLReader.isNull(s) ? [] : [Located(value: s.string, at: location(node))]
        case let .sequence(seq):
            var out: [Located<String>] = []
            out.reserveCapacity(seq.count)
            for item in seq {
                guard refuseAnchor(item) else { continue }
                guard case let .scalar(s) = item, !PlanYAMLReader.isNull(s) else {
                    let what = item.scalar != nil ? "an empty value" : kind(item)
                    error("each entry of `\(key)` is an id, not \(what)", location(item))
                    continue
                }
                out.append(Located(value: s.string, at: location(item)))
            }
            return out
        default:
            error("`\(key)` takes a list of ids like [a, b], not \(kind(node))", location(node))
            return []
        }
    }

    /// The entries of a list of mappings (`phases`, `tasks`).
    private mutating func list(_ node: Node, _ key: String, of what: String) -> [Node] {
        guard refuseAnchor(node) else { return [] }
        switch node {
        case let .sequence(seq): return Array(seq)
        case let .scalar(s) where PlanYAMLReader.isNull(s): return []
        default:
            error("`\(key)` takes a list of \(what), each starting with `- `, not \(kind(node))", location(node))
            return []
        }
    }
}

extension PlanYAMLReader {
    /// A libyaml or Yams error as a diagnostic.
    func diagnostic(for error: YamlError, text: String) -> Diagnostic {
        func loc(_ m: Mark) -> SourceLocation { SourceLocation(file: file, line: m.line, column: m.column) }
        func ctx(_ c: YamlError.Context?) -> String { c.map { " (\($0.text) at line \($0.mark.line))" } ?? "" }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            return .error("this is not valid YAML: \(problem)\(ctx(context))", at: loc(mark))
        case let .composer(context, problem, mark, _):
            return .error("this is not valid YAML: \(problem)\(ctx(context))", at: loc(mark))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            return .error(
                "\(keys) appear\(duplicates.count == 1 ? "s" : "") more than once in one mapping; each key may be written once",
                at: loc(context.mark))
        case let .reader(problem, offset, _, _):
            var line = 1, column = 1
            if let offset {
                var seen = 0
                for b in text.utf8 {
                    if seen >= offset { break }
                    if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
                    seen += 1
                }
            }
            return .error("the text cannot be read as YAML: \(problem)", at: SourceLocation(file: file, line: line, column: column))
        case .memory:
            return .error("the YAML parser ran out of memory reading this plan", at: nil)
        default:
            return .error("the plan could not be parsed: \(error)", at: nil)
        }
    }
}
