// Thread pools and context propagation.
//
// A thread pool is a fixed set of OS threads that take jobs from a shared queue: however
// many jobs you submit, at most `size` run at once, so a burst of work cannot create a burst
// of threads. Here the pool is built by hand (N `Thread`s pulling from a locked queue, woken
// by a semaphore), then compared with Foundation's `OperationQueue` with a concurrency limit
// and Dispatch's `concurrentPerform` (a parallel for-loop over a pool Dispatch owns).
//
// Context propagation: Kotlin's `CoroutineContext` (or a `ThreadLocal` copied into a pool)
// is Swift's `@TaskLocal`. A value bound with `$value.withValue(…)` is seen by the task and by
// every child it creates (`async let`, task groups) and by `Task {}`, which copies it; a
// `Task.detached` starts from an empty context, and a plain Dispatch block has no task at all.
//
// Experiments: `pool-size` above the core count; `break=` plants one mistake in a pool, in
// the propagation code or in the parallel loop (a thread per job, a job run under the queue's
// lock, a Task.detached where Task {} was meant…), to see which checks catch it.
import Dispatch
import Foundation
import LabKit
import Synchronization

public struct ThreadPoolsLab: Lab {
    static let poolSize = Knob.int(
        "pool-size", 1...64, default: 4, quick: 3,
        help: "Worker threads in the hand-made pool (and the OperationQueue's limit).")
    static let jobs = Knob.int("jobs", 1...10_000, default: 200, quick: 24, help: "Jobs submitted to each pool.")
    static let jobMillis = Knob.int("job-ms", 0...1000, default: 5, quick: 2, help: "Blocking work per job, in milliseconds.")
    static let iterations = Knob.int(
        "iterations", 1...1_000_000, default: 100_000, quick: 10_000,
        help: "Indices DispatchQueue.concurrentPerform runs over.")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help:
            "Plant one mistake: thread-per-job (the pool starts a thread for every job instead of queueing it), job-under-lock (a worker runs its job while still holding the queue's lock), shutdown-now (closing the pool discards the jobs still queued), hand-off-to-threads (each operation starts a thread for its job and returns, so the queue's limit bounds only the hand-offs), cancel-on-first (the first operation to run cancels the queue's others, as a fail-fast path would), bind-late (the async let starts before the request id is bound), detached-children (the task group runs inside a Task.detached), detached-for-task (Task.detached where Task {} was meant), shared-context (the request id is a shared variable set once, not a @TaskLocal), chunk-remainder (concurrentPerform runs over 64 chunks of n/64 indices, dropping the remainder)."
    )

    /// Realistic mistakes, each planted in the lab's own code; the checks that catch each are
    /// listed in Tests/ConcurrencyLabsTests/ConcurrencyBreakerTests.swift.
    public enum Breaker: String, CaseIterable, Sendable {
        case none
        case threadPerJob = "thread-per-job"
        case jobUnderLock = "job-under-lock"
        case shutdownNow = "shutdown-now"
        case handOffToThreads = "hand-off-to-threads"
        case cancelOnFirst = "cancel-on-first"
        case bindLate = "bind-late"
        case detachedChildren = "detached-children"
        case detachedForTask = "detached-for-task"
        case sharedContext = "shared-context"
        case chunkRemainder = "chunk-remainder"
    }

    // The checks' names, for the tests that name the ones a breaker must fail.
    public static let poolBounded = "the pool never ran more jobs at once than it has workers"
    public static let poolFills = "under load the pool ran as many jobs at once as it has workers"
    public static let poolRanAll = "every submitted job ran"
    public static let poolThreads = "no more threads than workers ran jobs"
    public static let queueBounded = "the operation queue never ran more than its limit at once"
    public static let queueRanAll = "the operation queue ran every job"
    public static let asyncLetSees = "async let sees the request id"
    public static let childrenSee = "every task-group child sees the request id"
    public static let taskSees = "Task {} copies the task-locals too"
    public static let detachedBlind = "Task.detached does not see it"
    public static let dispatchBlind = "a Dispatch block (no task at all) does not see it"
    public static let goneAfter = "after withValue returns the binding is gone"
    public static let eachIndexOnce = "every index ran exactly once"
    public static let noIndexTwiceOrSkipped = "no index ran twice or was skipped"
    /// How long the first operations hold their slots at most, waiting for one more than the
    /// limit to run beside them (which a bounded queue never allows).
    static let queueHold = Duration.milliseconds(500)

    public static let info = LabInfo(
        id: "thread-pools",
        title: "Thread pools and context propagation",
        phase: 4,
        teaches:
            "A fixed pool of worker threads never runs more jobs at once than it has workers, however many are queued; a @TaskLocal value reaches async let, task-group children and Task {} but not Task.detached or a Dispatch block.",
        parameters: [poolSize.parameter, jobs.parameter, jobMillis.parameter, iterations.parameter, breaker.parameter],
        source: "Sources/Labs/Concurrency/Phase04/ThreadPools.swift"
    )
    public init() {}

    /// The task-local this lab propagates: think of a request id for logs and traces.
    public enum RequestContext {
        @TaskLocal public static var requestID: String?
    }

    public func run(_ lab: LabContext) async throws {
        let size = lab[Self.poolSize]
        let jobs = lab[Self.jobs]
        let jobMillis = lab[Self.jobMillis]
        let iterations = lab[Self.iterations]
        let breaker = lab[Self.breaker]

        // 1. A fixed worker pool.
        lab.step(
            "A fixed pool of \(size) worker threads runs \(jobs) jobs",
            "Each job counts itself in while it runs (\(jobMillis) ms of blocking work). The pool is closed once it is busy; jobs hold their slots until it is closed with \(min(size, jobs)) running and jobs still queued, or until one more than its size runs (or 2 s pass), so 'reaches its size' and 'never exceeds it' do not depend on luck."
                + Self.brokenText(breaker, [.threadPerJob, .jobUnderLock, .shutdownNow])
        )
        let pool = await Self.runWorkerPool(size: size, jobs: jobs, jobMillis: jobMillis, breaker: breaker)
        lab.figure("worker pool: max jobs at once", Double(pool.maxConcurrent), "jobs")
        lab.figure("worker pool: distinct threads that ran jobs", Double(pool.distinctThreads), "threads")
        lab.figure("worker pool: wall time", pool.seconds * 1000, "ms")
        Self.judgePool(pool, size: size, jobs: jobs, lab)

        // 2. OperationQueue with a limit.
        lab.step(
            "OperationQueue with maxConcurrentOperationCount = \(size)",
            "The same jobs, added while the queue is suspended, then released together. The first \(size + 1) to start hold their slots until \(size + 1) run at once or \(Self.queueHold) pass. Dispatch decides how many threads back the queue and the limit only caps them: on a machine with few cores it may run fewer at once than the limit."
                + Self.brokenText(breaker, [.handOffToThreads, .cancelOnFirst])
        )
        let queue = await Self.runOperationQueue(limit: size, jobs: jobs, jobMillis: jobMillis, breaker: breaker)
        lab.figure("operation queue: max jobs at once", Double(queue.maxConcurrent), "jobs")
        lab.figure("operation queue: wall time", queue.seconds * 1000, "ms")
        lab.expect(Self.queueBounded, queue.maxConcurrent <= size, expected: "≤ \(size)", observed: "\(queue.maxConcurrent)")
        lab.expect(Self.queueRanAll, queue.completed, equals: jobs)

        // 3. Task-local propagation.
        lab.step(
            "Bind a @TaskLocal request id and look for it everywhere",
            "Inside withValue(\"req-42\"): an async let, 4 task-group children, a Task {}, a Task.detached and a Dispatch block each read it."
                + Self.brokenText(breaker, [.bindLate, .detachedChildren, .detachedForTask, .sharedContext]))
        let seen = await Self.propagation(id: "req-42", breaker: breaker)
        Self.judgePropagation(seen, id: "req-42", lab)

        // 4. concurrentPerform.
        lab.step(
            "DispatchQueue.concurrentPerform over \(iterations) indices",
            "A parallel for-loop: Dispatch splits the range over its threads; each index records that it ran."
                + Self.brokenText(breaker, [.chunkRemainder]))
        let perform = Self.concurrentPerform(iterations: iterations, breaker: breaker)
        lab.figure("concurrentPerform: distinct threads", Double(perform.distinctThreads), "threads")
        lab.expect(Self.eachIndexOnce, perform.indicesRunOnce, equals: iterations)
        lab.expect(Self.noIndexTwiceOrSkipped, perform.totalRuns, equals: iterations)
    }

    /// " Broken on purpose: …" when the run's breaker is one of `here`, else nothing.
    static func brokenText(_ breaker: Breaker, _ here: [Breaker]) -> String {
        here.contains(breaker) ? " Broken on purpose (break=\(breaker.rawValue))." : ""
    }

    // MARK: The worker pool

    /// N OS threads that take jobs from one queue. `submit` enqueues and wakes one worker;
    /// `close` lets the workers drain the queue and exit.
    final class WorkerPool: Sendable {
        typealias Job = @Sendable () -> Void
        private let queue = Locked<(jobs: [Job], next: Int)>(([], 0))
        private let wake = DispatchSemaphore(value: 0)
        private let backlogAtClose = AtomicCounter()
        /// thread-per-job's threads, so `join` can wait for them.
        private let spawned = DispatchGroup()
        let size: Int
        let breaker: Breaker

        init(size: Int, breaker: Breaker = .none) { self.size = size; self.breaker = breaker }

        /// Whether `close` found jobs still queued: the pool was closed while full.
        var closedWithBacklog: Bool { backlogAtClose.value > 0 }

        /// The loop each worker thread runs until the pool is closed and empty.
        func work() {
            while true {
                wake.wait()
                if breaker == .jobUnderLock {
                    // The mistake: the job runs inside the critical section meant for the queue.
                    let ran = queue.withLock { q in
                        guard q.next < q.jobs.count else { return false }
                        q.next += 1
                        q.jobs[q.next - 1]()
                        return true
                    }
                    if !ran { return }
                    continue
                }
                let job: Job? = queue.withLock { q in
                    guard q.next < q.jobs.count else { return nil }
                    defer { q.next += 1 }
                    return q.jobs[q.next]
                }
                guard let job else { return }
                job()
            }
        }

        func submit(_ job: @escaping Job) {
            if breaker == .threadPerJob {
                // The mistake: a new thread per job, however many are submitted.
                spawned.enter()
                Thread { [spawned] in
                    job()
                    spawned.leave()
                }.start()
                return
            }
            queue.withLock { $0.jobs.append(job) }
            wake.signal()
        }

        /// One wake-up per worker with nothing queued behind it: each worker exits. (A wake-up
        /// always finds a job while jobs remain, because `submit` appends before it signals.)
        func close() {
            let backlog = queue.withLock { q in
                let waiting = q.next < q.jobs.count
                // shutdown-now's mistake: closing throws away what is still queued.
                if breaker == .shutdownNow { q.jobs.removeSubrange(q.next...) }
                return waiting
            }
            if backlog { backlogAtClose.store(1) }
            for _ in 0..<size { wake.signal() }
        }

        /// Waits for the threads thread-per-job started (blocking: call it off the task pool).
        func join() { spawned.wait() }
    }

    public struct PoolOutcome: Sendable {
        public var maxConcurrent = 0
        public var completed = 0
        public var distinctThreads = 0
        public var seconds = 0.0
        public init() {}
        init(maxConcurrent: Int, completed: Int, distinctThreads: Int, seconds: Double) {
            self.maxConcurrent = maxConcurrent; self.completed = completed
            self.distinctThreads = distinctThreads; self.seconds = seconds
        }
    }

    /// The probe every job runs: counts itself in; if it is among the first `holders` to
    /// start, holds its slot until `release(jobs in flight)` holds (or `hold` passes; after
    /// either, no job holds again); works; counts itself out.
    final class ConcurrencyProbe: Sendable {
        let inFlight = AtomicCounter(), maxInFlight = AtomicCounter(), completed = AtomicCounter()
        let started = AtomicCounter(), released = AtomicCounter()
        let threads = Locked<Set<String>>([])
        let holders: Int
        let hold: Duration
        let release: @Sendable (Int) -> Bool
        let jobMillis: Int

        init(holders: Int = 0, hold: Duration = .zero, release: @escaping @Sendable (Int) -> Bool = { _ in true }, jobMillis: Int) {
            self.holders = holders; self.hold = hold; self.release = release; self.jobMillis = jobMillis
        }

        func job() {
            let now = inFlight.add()
            maxInFlight.raise(to: now)
            let name = currentThreadName()
            threads.withLock { _ = $0.insert(name) }
            if started.add() <= holders {
                let deadline = ContinuousClock.now + hold
                while released.value == 0 {
                    if release(inFlight.value) || ContinuousClock.now > deadline { released.add(); break }
                    usleep(200)
                }
            }
            if jobMillis > 0 { usleep(UInt32(jobMillis * 1000)) }
            inFlight.add(-1)
            completed.add()
        }

        func outcome(seconds: Double) -> PoolOutcome {
            PoolOutcome(
                maxConcurrent: maxInFlight.value, completed: completed.value,
                distinctThreads: threads.withLock { $0.count }, seconds: seconds)
        }
    }

    public static func runWorkerPool(size: Int, jobs: Int, jobMillis: Int, breaker: Breaker = .none) async -> PoolOutcome {
        let pool = WorkerPool(size: size, breaker: breaker)
        // A bounded pool is full when it is closed with all its workers busy and jobs still
        // queued; an unbounded one shows itself by running one more than its size. Either
        // releases the held jobs.
        let probe = ConcurrencyProbe(
            holders: jobs, hold: .seconds(2),
            release: { n in n > size || (n >= min(size, jobs) && (jobs <= size || pool.closedWithBacklog)) },
            jobMillis: jobMillis)
        let start = ContinuousClock.now
        async let workers: Void = OSThreads.run(size) { _ in pool.work() }
        for _ in 0..<jobs { pool.submit { probe.job() } }
        // Close once the pool is busy (or its held jobs gave up), as a server closes its pool
        // at shutdown with work in hand.
        _ = await waitUntil(timeout: .seconds(3)) { probe.inFlight.value >= min(size, jobs) || probe.released.value > 0 }
        pool.close()
        await workers
        await OSThreads.run(1) { _ in pool.join() }
        return probe.outcome(seconds: Measure.seconds(ContinuousClock.now - start))
    }

    public static func judgePool(_ o: PoolOutcome, size: Int, jobs: Int, _ lab: LabContext) {
        lab.expect(poolBounded, o.maxConcurrent <= size, expected: "≤ \(size)", observed: "\(o.maxConcurrent)")
        lab.expect(poolFills, o.maxConcurrent, equals: min(size, jobs))
        lab.expect(poolRanAll, o.completed, equals: jobs)
        lab.expect(poolThreads, o.distinctThreads <= size, expected: "≤ \(size)", observed: "\(o.distinctThreads)")
    }

    public static func runOperationQueue(limit: Int, jobs: Int, jobMillis: Int, breaker: Breaker = .none) async -> PoolOutcome {
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = limit
        // All operations are in before any starts, so the first to run finds the rest queued.
        queue.isSuspended = true
        let probe = ConcurrencyProbe(holders: limit + 1, hold: queueHold, release: { $0 > limit }, jobMillis: jobMillis)
        let handedOff = DispatchGroup()
        let first = AtomicCounter()
        let start = ContinuousClock.now
        for _ in 0..<jobs {
            queue.addOperation { [queue] in
                switch breaker {
                case .handOffToThreads:
                    // The mistake: the operation "finishes" once its job is handed to a thread.
                    handedOff.enter()
                    Thread {
                        probe.job()
                        handedOff.leave()
                    }.start()
                case .cancelOnFirst:
                    if first.add() == 1 { queue.cancelAllOperations() }
                    probe.job()
                default:
                    probe.job()
                }
            }
        }
        queue.isSuspended = false
        // waitUntilAllOperationsAreFinished blocks, so it waits on a thread of its own.
        await OSThreads.run(1) { _ in
            queue.waitUntilAllOperationsAreFinished()
            handedOff.wait()
        }
        return probe.outcome(seconds: Measure.seconds(ContinuousClock.now - start))
    }

    // MARK: Task-locals

    public struct Propagation: Sendable, Equatable {
        public var asyncLet: String?
        public var groupChildren: [String?]
        public var unstructured: String?
        public var detached: String?
        public var dispatchBlock: String?
        public var outsideAfterwards: String?
    }

    public static func propagation(id: String, breaker: Breaker = .none) async -> Propagation {
        // shared-context's mistake: one variable everybody reads, set for the request and
        // never unset, where a task-local was meant.
        let shared = Locked<String?>(nil)
        @Sendable func read() -> String? { breaker == .sharedContext ? shared.withLock { $0 } : RequestContext.requestID }
        @Sendable func viaAsyncLet() async -> String? {
            async let v = read()
            return await v
        }
        @Sendable func fanOut() async -> [String?] {
            await withTaskGroup(of: String?.self) { group in
                for _ in 0..<4 { group.addTask { read() } }
                var seen: [String?] = []
                for await v in group { seen.append(v) }
                return seen
            }
        }
        // bind-late's mistake: the async let is started before the value is bound.
        let early: String?? = breaker == .bindLate ? .some(await viaAsyncLet()) : .none
        if breaker == .sharedContext { shared.withLock { $0 = id } }
        var p = await RequestContext.$requestID.withValue(breaker == .sharedContext ? nil : id) {
            let asyncLet: String? = if case let .some(v) = early { v } else { await viaAsyncLet() }
            let children = breaker == .detachedChildren ? await Task.detached { await fanOut() }.value : await fanOut()
            let unstructured = breaker == .detachedForTask ? await Task.detached { read() }.value : await Task { read() }.value
            let detached = await Task.detached { read() }.value
            let dispatched = await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
                DispatchQueue.global().async { c.resume(returning: read()) }
            }
            return Propagation(
                asyncLet: asyncLet, groupChildren: children, unstructured: unstructured,
                detached: detached, dispatchBlock: dispatched, outsideAfterwards: nil)
        }
        p.outsideAfterwards = read()
        return p
    }

    public static func judgePropagation(_ p: Propagation, id: String, _ lab: LabContext) {
        func show(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "nil" }
        lab.check(asyncLetSees, p.asyncLet == id, expected: show(id), observed: show(p.asyncLet))
        lab.check(
            childrenSee, p.groupChildren.count == 4 && p.groupChildren.allSatisfy { $0 == id },
            expected: "4 × \(show(id))", observed: p.groupChildren.map(show).joined(separator: ", "))
        lab.check(taskSees, p.unstructured == id, expected: show(id), observed: show(p.unstructured))
        lab.check(detachedBlind, p.detached == nil, expected: "nil", observed: show(p.detached))
        lab.check(dispatchBlind, p.dispatchBlock == nil, expected: "nil", observed: show(p.dispatchBlock))
        lab.check(goneAfter, p.outsideAfterwards == nil, expected: "nil", observed: show(p.outsideAfterwards))
    }

    // MARK: concurrentPerform

    public struct PerformOutcome: Sendable {
        public var indicesRunOnce: Int
        public var totalRuns: Int
        public var distinctThreads: Int
    }

    public static func concurrentPerform(iterations: Int, breaker: Breaker = .none) -> PerformOutcome {
        let hits = Locked<[Int]>(Array(repeating: 0, count: iterations))
        let threads = Locked<Set<String>>([])
        @Sendable func visit(_ i: Int) {
            hits.withLock { $0[i] += 1 }
            let name = currentThreadName()
            threads.withLock { _ = $0.insert(name) }
        }
        if breaker == .chunkRemainder {
            // The mistake: fixed chunks of n/64 indices each; n % 64 of them are never visited.
            let chunks = 64, per = iterations / chunks
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in c * per..<(c + 1) * per { visit(i) }
            }
        } else {
            DispatchQueue.concurrentPerform(iterations: iterations) { visit($0) }
        }
        let counts = hits.withLock { $0 }
        return PerformOutcome(
            indicesRunOnce: counts.filter { $0 == 1 }.count, totalRuns: counts.reduce(0, +),
            distinctThreads: threads.withLock { $0.count })
    }
}

/// The OS thread this code runs on, as a name (the pthread id).
func currentThreadName() -> String { "\(pthread_self())" }
