/// Spaced re-runs of labs (`curriculum review`): a task verified by its labs comes back
/// for a re-run 3 days after its verification, then 7, 21 and 60 days after each further
/// pass; a failed re-run flags the task regressed, makes it due at once, and starts the
/// intervals again from 3 days at its next pass.
public enum ReviewSchedule {
    /// Days to the next re-run after the 1st, 2nd, 3rd, and 4th and later passes in a row.
    public static let intervals = [3, 7, 21, 60]

    /// Where one task stands in the schedule.
    public struct Item: Sendable, Equatable {
        /// Task index.
        public var task: Int
        /// Passes in a row since the check-off or the last failure (0 after a failure).
        public var streak: Int
        /// The day of the last verdict (verified check-off, or re-run).
        public var last: Day
        /// When it is due for a re-run (the day of the failure for a regressed task).
        public var due: Day
        /// Days between `last` and `due` (0 when regressed).
        public var interval: Int
        public var regressed: Bool
    }

    /// The interval after `streak` passes in a row.
    public static func interval(afterPasses streak: Int) -> Int {
        streak <= 0 ? 0 : intervals[min(streak, intervals.count) - 1]
    }

    /// Every done task with labs that its labs have judged, in due order (then plan order).
    /// `verdicts` are the check-offs and rechecks that are not undone, oldest first;
    /// `index` maps a recorded task id to its task (renamed ids included).
    public static func items(state: PlanState, verdicts: [Event], index: (String) -> Int?) -> [Item] {
        let plan = state.plan
        var byTask: [Int: (streak: Int, last: Day, regressed: Bool)] = [:]
        for e in verdicts {
            guard let id = e.task, let i = index(id), let day = Day(iso: e.day) else { continue }
            switch e.kind {
            case .checked:
                byTask[i] = (e.verified ? 1 : 0, day, false)
            case .rechecked:
                guard var s = byTask[i] else { continue }
                if e.passed == true { s.streak += 1; s.regressed = false } else { s.streak = 0; s.regressed = true }
                s.last = day
                byTask[i] = s
            default:
                continue
            }
        }
        var out: [Item] = []
        for (i, s) in byTask where state.done[i] && !plan.tasks[i].labs.isEmpty && plan.parts[i].isEmpty {
            if s.regressed {
                out.append(Item(task: i, streak: 0, last: s.last, due: s.last, interval: 0, regressed: true))
            } else if s.streak > 0 {
                let gap = interval(afterPasses: s.streak)
                out.append(Item(task: i, streak: s.streak, last: s.last, due: s.last.adding(days: gap), interval: gap, regressed: false))
            }
        }
        out.sort { ($0.due, $0.task) < ($1.due, $1.task) }
        return out
    }
}

extension Store {
    /// Check-offs and rechecks that are not undone, oldest first: what `review` schedules from.
    public func verdicts() throws(StoreError) -> [Event] {
        try read { db in
            try db.query(
                """
                SELECT \(Event.columns) FROM events
                WHERE kind IN ('checked', 'rechecked')
                  AND id NOT IN (SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL)
                ORDER BY at, uid
                """, [], Event.init(row:))
        }
    }
}

extension Tracker {
    /// The review schedule of the done tasks with labs (see `ReviewSchedule`).
    public func reviews() throws(CurriculumError) -> [ReviewSchedule.Item] {
        let state = try state()
        let progress = try progress()
        let plan = state.plan
        // Nothing judged by labs: no need to read the log.
        let candidates = progress.byTask.contains { i, p in
            (p.verified || p.regressed) && !plan.tasks[i].labs.isEmpty
        }
        guard candidates else { return [] }
        let events: [Event]
        let db = try store()
        do { events = try db.verdicts() } catch { throw .store(error) }
        var renamed: [String: Int]?
        return ReviewSchedule.items(state: state, verdicts: events) { id in
            if let i = plan.taskIndex[id] { return i }
            if renamed == nil {
                var r: [String: Int] = [:]
                for i in plan.tasks.indices { for old in plan.tasks[i].renamedFrom { r[old] = i } }
                renamed = r
            }
            return renamed?[id]
        }
    }

    /// How many re-runs are due today.
    public func reviewsDue() throws(CurriculumError) -> Int {
        try reviews().filter { $0.due <= today }.count
    }
}
