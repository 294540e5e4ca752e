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

    public static let info = LabInfo(
        id: "thread-pools",
        title: "Thread pools and context propagation",
        phase: 4,
        teaches:
            "A fixed pool of worker threads never runs more jobs at once than it has workers, however many are queued; a @TaskLocal value reaches async let, task-group children and Task {} but not Task.detached or a Dispatch block.",
        parameters: [poolSize.parameter, jobs.parameter, jobMillis.parameter, iterations.parameter],
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

        // 1. A fixed worker pool.
        lab.step(
            "A fixed pool of \(size) worker threads runs \(jobs) jobs",
            "Each job counts itself in while it runs (\(jobMillis) ms of blocking work). A job holds its slot until the pool has been seen full once, so 'reaches its size' does not depend on luck."
        )
        let pool = await Self.runWorkerPool(size: size, jobs: jobs, jobMillis: jobMillis)
        lab.figure("worker pool: max jobs at once", Double(pool.maxConcurrent), "jobs")
        lab.figure("worker pool: distinct threads that ran jobs", Double(pool.distinctThreads), "threads")
        lab.figure("worker pool: wall time", pool.seconds * 1000, "ms")
        Self.judgePool(pool, size: size, jobs: jobs, lab)

        // 2. OperationQueue with a limit.
        lab.step(
            "OperationQueue with maxConcurrentOperationCount = \(size)",
            "The same jobs, without holding slots. Dispatch decides how many threads back the queue and the limit only caps them: on a machine with few cores it may run fewer at once than the limit."
        )
        let queue = await Self.runOperationQueue(limit: size, jobs: jobs, jobMillis: jobMillis)
        lab.figure("operation queue: max jobs at once", Double(queue.maxConcurrent), "jobs")
        lab.figure("operation queue: wall time", queue.seconds * 1000, "ms")
        lab.expect(
            "the operation queue never ran more than its limit at once", queue.maxConcurrent <= size,
            expected: "≤ \(size)", observed: "\(queue.maxConcurrent)")
        lab.expect("the operation queue ran every job", queue.completed, equals: jobs)

        // 3. Task-local propagation.
        lab.step(
            "Bind a @TaskLocal request id and look for it everywhere",
            "Inside withValue(\"req-42\"): an async let, 4 task-group children, a Task {}, a Task.detached and a Dispatch block each read it.")
        let seen = await Self.propagation(id: "req-42")
        Self.judgePropagation(seen, id: "req-42", lab)

        // 4. concurrentPerform.
        lab.step(
            "DispatchQueue.concurrentPerform over \(iterations) indices",
            "A parallel for-loop: Dispatch splits the range over its threads; each index records that it ran.")
        let perform = Self.concurrentPerform(iterations: iterations)
        lab.figure("concurrentPerform: distinct threads", Double(perform.distinctThreads), "threads")
        lab.expect("every index ran exactly once", perform.indicesRunOnce, equals: iterations)
        lab.expect("no index ran twice or was skipped", perform.totalRuns, equals: iterations)
    }

    // MARK: The worker pool

    /// N OS threads that take jobs from one queue. `submit` enqueues and wakes one worker;
    /// `close` lets the workers drain the queue and exit.
    final class WorkerPool: Sendable {
        typealias Job = @Sendable () -> Void
        private let queue = Locked<(jobs: [Job], next: Int)>(([], 0))
        private let wake = DispatchSemaphore(value: 0)
        let size: Int

        init(size: Int) { self.size = size }

        /// The loop each worker thread runs until the pool is closed and empty.
        func work() {
            while true {
                wake.wait()
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
            queue.withLock { $0.jobs.append(job) }
            wake.signal()
        }

        /// One wake-up per worker with nothing queued behind it: each worker exits. (A wake-up
        /// always finds a job while jobs remain, because `submit` appends before it signals.)
        func close() {
            for _ in 0..<size { wake.signal() }
        }
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

    /// The probe every job runs: counts itself in, optionally holds its slot until `fullAt`
    /// jobs have been in flight at once (or 2 s pass), works, counts itself out.
    final class ConcurrencyProbe: Sendable {
        let inFlight = AtomicCounter(), maxInFlight = AtomicCounter(), completed = AtomicCounter()
        let seenFull = AtomicCounter(), gaveUp = AtomicCounter()
        let threads = Locked<Set<String>>([])
        let fullAt: Int?
        let jobMillis: Int

        init(fullAt: Int?, jobMillis: Int) { self.fullAt = fullAt; self.jobMillis = jobMillis }

        func job() {
            let now = inFlight.add()
            maxInFlight.raise(to: now)
            let name = currentThreadName()
            threads.withLock { _ = $0.insert(name) }
            if let fullAt {
                if now >= fullAt { seenFull.add() }
                let deadline = Date().addingTimeInterval(2)
                while seenFull.value == 0 && gaveUp.value == 0 {
                    if Date() > deadline { gaveUp.add(); break }
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

    public static func runWorkerPool(size: Int, jobs: Int, jobMillis: Int) async -> PoolOutcome {
        let pool = WorkerPool(size: size)
        let probe = ConcurrencyProbe(fullAt: min(size, jobs), jobMillis: jobMillis)
        let start = ContinuousClock.now
        async let workers: Void = OSThreads.run(size) { _ in pool.work() }
        for _ in 0..<jobs { pool.submit { probe.job() } }
        pool.close()
        await workers
        return probe.outcome(seconds: Measure.seconds(ContinuousClock.now - start))
    }

    public static func judgePool(_ o: PoolOutcome, size: Int, jobs: Int, _ lab: LabContext) {
        lab.expect(
            "the pool never ran more jobs at once than it has workers", o.maxConcurrent <= size,
            expected: "≤ \(size)", observed: "\(o.maxConcurrent)")
        lab.expect("under load the pool ran as many jobs at once as it has workers", o.maxConcurrent, equals: min(size, jobs))
        lab.expect("every submitted job ran", o.completed, equals: jobs)
        lab.expect(
            "no more threads than workers ran jobs", o.distinctThreads <= size,
            expected: "≤ \(size)", observed: "\(o.distinctThreads)")
    }

    public static func runOperationQueue(limit: Int, jobs: Int, jobMillis: Int) async -> PoolOutcome {
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = limit
        let probe = ConcurrencyProbe(fullAt: nil, jobMillis: jobMillis)
        let start = ContinuousClock.now
        for _ in 0..<jobs { queue.addOperation { probe.job() } }
        // waitUntilAllOperationsAreFinished blocks, so it waits on a thread of its own.
        await OSThreads.run(1) { _ in queue.waitUntilAllOperationsAreFinished() }
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

    public static func propagation(id: String) async -> Propagation {
        var p = await RequestContext.$requestID.withValue(id) {
            async let fromAsyncLet = RequestContext.requestID
            let children = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<4 { group.addTask { RequestContext.requestID } }
                var seen: [String?] = []
                for await v in group { seen.append(v) }
                return seen
            }
            let unstructured = await Task { RequestContext.requestID }.value
            let detached = await Task.detached { RequestContext.requestID }.value
            let dispatched = await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
                DispatchQueue.global().async { c.resume(returning: RequestContext.requestID) }
            }
            return Propagation(
                asyncLet: await fromAsyncLet, groupChildren: children, unstructured: unstructured,
                detached: detached, dispatchBlock: dispatched, outsideAfterwards: nil)
        }
        p.outsideAfterwards = RequestContext.requestID
        return p
    }

    public static func judgePropagation(_ p: Propagation, id: String, _ lab: LabContext) {
        func show(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "nil" }
        lab.check("async let sees the request id", p.asyncLet == id, expected: show(id), observed: show(p.asyncLet))
        lab.check(
            "every task-group child sees the request id", p.groupChildren.count == 4 && p.groupChildren.allSatisfy { $0 == id },
            expected: "4 × \(show(id))", observed: p.groupChildren.map(show).joined(separator: ", "))
        lab.check("Task {} copies the task-locals too", p.unstructured == id, expected: show(id), observed: show(p.unstructured))
        lab.check("Task.detached does not see it", p.detached == nil, expected: "nil", observed: show(p.detached))
        lab.check("a Dispatch block (no task at all) does not see it", p.dispatchBlock == nil, expected: "nil", observed: show(p.dispatchBlock))
        lab.check("after withValue returns the binding is gone", p.outsideAfterwards == nil, expected: "nil", observed: show(p.outsideAfterwards))
    }

    // MARK: concurrentPerform

    public struct PerformOutcome: Sendable {
        public var indicesRunOnce: Int
        public var totalRuns: Int
        public var distinctThreads: Int
    }

    public static func concurrentPerform(iterations: Int) -> PerformOutcome {
        let hits = Locked<[Int]>(Array(repeating: 0, count: iterations))
        let threads = Locked<Set<String>>([])
        DispatchQueue.concurrentPerform(iterations: iterations) { i in
            hits.withLock { $0[i] += 1 }
            let name = currentThreadName()
            threads.withLock { _ = $0.insert(name) }
        }
        let counts = hits.withLock { $0 }
        return PerformOutcome(
            indicesRunOnce: counts.filter { $0 == 1 }.count, totalRuns: counts.reduce(0, +),
            distinctThreads: threads.withLock { $0.count })
    }
}

/// The OS thread this code runs on, as a name (the pthread id).
func currentThreadName() -> String { "\(pthread_self())" }
