import Foundation

/// `curriculum forecast`: when the open work should be finished at the learner's own pace.
///
/// Pace is check-offs per week over the last weeks (at most 8, none before the first
/// check-off), each week weighted by its recency: the newest week counts N times, the one
/// before N−1, … the oldest once. Likely is that weighted mean; optimistic and pessimistic
/// are one weighted standard deviation either side, and at least a quarter of the mean.
/// The open tasks are taken in plan order, each after the open tasks it requires and its
/// parts (a depth-first walk), one check-off each; a phase is finished when its last task
/// in that order is, the plan when every task is.
public struct Forecast: Sendable {
    public static let windowWeeks = 8

    public struct Pace: Sendable, Equatable {
        /// Check-offs per week.
        public var optimistic: Double
        public var likely: Double
        public var pessimistic: Double
    }

    /// Expected finish days at each pace (nil: never, at a pace of zero).
    public struct Range: Sendable, Equatable {
        public var optimistic: Day?
        public var likely: Day?
        public var pessimistic: Day?
    }

    public struct PhaseForecast: Sendable, Equatable {
        public var phase: Int
        /// Open check-offs in the phase.
        public var open: Int
        public var due: Day?
        public var finish: Range
    }

    public struct Risk: Sendable, Equatable {
        public var task: Int
        public var due: Day
        /// Likely finish; nil when the pace is zero.
        public var expected: Day?
        /// Days later than due; nil when never (pace zero).
        public var daysLate: Int?
    }

    public var today: Day
    /// Check-offs counted (done tasks with a day on or before today).
    public var checkOffs: Int
    public var firstCheckOff: Day?
    public var lastCheckOff: Day?
    /// Check-offs in each week of the window, the newest (ending today) first.
    public var weekly: [Int]
    /// Nil without history.
    public var pace: Pace?
    /// Open check-offs left in the plan.
    public var open: Int
    public var finish: Range
    public var phases: [PhaseForecast]
    /// Open tasks on the longest chain of requirements and parts, first to do first.
    public var criticalPath: [Int]
    /// Open tasks expected later than due, most late first (never-finishing first).
    public var atRisk: [Risk]

    public init(state: PlanState, doneDays: [Int: Day], today: Day) {
        let plan = state.plan
        let n = plan.tasks.count
        self.today = today
        // History.
        var days: [Day] = []
        days.reserveCapacity(doneDays.count)
        for (i, d) in doneDays where state.done[i] && plan.parts[i].isEmpty && d <= today { days.append(d) }
        checkOffs = days.count
        firstCheckOff = days.min()
        lastCheckOff = days.max()
        if let first = firstCheckOff {
            let weeks = min(Forecast.windowWeeks, (today.ordinal - first.ordinal) / 7 + 1)
            var counts = [Int](repeating: 0, count: weeks)
            for d in days {
                let k = (today.ordinal - d.ordinal) / 7
                if k < weeks { counts[k] += 1 }
            }
            weekly = counts
            pace = Forecast.pace(counts)
        } else {
            weekly = []
            pace = nil
        }
        // The order of the open work: prerequisites and parts first, then plan order.
        var finishAt = [Int](repeating: 0, count: n)  // check-offs from now until the task is done
        var chain = [Int](repeating: 0, count: n)  // longest chain of open check-offs ending at it
        var next = [Int](repeating: -1, count: n)  // the dependency that chain continues through
        var visited = [Bool](repeating: false, count: n)
        var count = 0
        var stack: [(task: Int, expanded: Bool)] = []
        func deps(_ i: Int) -> [Int] { plan.requires[i] + plan.parts[i] }
        for root in 0..<n where !state.done[root] && !visited[root] {
            stack.append((root, false))
            while let (i, expanded) = stack.popLast() {
                if expanded {
                    var finish = 0, best = 0, via = -1
                    for d in deps(i) where !state.done[d] {
                        finish = max(finish, finishAt[d])
                        if chain[d] > best { best = chain[d]; via = d }
                    }
                    if plan.parts[i].isEmpty { count += 1; finish = max(finish, count); best += 1 }
                    finishAt[i] = finish; chain[i] = best; next[i] = via
                    continue
                }
                if visited[i] { continue }
                visited[i] = true
                stack.append((i, true))
                // Pushed in reverse so they are walked in plan order.
                for d in deps(i).reversed() where !state.done[d] && !visited[d] { stack.append((d, false)) }
            }
        }
        open = count
        let p = pace
        func range(_ k: Int) -> Range {
            guard let p else { return Range(optimistic: nil, likely: nil, pessimistic: nil) }
            return Range(
                optimistic: Forecast.day(after: k, at: p.optimistic, from: today),
                likely: Forecast.day(after: k, at: p.likely, from: today),
                pessimistic: Forecast.day(after: k, at: p.pessimistic, from: today))
        }
        finish = range(count)
        phases = plan.phases.indices.compactMap { ph in
            let open = plan.phases[ph].tasks.filter { !state.done[$0] && plan.parts[$0].isEmpty }
            guard !open.isEmpty || plan.phases[ph].tasks.contains(where: { !state.done[$0] }) else { return nil }
            let last = plan.phases[ph].tasks.filter { !state.done[$0] }.map { finishAt[$0] }.max() ?? 0
            return PhaseForecast(phase: ph, open: open.count, due: plan.due(ofPhase: ph), finish: range(last))
        }
        // The critical path.
        var path: [Int] = []
        if let top = (0..<n).filter({ !state.done[$0] }).max(by: { (chain[$0], -$0) < (chain[$1], -$1) }) {
            var k = top
            var seen = 0
            while k >= 0 && seen <= n { path.append(k); k = next[k]; seen += 1 }
        }
        criticalPath = path.reversed()
        // Due dates at risk.
        var risks: [Risk] = []
        for i in 0..<n where !state.done[i] {
            guard let due = plan.due(of: i) else { continue }
            let expected = p.flatMap { Forecast.day(after: finishAt[i], at: $0.likely, from: today) }
            if let e = expected, e <= due { continue }
            risks.append(Risk(task: i, due: due, expected: expected, daysLate: expected.map { $0.ordinal - due.ordinal }))
        }
        risks.sort { a, b in
            let la = a.daysLate ?? Int.max, lb = b.daysLate ?? Int.max
            return la != lb ? la > lb : (a.due, a.task) < (b.due, b.task)
        }
        atRisk = risks
    }

    /// The weighted pace of weekly counts (newest first), with its range.
    public static func pace(_ counts: [Int]) -> Pace {
        let w = counts.indices.map { Double(counts.count - $0) }
        let total = w.reduce(0, +)
        guard total > 0 else { return Pace(optimistic: 0, likely: 0, pessimistic: 0) }
        let mean = zip(w, counts).map { $0 * Double($1) }.reduce(0, +) / total
        let variance = zip(w, counts).map { $0 * (Double($1) - mean) * (Double($1) - mean) }.reduce(0, +) / total
        let spread = max(variance.squareRoot(), mean / 4)
        return Pace(optimistic: mean + spread, likely: mean, pessimistic: max(0, mean - spread))
    }

    /// The day `k` more check-offs are done at `perWeek`; nil at a pace of zero.
    public static func day(after k: Int, at perWeek: Double, from today: Day) -> Day? {
        if k == 0 { return today }
        guard perWeek > 0.000_001 else { return nil }
        let days = (Double(k) * 7 / perWeek).rounded(.up)
        guard days < 3_000_000 else { return nil }
        return today.adding(days: Int(days))
    }
}
