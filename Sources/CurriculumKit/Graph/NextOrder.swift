// The order of `next`: overdue first, then by due date (dated before undated), then by how
// many open tasks each would unblock (transitively), then plan order. Deterministic.

public struct NextEntry: Sendable, Equatable {
    public var task: Int
    public var due: Day?
    public var overdue: Bool
    /// Open tasks that transitively wait for this one. Computed only where it decides the
    /// order (tasks tied on due date within the requested window); nil elsewhere.
    public var unblocks: Int?
}

extension PlanState {
    /// Ready tasks in `next` order. `limit` (when given) lets the ordering compute unblock
    /// counts only for the due-date groups that reach into the first `limit` places.
    public func next(today: Day, limit: Int? = nil, phase: Int? = nil) -> [NextEntry] {
        var entries: [NextEntry] = []
        for i in 0..<plan.tasks.count where status[i] == .ready {
            if let phase, plan.tasks[i].phase != phase { continue }
            let due = plan.due(of: i)
            entries.append(NextEntry(task: i, due: due, overdue: due.map { $0 < today } ?? false, unblocks: nil))
        }
        // Sort by the cheap keys first.
        func dueKey(_ e: NextEntry) -> Int {
            // overdue < dated < undated; within the first two, earlier dates first.
            (e.overdue ? 0 : e.due == nil ? 2 : 1) << 40 | ((e.due?.ordinal ?? 0) + (1 << 39))
        }
        entries.sort { dueKey($0) != dueKey($1) ? dueKey($0) < dueKey($1) : $0.task < $1.task }

        // Groups of equal due key; counts are needed for groups that start inside the window.
        let window = limit.map { min($0, entries.count) } ?? entries.count
        var need: [Int] = []
        var start = 0
        while start < window {
            var end = start + 1
            while end < entries.count && dueKey(entries[end]) == dueKey(entries[start]) { end += 1 }
            if end - start > 1 { need.append(contentsOf: entries[start..<end].map(\.task)) }
            start = end
        }
        var counts: [Int: Int] = [:]
        if !need.isEmpty {
            for (t, c) in zip(need, unblockCounts(of: need)) { counts[t] = c }
        }
        for k in entries.indices { entries[k].unblocks = counts[entries[k].task] }
        entries.sort {
            let a = (dueKey($0), -($0.unblocks ?? 0), $0.task)
            let b = (dueKey($1), -($1.unblocks ?? 0), $1.task)
            return a < b
        }
        if let limit, entries.count > limit { entries.removeLast(entries.count - limit) }
        return entries
    }

    /// For each source task, how many open tasks transitively wait for it (through
    /// requirements, and a parent waiting for its parts). Exact: bit-parallel propagation
    /// over the open tasks in topological order, 64 sources per pass.
    public func unblockCounts(of sources: [Int]) -> [Int] {
        let n = plan.tasks.count
        // Edges u → v among open tasks: v waits for u.
        var order: [Int] = []
        order.reserveCapacity(n)
        var indegree = [Int](repeating: 0, count: n)
        func successors(_ u: Int, _ body: (Int) -> Void) {
            for v in dependents[u] where !done[v] { body(v) }
            if let p = plan.parent[u], !done[p] { body(p) }
        }
        for u in 0..<n where !done[u] { successors(u) { indegree[$0] += 1 } }
        for u in 0..<n where !done[u] && indegree[u] == 0 { order.append(u) }
        var head = 0
        while head < order.count {
            let u = order[head]; head += 1
            successors(u) { v in
                indegree[v] -= 1
                if indegree[v] == 0 { order.append(v) }
            }
        }
        var result = [Int](repeating: 0, count: sources.count)
        var bits = [UInt64](repeating: 0, count: n)
        var batch = 0
        while batch < sources.count {
            let chunk = sources[batch..<min(batch + 64, sources.count)]
            for k in bits.indices { bits[k] = 0 }
            for (b, s) in chunk.enumerated() { bits[s] |= 1 << UInt64(b) }
            for u in order where bits[u] != 0 {
                let mark = bits[u]
                successors(u) { bits[$0] |= mark }
            }
            var tally = [Int](repeating: 0, count: chunk.count)
            for u in order {
                var m = bits[u]
                while m != 0 {
                    let b = m.trailingZeroBitCount
                    tally[b] += 1
                    m &= m - 1
                }
            }
            // A source counts itself; subtract it.
            for b in 0..<chunk.count { result[batch + b] = tally[b] - 1 }
            batch += 64
        }
        return result
    }
}
