// Checks a `PlanDraft` against the rules of DESIGN.md §1 and, when nothing is wrong,
// builds the `Plan`. Every check is linear in the size of the plan: ids are looked up in
// one dictionary, a phase named in `requires` becomes one node of the cycle graph rather
// than an edge to each of its tasks, and cycles are found with one pass of Tarjan's
// strongly-connected-components algorithm.
//
// The graph checked for cycles is the one the tracker schedules by: a task waits for what
// it requires (a phase id meaning every task of the phase), a part also waits for
// everything its parent requires, and a parent waits for its parts.

struct PlanValidator {
    /// The schema this version reads.
    static let schema = 1
    /// Tasks without a lab listed one by one before the rest are summed up in one warning.
    static let maxNoLabWarnings = 10

    let file: String
    let knownLabs: Set<String>
    var diagnostics: [Diagnostic] = []

    init(file: String, knownLabs: Set<String>) { self.file = file; self.knownLabs = knownLabs }

    private enum Ref { case task(Int), phase(Int) }

    private func top() -> Place { Place(line: 1, column: 1) }
    private func located(_ at: Place?) -> SourceLocation? {
        at.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
    }
    private mutating func error(_ m: String, _ at: Place?) { diagnostics.append(.error(m, at: located(at))) }
    private mutating func warning(_ m: String, _ at: Place?) { diagnostics.append(.warning(m, at: located(at))) }

    static func isKebab(_ s: String) -> Bool {
        var prev: UInt8 = UInt8(ascii: "-")
        var first = true
        for b in s.utf8 {
            if first { guard (97...122).contains(b) else { return false }; first = false }
            let ok = (97...122).contains(b) || (48...57).contains(b) || (b == UInt8(ascii: "-") && prev != b)
            guard ok else { return false }
            prev = b
        }
        return !first && prev != UInt8(ascii: "-")
    }

    /// What a malformed id would look like in kebab case, to suggest it.
    static func kebab(_ s: String) -> String? {
        var out = ""
        for ch in s.lowercased() {
            if ch.isLetter && ch.isASCII || ch.isNumber && ch.isASCII { out.append(ch) } else if !out.isEmpty && out.last != "-" { out.append("-") }
        }
        while out.last == "-" { out.removeLast() }
        return isKebab(out) && out != s ? out : nil
    }

    private mutating func checkID(_ id: Located<String>, _ what: String) -> Bool {
        if PlanValidator.isKebab(id.value) { return true }
        let shown = id.value.count > 60 ? String(id.value.prefix(60)) + "…" : id.value
        error(
            "`\(shown)` is not a valid \(what) id: ids are kebab-case (lowercase letters, digits and single hyphens, starting with a letter)"
                + .didYouMean(id.value.count <= 200 ? PlanValidator.kebab(id.value) : nil), id.at)
        return false
    }

