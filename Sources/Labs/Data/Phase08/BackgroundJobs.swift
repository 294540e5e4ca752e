// Background jobs on PostgreSQL: a table is the queue. A worker claims the oldest ready
// job with `SELECT … FOR UPDATE SKIP LOCKED LIMIT 1` inside a transaction: the row lock
// makes the job its own, and SKIP LOCKED lets the other workers pass over locked rows to
// the next job instead of queueing behind it. The work's result and the "done" mark
// commit together, so a job is done exactly once or not at all. A delayed job is just a
// row whose `run_at` lies in the future; workers only claim rows whose time has come.
// Graceful shutdown: stop claiming new jobs, let the jobs already claimed finish and
// commit, then exit — nothing half-done, nothing lost, the rest waits for the next start.
import Foundation
import LabKit
import PostgresNIO
import Synchronization

struct BackgroundJobsLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case abandonInFlight = "abandon-in-flight"
        case ackBeforeWork = "ack-before-work"
        case stalePayload = "stale-payload"
        case ignoreRunAt = "ignore-run-at"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .abandonInFlight: "at shutdown a worker rolls back the job it holds instead of finishing it"
            case .ackBeforeWork: "a worker marks its job done and commits before doing it, so a shutdown in between loses the job"
            case .stalePayload: "a worker squares the payload of its previous job (a variable kept across iterations)"
            case .ignoreRunAt: "the claim does not filter on run_at, so delayed jobs run as soon as a worker is free"
            }
        }
    }

    static let jobs = Knob.int("jobs", 1...100_000, default: 400, quick: 60, help: "jobs ready at once")
    static let delayed = Knob.int("delayed", 0...10_000, default: 20, quick: 5, help: "jobs scheduled for later")
    static let delayMs = Knob.int("delay-ms", 0...60_000, default: 1500, quick: 300, help: "how far in the future the delayed jobs are due")
    static let workers = Knob.int("workers", 1...32, default: 4, help: "concurrent workers, one connection each")
    static let jobMs = Knob.int("job-ms", 0...10_000, default: 10, quick: 3, help: "time each job takes")
    static let locking = Knob.choice(
        "locking", ["skip-locked", "for-update", "none"], default: "skip-locked",
        help: "how a worker claims a job (none: watch jobs run twice)")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the lab's own workers so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ")
            + ".")

    /// The checks, named once so the breaker tests cannot drift from them.
    static let inFlightFinish = "shutdown found jobs in flight and let every one of them finish"
    static let shutdownClean = "after shutdown every claimed job is done and the rest are untouched (done + queued, runs)"
    static let exactlyOnce = "every job ran exactly once (runs, distinct jobs, jobs run twice)"
    static let resultsAddUp = "the results add up to Σ payload² computed in Swift"
    static let onTime = "no job started before its run_at, and every delayed job ran"

    static let info = LabInfo(
        id: "background-jobs", title: "A job queue on PostgreSQL", phase: 8,
        teaches:
            "Workers claim jobs with SELECT … FOR UPDATE SKIP LOCKED so no job runs twice, delayed jobs wait for their time, and a graceful shutdown lets in-flight jobs finish before the workers stop.",
        parameters: [jobs.parameter, delayed.parameter, delayMs.parameter, workers.parameter, jobMs.parameter, locking.parameter, fault.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase08/BackgroundJobs.swift"
    )

    /// What the workers share: the shutdown flag and who holds which job.
    final class Control: Sendable {
        struct State {
            var stopping = false
            var claims = 0
            var inFlight: Set<Int> = []
            /// The jobs in flight at the moment shutdown began.
            var atShutdown: Set<Int>?
        }
        let state = Mutex(State())
        /// Shutdown begins when this many jobs have been claimed (nil: never, drain the queue).
        let shutdownAfter: Int?
        init(shutdownAfter: Int?) { self.shutdownAfter = shutdownAfter }
    }

    struct Settings: Sendable {
        var claim: String
        var jobMillis: Int
        var deadline: Date
        var fault: Fault = .none
    }

    func run(_ lab: LabContext) async throws {
        let jobs = lab[Self.jobs], delayed = lab[Self.delayed], delayMs = lab[Self.delayMs]
        let workers = lab[Self.workers], jobMs = lab[Self.jobMs], locking = lab[Self.locking]
        let lock = ["skip-locked": " FOR UPDATE SKIP LOCKED", "for-update": " FOR UPDATE"][locking] ?? ""
        let fault = lab[Self.fault]
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("queue")
        try await db.execute(
            """
            CREATE TABLE jobs (
                id serial PRIMARY KEY, payload int NOT NULL, run_at timestamptz NOT NULL DEFAULT now(),
                status text NOT NULL DEFAULT 'queued', finished_at timestamptz);
            CREATE INDEX jobs_ready ON jobs (run_at, id) WHERE status = 'queued';
            CREATE TABLE job_runs (job_id int NOT NULL, worker int NOT NULL, started_at timestamptz NOT NULL,
                                   finished_at timestamptz NOT NULL, result bigint NOT NULL);
            INSERT INTO jobs (payload) SELECT i FROM generate_series(1, \(jobs)) AS i;
            INSERT INTO jobs (payload, run_at)
                SELECT \(jobs) + i, now() + \(delayMs) * interval '1 millisecond' FROM generate_series(1, \(delayed)) AS i;
            """)
        let total = jobs + delayed
        lab.step(
            "Enqueued \(jobs) jobs ready now and \(delayed) due in \(delayMs) ms",
            "a job's work squares its payload; its run is logged in job_runs together with the 'done' mark"
                + (fault == .none ? "" : "; broken on purpose: \(fault.effect)"))

        let claim = """
            SELECT id, payload, clock_timestamp() FROM jobs
            WHERE status = 'queued'\(fault == .ignoreRunAt ? "" : " AND run_at <= clock_timestamp()")
            ORDER BY run_at, id LIMIT 1\(lock)
            """
        let settings = Settings(
            claim: claim, jobMillis: jobMs, deadline: Date().addingTimeInterval(120 + Double(delayMs) / 1000), fault: fault)
        var sessions: [PGSession] = []
        for _ in 0..<workers { sessions.append(try await server.connect(database: "queue")) }

        // Phase 1: work until half the ready jobs are claimed, then shut down gracefully.
        let first = Control(shutdownAfter: max(1, jobs / 2))
        try await Self.work(sessions, first, settings)
        let shutdown = first.state.withLock { $0 }
        let inFlight = shutdown.atShutdown ?? []
        let afterShutdown = try await db.query(
            """
            SELECT (SELECT count(*) FROM jobs WHERE status = 'done')::int,
                   (SELECT count(*) FROM jobs WHERE status = 'queued')::int,
                   (SELECT count(*) FROM job_runs)::int
            """)[0].decode((Int, Int, Int).self)
        let inFlightDone =
            inFlight.isEmpty
            ? 0
            : try await db.scalar(
                // Finished means done AND run: a done mark without a run is a job lost.
                """
                SELECT count(*)::int FROM jobs j WHERE status = 'done' AND id = ANY(\(Array(inFlight)))
                    AND EXISTS (SELECT 1 FROM job_runs r WHERE r.job_id = j.id)
                """, as: Int.self)
        lab.step(
            "Shut down gracefully after \(shutdown.claims) claims",
            "\(inFlight.count) job(s) were in flight when shutdown began; workers stopped claiming and exited with \(inFlightDone) of them done and run. Done \(afterShutdown.0), still queued \(afterShutdown.1)."
        )
        lab.expect(
            Self.inFlightFinish, inFlight.count >= 1 && inFlightDone == inFlight.count,
            expected: "≥ 1 in flight, all done and run", observed: "\(inFlight.count) in flight, \(inFlightDone) done and run")
        lab.expect(
            Self.shutdownClean, [afterShutdown.0 + afterShutdown.1, afterShutdown.2], equals: [total, afterShutdown.0])

        // Phase 2: start again and drain everything, delayed jobs included.
        let (_, seconds) = try await Measure.time { try await Self.work(sessions, Control(shutdownAfter: nil), settings) }
        lab.step("Restarted the workers and drained the queue", "\(workers) workers, claiming with\(lock.isEmpty ? " no lock" : lock)")

        let runs = try await db.query(
            """
            SELECT count(*)::int, count(DISTINCT job_id)::int, coalesce(sum(result), 0)::bigint FROM job_runs
            """)[0].decode((Int, Int, Int).self)
        let twice = try await db.scalar("SELECT count(*)::int FROM (SELECT job_id FROM job_runs GROUP BY job_id HAVING count(*) > 1) t", as: Int.self)
        let expectedSum = (1...total).reduce(0) { $0 + $1 * $1 }
        lab.expect(Self.exactlyOnce, [runs.0, runs.1, twice], equals: [total, total, 0])
        lab.expect(Self.resultsAddUp, runs.2, equals: expectedSum)

        let early = try await db.scalar(
            """
            SELECT count(*)::int FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE r.started_at < j.run_at
            """, as: Int.self)
        let delayedRuns = try await db.query(
            """
            SELECT count(*)::int, coalesce(min(extract(epoch FROM r.started_at - j.run_at) * 1000), 0)::float8,
                   coalesce(avg(extract(epoch FROM r.started_at - j.run_at) * 1000), 0)::float8
            FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE j.payload > \(jobs)
            """)[0].decode((Int, Double, Double).self)
        lab.step(
            "Delayed jobs",
            String(format: "%d ran; the earliest started %.1f ms after its due time, on average %.1f ms after", delayedRuns.0, delayedRuns.1, delayedRuns.2))
        lab.expect(Self.onTime, [early, delayedRuns.0], equals: [0, delayed])
        lab.figure("throughput while draining", Double(total - afterShutdown.0) / max(seconds, 1e-9), "jobs/s")
        lab.figure("delayed job lateness (average)", delayedRuns.2, "ms")
    }

    /// Runs one worker per session until `control` says stop (graceful shutdown) or, with no
    /// shutdown planned, until no job is left.
    static func work(_ sessions: [PGSession], _ control: Control, _ settings: Settings) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, session) in sessions.enumerated() {
                group.addTask { try await worker(n + 1, session, control, settings) }
            }
            try await group.waitForAll()
        }
    }

    static func worker(_ n: Int, _ db: PGSession, _ control: Control, _ settings: Settings) async throws {
        var previousPayload = 0  // stale-payload squares this one
        while true {
            if control.state.withLock({ $0.stopping }) { return }
            guard Date() < settings.deadline else { throw LabError("worker \(n): the queue did not drain in time") }
            try await db.execute("BEGIN")
            let rows = try await db.query(PostgresQuery(unsafeSQL: settings.claim))
            guard let row = rows.first else {
                try await db.execute("COMMIT")
                if control.shutdownAfter == nil {
                    let left = try await db.scalar("SELECT count(*)::int FROM jobs WHERE status = 'queued'", as: Int.self)
                    if left == 0 { return }
                }
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            let (id, payload, started) = try row.decode((Int, Int, Date).self)
            control.state.withLock { s in
                s.claims += 1
                s.inFlight.insert(id)
                if let limit = control.shutdownAfter, s.claims >= limit, !s.stopping {
                    s.stopping = true
                    s.atShutdown = s.inFlight
                }
            }
            let markDone = "UPDATE jobs SET status = 'done', finished_at = clock_timestamp() WHERE id = \(id)"
            if settings.fault == .ackBeforeWork {
                // Acknowledged first: the work below runs outside the transaction, and a
                // shutdown noticed in between leaves a job marked done that never ran.
                try await db.query(PostgresQuery(unsafeSQL: markDone))
                try await db.execute("COMMIT")
                if control.state.withLock({ $0.stopping }) { return }
                try await db.execute("BEGIN")
            }
            // The work itself; a graceful shutdown lets it finish.
            if settings.jobMillis > 0 { try await Task.sleep(for: .milliseconds(settings.jobMillis)) }
            if settings.fault == .abandonInFlight, control.state.withLock({ $0.stopping }) {
                try await db.execute("ROLLBACK")
                return
            }
            let result = settings.fault == .stalePayload ? previousPayload * previousPayload : payload * payload
            previousPayload = payload
            try await db.query(
                """
                INSERT INTO job_runs VALUES (\(id), \(n), \(started), clock_timestamp(), \(result))
                """)
            if settings.fault != .ackBeforeWork { try await db.query(PostgresQuery(unsafeSQL: markDone)) }
            try await db.execute("COMMIT")
            control.state.withLock { _ = $0.inFlight.remove(id) }
        }
    }
}
