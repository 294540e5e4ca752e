// Readiness of every task, derived in one pass from the plan and the recorded check-offs.
//
// The rules (DESIGN.md §1):
// - a task's effective requirements are its own plus everything its ancestors require
//   (a part inherits its parent's requirements);
// - a task with parts is done exactly when all its parts are done, and cannot be checked
//   off by hand; a task without parts is done when it has been checked off;
// - an open task is ready when every effective requirement is done and it has no open
//   part; otherwise it is blocked.

public struct PlanState: Sendable {
    public enum Status: String, Sendable, Codable { case done, ready, blocked }

    public let plan: Plan
    /// Whether each task counts as done (derived for parents).
    public let done: [Bool]
    public let status: [Status]
    /// Own requirements plus the ancestors', sorted.
    public let effectiveRequires: [[Int]]
    /// Tasks that list `i` among their effective requirements (its "unblocks" side).
    public let dependents: [[Int]]

    /// `checked[i]`: task `i` has a recorded check-off.
    public init(plan: Plan, checked: [Bool]) {
        let n = plan.tasks.count
        self.plan = plan

        // Effective requirements: walk each task's ancestor chain (bounded: the validator
        // rejects decomposed-from cycles, and the hop limit keeps a bad plan from looping).
        var eff = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            guard plan.parent[i] != nil else { eff[i] = plan.requires[i]; continue }
            var all = plan.requires[i]
            var k = plan.parent[i]
            var hops = 0
            while let j = k, hops < n {
                all.append(contentsOf: plan.requires[j])
                k = plan.parent[j]; hops += 1
            }
            eff[i] = Array(Set(all)).filter { $0 != i }.sorted()
        }

        // Done: leaves by their check-off; parents when all parts are done (deepest first,
        // memoised iteratively so deep part chains cannot overflow the stack).
        var isDone = [Bool](repeating: false, count: n)
        var known = [Bool](repeating: false, count: n)
        for i in 0..<n where !known[i] {
            var stack = [i]
            while let top = stack.last {
                if known[top] { stack.removeLast(); continue }
                let parts = plan.parts[top]
                if parts.isEmpty {
                    isDone[top] = checked.indices.contains(top) && checked[top]
                    known[top] = true; stack.removeLast(); continue
                }
                if let pending = parts.first(where: { !known[$0] }), stack.count <= n {
                    stack.append(pending); continue
                }
                isDone[top] = parts.allSatisfy { known[$0] && isDone[$0] }
                known[top] = true; stack.removeLast()
            }
        }

        var st = [Status](repeating: .blocked, count: n)
        var deps = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            for j in eff[i] { deps[j].append(i) }
            if isDone[i] { st[i] = .done; continue }
            let open = eff[i].contains { !isDone[$0] } || plan.parts[i].contains { !isDone[$0] }
            st[i] = open ? .blocked : .ready
        }
        done = isDone; status = st; effectiveRequires = eff; dependents = deps
    }

    public var doneCount: Int { done.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// What keeps an open task from being ready: open requirements, then open parts.
    public func blockers(of i: Int) -> (requirements: [Int], parts: [Int]) {
        (effectiveRequires[i].filter { !done[$0] }, plan.parts[i].filter { !done[$0] })
    }

    /// Done / total per phase.
    public func progress(ofPhase p: Int) -> (done: Int, total: Int) {
        let ts = plan.phases[p].tasks
        return (ts.reduce(0) { $0 + (done[$1] ? 1 : 0) }, ts.count)
    }
}