    mutating func validate(_ draft: PlanDraft) -> Plan? {
        // --- the plan itself -------------------------------------------------------
        if let s = draft.schema {
            if s.value > PlanValidator.schema {
                error("this plan needs a newer curriculum: it is written in schema \(s.value) and this version reads schema \(PlanValidator.schema)", s.at)
            } else if s.value < 1 {
                error("unknown schema \(s.value); this version reads schema \(PlanValidator.schema)", s.at)
            }
        } else if !draft.malformed.contains("schema") {
            error("the plan has no `schema`; add `schema: \(PlanValidator.schema)` at the top", top())
        }
        if let id = draft.id {
            _ = checkID(id, "plan")
        } else if !draft.malformed.contains("id") {
            error("the plan has no `id` (it names the progress database); add one such as `id: my-studies`", top())
        }
        if draft.title?.value.isEmpty ?? !draft.malformed.contains("title") { error("the plan has no `title`", top()) }
        if draft.phases.isEmpty && !draft.malformed.contains("phases") { error("the plan has no phases; list them under `phases:`", draft.phasesAt ?? top()) }

        // --- ids -------------------------------------------------------------------
        let drafts = draft.tasks
        let n = drafts.count
        /// Every id: what it names and where it was first written.
        var refs: [String: (ref: Ref, at: Place)] = Dictionary(minimumCapacity: n + draft.phases.count)
        func claim(_ id: Located<String>, _ ref: Ref, _ v: inout PlanValidator) {
            if let other = refs[id.value]?.at {
                v.error(
                    "duplicate id `\(id.value.clipped)`: it is already used at line \(other.line), column \(other.column); ids must be unique across phases and tasks",
                    id.at)
                return
            }
            refs[id.value] = (ref, id.at)
        }
        for (p, phase) in draft.phases.enumerated() {
            let name = phase.id.map { "phase `\($0.value.clipped)`" } ?? "phase \(p + 1)"
            // An id that is not kebab-case is reported but still known, so that references
            // to it are not reported as unknown too.
            if let id = phase.id {
                _ = checkID(id, "phase"); claim(id, .phase(p), &self)
            } else if !phase.malformed.contains("id") {
                error("\(name) has no `id`", phase.at)
            }
            if phase.title?.value.isEmpty ?? !phase.malformed.contains("title") { error("\(name) has no `title`", phase.at) }
        }
        for i in drafts.indices {
            if let id = drafts[i].id {
                _ = checkID(id, "task"); claim(id, .task(i), &self)
                if drafts[i].title?.value.isEmpty ?? !drafts[i].malformed.contains("title") {
                    error("task `\(id.value.clipped)` has no `title`", drafts[i].at)
                }
            } else if !drafts[i].malformed.contains("id") {
                let inPhase = draft.phases[drafts[i].phase].id.map { " of phase `\($0.value.clipped)`" } ?? ""
                let titled = drafts[i].title.map { " (titled \"\($0.value.prefix(60))\")" } ?? ""
                error("a task\(inPhase)\(titled) has no `id`", drafts[i].at)
            }
        }

        // --- phase numbers ---------------------------------------------------------
        var numberAt: [Int: Place] = [:]
        for (p, phase) in draft.phases.enumerated() {
            guard let num = phase.number else {
                if phase.malformed.contains("number") { continue }
                error("phase `\(phase.id?.value ?? String(p + 1))` has no `number`", phase.at); continue
            }
            if num.value < 1 { error("phase numbers start at 1, not \(num.value)", num.at); continue }
            if let other = numberAt[num.value] {
                error("two phases have number \(num.value): the other is at line \(other.line)", num.at)
            } else {
                numberAt[num.value] = num.at
            }
        }
        if !draft.phases.isEmpty, draft.phases.allSatisfy({ $0.number.map { $0.value >= 1 } ?? false }) {
            var missing: [Int] = []
            for k in 1...draft.phases.count where numberAt[k] == nil { missing.append(k) }
            if !missing.isEmpty {
                let list = missing.prefix(10).map(String.init).joined(separator: ", ")
                error(
                    "phases are numbered 1 to \(draft.phases.count) without gaps, but no phase has number \(list)\(missing.count > 10 ? ", …" : "")",
                    draft.phasesAt ?? top())
            }
        }

        // --- renamed-from ----------------------------------------------------------
        var renamedBy: [String: String] = [:]
        for i in drafts.indices {
            guard let id = drafts[i].id?.value else { continue }
            for old in drafts[i].renamedFrom {
                guard checkID(old, "former") else { continue }
                if refs[old.value] != nil {
                    error(
                        "task `\(id)` is renamed from `\(old.value.clipped)`, but `\(old.value.clipped)` is a current id; a renamed-from id must no longer be in use",
                        old.at)
                } else if let other = renamedBy[old.value], other != id {
                    error("tasks `\(other)` and `\(id)` are both renamed from `\(old.value.clipped)`; progress can carry over to one task only", old.at)
                } else {
                    renamedBy[old.value] = id
                }
            }
        }

        // --- references ------------------------------------------------------------
        var idSuggester: Suggester?
        func suggest(_ word: String) -> String? {
            if idSuggester == nil { idSuggester = Suggester(refs.keys) }
            return idSuggester?.suggest(word)
        }
        var labSuggester = Suggester(knownLabs)
        var parent = [Int?](repeating: nil, count: n)
        var taskReqs = [[Int]](repeating: [], count: n)
        var phaseReqs = [[Int]](repeating: [], count: n)
        var linked = Set<String>()
        var noLab: [Int] = []
        for i in drafts.indices {
            let name = drafts[i].id.map { "task `\($0.value.clipped)`" } ?? "a task"
            for lab in drafts[i].labs {
                if knownLabs.contains(lab.value) {
                    linked.insert(lab.value)
                } else {
                    error("\(name) links an unknown lab `\(lab.value.clipped)`" + .didYouMean(labSuggester.suggest(lab.value)), lab.at)
                }
            }
            if drafts[i].labs.isEmpty { noLab.append(i) }
            if let p = drafts[i].decomposedFrom {
                switch refs[p.value]?.ref {
                case let .task(j): parent[i] = j
                case .phase: error("\(name) is decomposed from `\(p.value.clipped)`, which is a phase; a task can be part of a task only", p.at)
                case nil: error("\(name) is decomposed from `\(p.value.clipped)`, which is not a task id" + .didYouMean(suggest(p.value)), p.at)
                }
            }
            var seen = Set<String>()
            for r in drafts[i].requires {
                if !seen.insert(r.value).inserted {
                    warning("\(name) lists `\(r.value.clipped)` twice in `requires`", r.at); continue
                }
                switch refs[r.value]?.ref {
                case let .task(j):
                    if j == i {
                        error("\(name) requires itself", r.at)
                    } else if j == parent[i] {
                        error(
                            "\(name) both requires `\(r.value.clipped)` and is decomposed from it; a part cannot wait for its parent, which waits for its parts",
                            r.at)
                    } else {
                        taskReqs[i].append(j)
                    }
                case let .phase(p):
                    if p == drafts[i].phase {
                        error("\(name) requires its own phase `\(r.value.clipped)`, which includes the task itself", r.at)
                    } else {
                        phaseReqs[i].append(p)
                    }
                case nil:
                    error("\(name) requires `\(r.value.clipped)`, which is neither a task nor a phase" + .didYouMean(suggest(r.value)), r.at)
                }
            }
        }

        // --- decomposed-from cycles ------------------------------------------------
        // Each task has at most one parent, so walking up from every task, colouring as
        // we go, finds each cycle once.
        var color = [UInt8](repeating: 0, count: n)  // 0 new, 1 on the current walk, 2 done
        var inPartCycle = [Bool](repeating: false, count: n)
        for s in 0..<n where color[s] == 0 {
            var walk: [Int] = []
            var v: Int? = s
            while let x = v, color[x] == 0 { color[x] = 1; walk.append(x); v = parent[x] }
            if let x = v, color[x] == 1 {
                let start = walk.firstIndex(of: x) ?? 0
                let cycle = Array(walk[start...])
                for c in cycle { inPartCycle[c] = true }
                let first = cycle.min() ?? x
                let names = cycle.map { drafts[$0].id?.value ?? "?" }
                if cycle.count == 1 {
                    error("task `\(names[0])` is decomposed from itself", drafts[x].decomposedFrom?.at ?? drafts[x].at)
                } else {
                    let k = cycle.firstIndex(of: first) ?? 0
                    let path = (cycle[k...] + cycle[..<k] + [first]).map { drafts[$0].id?.value ?? "?" }
                    error(
                        "`decomposed-from` goes round in a cycle: \(path.joined(separator: " → "))",
                        drafts[first].decomposedFrom?.at ?? drafts[first].at)
                }
            }
            for w in walk { color[w] = 2 }
        }
        var parts = [[Int]](repeating: [], count: n)
        for i in 0..<n { if let p = parent[i], !inPartCycle[i] { parts[p].append(i) } }

        // --- requires cycles -------------------------------------------------------
        findRequiresCycles(
            drafts: drafts, phases: draft.phases, parent: parent, inPartCycle: inPartCycle,
            taskReqs: taskReqs, phaseReqs: phaseReqs)

        // --- warnings --------------------------------------------------------------
        dueWarnings(
            drafts: drafts, phases: draft.phases, parent: parent, inPartCycle: inPartCycle, parts: parts,
            taskReqs: taskReqs, phaseReqs: phaseReqs)
        for (k, i) in noLab.enumerated() {
            if k == PlanValidator.maxNoLabWarnings {
                warning("\(noLab.count - k) more tasks have no lab", nil); break
            }
            warning("task `\(drafts[i].id?.value ?? "?")` has no lab; add one under `labs:`", drafts[i].id?.at ?? drafts[i].at)
        }
        for lab in knownLabs.subtracting(linked).sorted() {
            warning("lab `\(lab)` is linked by no task; add it to the `labs:` of the task it serves", draft.phasesAt ?? top())
        }

        diagnostics = Diagnostic.inFileOrder(diagnostics)
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return nil }
        return build(draft, drafts)
    }

    // MARK: - Cycles in requires

    private mutating func findRequiresCycles(
        drafts: [TaskDraft], phases: [PhaseDraft], parent: [Int?], inPartCycle: [Bool],
        taskReqs: [[Int]], phaseReqs: [[Int]]
    ) {
        let n = drafts.count
        // Nodes: T(i) = i, the task; R(i) = n + i, what it requires (own and inherited);
        // P(p) = 2n + p, a phase, which waits for each of its tasks.
        let total = 2 * n + phases.count
        var edges: [(Int32, Int32)] = []
        edges.reserveCapacity(3 * n + taskReqs.reduce(0) { $0 + $1.count })
        for i in 0..<n {
            edges.append((Int32(i), Int32(n + i)))
            for j in taskReqs[i] { edges.append((Int32(n + i), Int32(j))) }
            for p in phaseReqs[i] { edges.append((Int32(n + i), Int32(2 * n + p))) }
            if let p = parent[i], !inPartCycle[i] {
                edges.append((Int32(n + i), Int32(n + p)))  // a part inherits its parent's requirements
                edges.append((Int32(p), Int32(i)))  // a parent waits for its parts
            }
            edges.append((Int32(2 * n + drafts[i].phase), Int32(i)))
        }
        // Compressed adjacency.
        var start = [Int32](repeating: 0, count: total + 1)
        for (a, _) in edges { start[Int(a) + 1] += 1 }
        for v in 0..<total { start[v + 1] += start[v] }
        var fill = start
        var adj = [Int32](repeating: 0, count: edges.count)
        for (a, b) in edges { adj[Int(fill[Int(a)])] = b; fill[Int(a)] += 1 }
        edges = []

        // Tarjan, iteratively (a recursive walk would overflow the stack on long chains).
        var index = [Int32](repeating: -1, count: total)
        var low = [Int32](repeating: 0, count: total)
        var onStack = [Bool](repeating: false, count: total)
        var comp = [Int32](repeating: -1, count: total)
        var compSize: [Int32] = []
        var stack: [Int32] = []
        var calls: [(v: Int32, e: Int32)] = []
        var counter: Int32 = 0
        for s in 0..<total where index[s] < 0 {
            index[s] = counter; low[s] = counter; counter += 1
            stack.append(Int32(s)); onStack[s] = true
            calls.append((Int32(s), start[s]))
            while let (v, e) = calls.last {
                let vi = Int(v)
                if e < start[vi + 1] {
                    calls[calls.count - 1].e += 1
                    let w = Int(adj[Int(e)])
                    if index[w] < 0 {
                        index[w] = counter; low[w] = counter; counter += 1
                        stack.append(Int32(w)); onStack[w] = true
                        calls.append((Int32(w), start[w]))
                    } else if onStack[w] {
                        low[vi] = min(low[vi], index[w])
                    }
                } else {
                    calls.removeLast()
                    if let (u, _) = calls.last { low[Int(u)] = min(low[Int(u)], low[vi]) }
                    if low[vi] == index[vi] {
                        let c = Int32(compSize.count)
                        var size: Int32 = 0
                        while let w = stack.popLast() {
                            onStack[Int(w)] = false; comp[Int(w)] = c; size += 1
                            if Int(w) == vi { break }
                        }
                        compSize.append(size)
                    }
                }
            }
        }

        // One cycle per knot: the shortest way from its first task back to itself.
        var reported = [Bool](repeating: false, count: compSize.count)
        var from = [Int32](repeating: -1, count: total)
        for i in 0..<n {
            let c = Int(comp[i])
            guard compSize[c] > 1, !reported[c] else { continue }
            reported[c] = true
            var queue: [Int32] = [Int32(i)]
            var head = 0
            var last: Int32 = -1
            from[i] = Int32(i)
            search: while head < queue.count {
                let v = Int(queue[head]); head += 1
                for e in Int(start[v])..<Int(start[v + 1]) {
                    let w = Int(adj[e])
                    guard comp[w] == comp[i] else { continue }
                    if w == i { last = Int32(v); break search }
                    if from[w] < 0 { from[w] = Int32(v); queue.append(Int32(w)) }
                }
            }
            guard last >= 0 else { continue }
            var back: [Int] = []
            var v = Int(last)
            while v != i { back.append(v); v = Int(from[v]) }
            let path = [i] + back.reversed() + [i]
            var names: [String] = []
            var inherited = false
            for (k, v) in path.enumerated() {
                if v < n { names.append(drafts[v].id?.value ?? "?") } else if v >= 2 * n { names.append("\(phases[v - 2 * n].id?.value ?? "?") (phase)") }
                if k > 0 {
                    let u = path[k - 1]
                    if (u >= n && u < 2 * n && v >= n && v < 2 * n) || (u < n && v < n) { inherited = true }
                }
            }
            var collapsed: [String] = []
            for name in names where collapsed.last != name { collapsed.append(name) }
            let why = inherited ? " (a part waits for everything its parent requires, and a parent waits for its parts)" : ""
            error(
                "`requires` goes round in a cycle: \(collapsed.joined(separator: " → "))\(why)",
                drafts[i].requiresAt ?? drafts[i].at)
        }
    }

    // MARK: - Due dates

    private enum Via { case requires, phase(Int), part, inherited(Int) }

    private mutating func dueWarnings(
        drafts: [TaskDraft], phases: [PhaseDraft], parent: [Int?], inPartCycle: [Bool],
        parts: [[Int]], taskReqs: [[Int]], phaseReqs: [[Int]]
    ) {
        let n = drafts.count
        // The date each task is due: its own, else its nearest ancestor's, else its phase's
        // (the rule of `Plan.due(of:)`).
        var ownUp = [Day?](repeating: nil, count: n)
        var state = [UInt8](repeating: 0, count: n)  // 0 unknown, 1 walking, 2 known
        for s in 0..<n where state[s] == 0 {
            var walk: [Int] = []
            var v: Int? = s
            var found: Day?
            while let x = v {
                if state[x] == 2 { found = ownUp[x]; break }
                if state[x] == 1 || inPartCycle[x] { break }
                state[x] = 1; walk.append(x)
                if let d = drafts[x].due?.value { found = d; break }
                v = parent[x]
            }
            for w in walk.reversed() {
                if let d = drafts[w].due?.value { found = d }
                ownUp[w] = found; state[w] = 2
            }
        }
        let due: [Day?] = (0..<n).map { ownUp[$0] ?? phases[drafts[$0].phase].due?.value }
        var phaseLatest = [(day: Day, task: Int)?](repeating: nil, count: phases.count)
        for i in 0..<n {
            guard let d = due[i] else { continue }
            if phaseLatest[drafts[i].phase].map({ $0.day < d }) ?? true { phaseLatest[drafts[i].phase] = (d, i) }
        }
        typealias Latest = (day: Day, task: Int, via: Via)
        func later(_ a: Latest?, _ b: Latest?) -> Latest? {
            guard let a else { return b }
            guard let b else { return a }
            return b.day > a.day ? b : a
        }
        var own = [Latest?](repeating: nil, count: n)
        for i in 0..<n {
            var m: Latest?
            for j in taskReqs[i] { if let d = due[j] { m = later(m, (d, j, .requires)) } }
            for p in phaseReqs[i] { if let l = phaseLatest[p] { m = later(m, (l.day, l.task, .phase(p))) } }
            own[i] = m
        }
        // What each task waits for through its ancestors, memoised up the parent chain.
        var inherited = [Latest?](repeating: nil, count: n)
        var done = [Bool](repeating: false, count: n)
        for s in 0..<n where !done[s] {
            var walk: [Int] = []
            var v: Int? = s
            while let x = v, !done[x], !inPartCycle[x] { walk.append(x); done[x] = true; v = parent[x] }
            var above: Latest? = v.flatMap { done[$0] && !inPartCycle[$0] ? inherited[$0] : nil }
            for w in walk.reversed() {
                let fromParent: Latest? = above.map { a in
                    if case .inherited = a.via { return a }
                    return (a.day, a.task, .inherited(parent[w] ?? w))
                }
                inherited[w] = later(own[w], parent[w] == nil || inPartCycle[w] ? nil : fromParent)
                above = inherited[w]
            }
        }
        for i in 0..<n {
            guard let d = due[i], let id = drafts[i].id?.value else { continue }
            var m = inherited[i]
            for c in parts[i] { if let dc = due[c] { m = later(m, (dc, c, .part)) } }
            guard let latest = m, d < latest.day else { continue }
            let other = drafts[latest.task].id?.value ?? "?"
            let reason: String
            switch latest.via {
            case .requires: reason = "it requires `\(other)`, due \(latest.day)"
            case let .phase(p): reason = "it requires phase `\(phases[p].id?.value ?? "?")`, whose task `\(other)` is due \(latest.day)"
            case .part: reason = "its part `\(other)` is due \(latest.day)"
            case let .inherited(p): reason = "through its parent `\(drafts[p].id?.value ?? "?")` it waits for `\(other)`, due \(latest.day)"
            }
            warning("task `\(id)` is due \(d), before something it waits for: \(reason)", drafts[i].due?.at ?? drafts[i].at)
        }
    }

    // MARK: - Building the plan

    private func build(_ draft: PlanDraft, _ drafts: [TaskDraft]) -> Plan {
        var phases: [Phase] = []
        phases.reserveCapacity(draft.phases.count)
        for p in draft.phases {
            phases.append(
                Phase(
                    id: p.id?.value ?? "", number: p.number?.value ?? 0, icon: p.icon,
                    title: p.title?.value ?? "", due: p.due?.value, notes: p.notes, ruleBefore: p.ruleBefore))
        }
        var tasks: [Task] = []
        tasks.reserveCapacity(drafts.count)
        for i in drafts.indices {
            phases[drafts[i].phase].tasks.append(i)
            tasks.append(
                Task(
                    id: drafts[i].id?.value ?? "", title: drafts[i].title?.value ?? "", phase: drafts[i].phase,
                    position: phases[drafts[i].phase].tasks.count, labs: drafts[i].labs.map(\.value),
                    requires: drafts[i].requires.map(\.value), due: drafts[i].due?.value,
                    decomposedFrom: drafts[i].decomposedFrom?.value, generatedFrom: drafts[i].generatedFrom?.value,
                    renamedFrom: drafts[i].renamedFrom.map(\.value), notes: drafts[i].notes))
        }
        return Plan(
            schema: draft.schema?.value ?? PlanValidator.schema, id: draft.id?.value ?? "",
            title: draft.title?.value ?? "", generatedFrom: draft.generatedFrom, start: draft.start?.value,
            frontMatter: draft.frontMatter, noteBefore: draft.noteBefore, noteAfter: draft.noteAfter,
            phases: phases, tasks: tasks)
    }
}

extension Diagnostic {
    /// Sorted by line and column, stably; diagnostics without a place come last.
    static func inFileOrder(_ list: [Diagnostic]) -> [Diagnostic] {
        list.enumerated().sorted { a, b in
            let la = a.element.location.map { ($0.line, $0.column) } ?? (Int.max, 0)
            let lb = b.element.location.map { ($0.line, $0.column) } ?? (Int.max, 0)
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }
}
