// Coroutines (tasks) against OS threads.
//
// A sleeping OS thread still owns a kernel thread and a stack (the kernel maps it lazily,
// but at least a few pages are touched per thread), and creating one is a system call. A
// suspended Swift task is a small heap object holding the state of the async function; a
// handful of cooperative threads (about one per core) run whichever tasks are ready. So ten
// thousand sleeping tasks are cheap, while ten thousand sleeping threads are expensive.
//
// How this lab measures it honestly in one process: each side runs on its own, after
// `malloc_trim` has given freed memory back to the kernel. Every sleeper checks in at a gate;
// the last one to arrive samples the resident memory while all N are alive (that is the
// peak), then opens the gate and all of them sleep. Memory per sleeper is the increase over
// the baseline divided by N. Each side is measured `rounds` times. The memory figures are the
// highest round (usually the first: later rounds reuse memory that Dispatch and the runtime
// keep cached, which is real too, but not the cost of a cold start); wall times are medians;
// the verdict compares medians, so one noisy moment does not decide it. (The task side's figure includes the gate's
// list of waiting continuations, a few bytes per task; the thread side's includes the
// `Thread` objects.) Each sleeper times its own sleep, so "they really slept" is judged by the
// shortest sleep any of them took, not by a side's wall time.
//
// Experiments: `sleepers` in the tens of thousands; `break=` plants one mistake on one side
// (sleepers that are never joined, a unit slip in the sleep, a buffer each task keeps), to
// see which check catches it.
import Dispatch
import Foundation
import LabKit
import Synchronization

public struct CoroutinesVsThreadsLab: Lab {
    static let sleepers = Knob.int(
        "sleepers", 1...100_000, default: 10_000, quick: 1000,
        help: "Concurrent sleepers run as Swift tasks (and as threads, up to max-threads).")
    static let maxThreads = Knob.int(
        "max-threads", 1...5000, default: 2000, quick: 200,
        help: "Cap on the OS-thread side, which gets min(sleepers, max-threads) threads.")
    static let sleepMillis = Knob.int(
        "sleep-ms", 1...10_000, default: 500, quick: 50,
        help: "How long each sleeper sleeps once all are alive, in milliseconds.")
    static let rounds = Knob.int(
        "rounds", 1...9, default: 3, quick: 3,
        help: "Times each side is measured: wall times are medians, memory figures the highest round, and the memory verdict compares medians.")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help:
            "Plant one mistake: forget-tasks (the sleepers are fire-and-forget Task {}s: the side returns once all are alive, before any has slept), forget-threads (the same with threads that are never joined), unit-slip (sleep-ms is passed where microseconds are meant: usleep(sleep-ms), .microseconds(sleep-ms)), buffer-per-task (each task sleeper keeps a 64 KiB buffer alive across its await, as if it had a stack of its own)."
    )

    /// Realistic mistakes, each planted in the lab's own code; the checks that catch each are
    /// listed in Tests/ConcurrencyLabsTests/ConcurrencyBreakerTests.swift.
    public enum Breaker: String, CaseIterable, Sendable {
        case none
        case forgetTasks = "forget-tasks"
        case forgetThreads = "forget-threads"
        case unitSlip = "unit-slip"
        case bufferPerTask = "buffer-per-task"
    }

    // The checks' names, for the tests that name the ones a breaker must fail.
    public static let tasksCompleted = "every task sleeper completed, every round"
    public static let threadsCompleted = "every thread sleeper completed, every round"
    public static let reallySlept = "the sleepers really slept (each took at least the sleep time)"
    public static let tasksLighter = "a sleeping task costs less memory than a sleeping thread"

    public static let info = LabInfo(
        id: "coroutines-vs-threads",
        title: "Coroutines against threads: N concurrent sleepers",
        phase: 4,
        teaches:
            "Thousands of sleeping tasks share a few OS threads and cost a small heap object each; the same number of sleeping threads cost a kernel thread and stack pages each. The lab measures wall time and resident memory per sleeper on both sides.",
        parameters: [sleepers.parameter, maxThreads.parameter, sleepMillis.parameter, rounds.parameter, breaker.parameter],
        source: "Sources/Labs/Concurrency/Phase04/CoroutinesVsThreads.swift"
    )
    public init() {}

    public struct SideOutcome: Sendable {
        public var sleepers: Int
        public var completed: Int
        public var seconds: Double
        /// Resident memory added at the moment all sleepers were alive.
        public var residentIncrease: Int
        public var osThreadsAdded: Int
        /// The shortest sleep a sleeper that completed timed itself taking (nil: none completed).
        public var shortestSleep: Duration?
        public init(sleepers: Int, completed: Int, seconds: Double, residentIncrease: Int, osThreadsAdded: Int, shortestSleep: Duration?) {
            self.sleepers = sleepers; self.completed = completed; self.seconds = seconds
            self.residentIncrease = residentIncrease; self.osThreadsAdded = osThreadsAdded; self.shortestSleep = shortestSleep
        }
        public var bytesPerSleeper: Double { sleepers > 0 ? Double(residentIncrease) / Double(sleepers) : 0 }
    }

    public func run(_ lab: LabContext) async throws {
        let n = lab[Self.sleepers]
        let threadCount = min(n, lab[Self.maxThreads])
        let sleepMs = lab[Self.sleepMillis]
        let rounds = lab[Self.rounds]
        let breaker = lab[Self.breaker]

        lab.step(
            "\(n) tasks and \(threadCount) OS threads each sleep \(sleepMs) ms",
            "Each side runs alone, \(rounds) time(s). Resident memory is sampled when every sleeper is alive; memory figures are the highest round, wall times the median."
                + (breaker == .none ? "" : " Broken on purpose (break=\(breaker.rawValue)).")
        )
        var taskRuns: [SideOutcome] = [], threadRuns: [SideOutcome] = []
        for _ in 0..<rounds {
            taskRuns.append(await Self.taskSleepers(n, sleepMs: sleepMs, breaker: breaker))
            threadRuns.append(await Self.threadSleepers(threadCount, sleepMs: sleepMs, breaker: breaker))
        }
        let taskTime = Self.medianSeconds(taskRuns), threadTime = Self.medianSeconds(threadRuns)
        let task = Self.peak(taskRuns), thread = Self.peak(threadRuns)

        lab.figure("tasks: wall time", taskTime * 1000, "ms")
        lab.figure("threads: wall time", threadTime * 1000, "ms")
        lab.figure("tasks: resident memory at the peak", Double(task.residentIncrease) / 1_048_576, "MiB")
        lab.figure("threads: resident memory at the peak", Double(thread.residentIncrease) / 1_048_576, "MiB")
        lab.figure("tasks: memory per sleeper", task.bytesPerSleeper / 1024, "KiB")
        lab.figure("threads: memory per sleeper", thread.bytesPerSleeper / 1024, "KiB")
        if task.bytesPerSleeper > 0 {
            lab.figure("memory per sleeper, thread ÷ task", thread.bytesPerSleeper / task.bytesPerSleeper, "×")
        }
        lab.figure(
            "wall time per sleeper, thread ÷ task",
            (threadTime / Double(max(threadCount, 1))) / (taskTime / Double(max(n, 1))), "×")
        lab.figure("tasks: OS threads added at the peak", Double(task.osThreadsAdded), "threads")
        lab.figure("threads: OS threads added at the peak", Double(thread.osThreadsAdded), "threads")

        Self.judge(tasks: taskRuns, threads: threadRuns, sleepMs: sleepMs, lab)
    }

    public static func judge(tasks: [SideOutcome], threads: [SideOutcome], sleepMs: Int, _ lab: LabContext) {
        let taskSleepers = tasks.map(\.sleepers).reduce(0, +), threadSleepers = threads.map(\.sleepers).reduce(0, +)
        lab.expect(tasksCompleted, tasks.map(\.completed).reduce(0, +), equals: taskSleepers)
        lab.expect(threadsCompleted, threads.map(\.completed).reduce(0, +), equals: threadSleepers)
        let shortest = (tasks + threads).compactMap(\.shortestSleep).min()
        lab.expect(
            reallySlept, shortest.map { $0 >= .milliseconds(sleepMs) } ?? false,
            expected: "every sleep ≥ \(sleepMs) ms",
            observed: shortest.map { String(format: "shortest sleep %.3f ms", Measure.seconds($0) * 1000) } ?? "no sleeper completed")
        let task = median(tasks), thread = median(threads)
        let fewest = min(task.sleepers, thread.sleepers)
        guard fewest >= minimumForMemory else {
            lab.step(
                "Memory per sleeper: not judged with \(fewest) sleeper(s) on a side",
                "Resident memory moves in 4 KiB pages and the runtime's own allocations; below \(minimumForMemory) sleepers a side that noise is larger than the difference being measured (and glibc may reuse a cached thread stack). Try sleepers=10000 max-threads=2000."
            )
            return
        }
        lab.expect(
            tasksLighter, task.bytesPerSleeper < thread.bytesPerSleeper,
            expected: "task < thread (bytes per sleeper, median)",
            observed: String(format: "task %.0f B, thread %.0f B", task.bytesPerSleeper, thread.bytesPerSleeper))
    }

    /// Sleepers a side needs before memory per sleeper means anything.
    public static let minimumForMemory = 100

    /// The run with the median memory per sleeper (its other figures come with it).
    static func median(_ runs: [SideOutcome]) -> SideOutcome {
        let sorted = runs.sorted { $0.bytesPerSleeper < $1.bytesPerSleeper }
        return sorted.isEmpty
            ? SideOutcome(sleepers: 0, completed: 0, seconds: 0, residentIncrease: 0, osThreadsAdded: 0, shortestSleep: nil)
            : sorted[(sorted.count - 1) / 2]
    }

    /// The run with the most memory per sleeper: the side's peak.
    static func peak(_ runs: [SideOutcome]) -> SideOutcome {
        runs.max { $0.bytesPerSleeper < $1.bytesPerSleeper }
            ?? SideOutcome(sleepers: 0, completed: 0, seconds: 0, residentIncrease: 0, osThreadsAdded: 0, shortestSleep: nil)
    }

    static func medianSeconds(_ runs: [SideOutcome]) -> Double {
        let sorted = runs.map(\.seconds).sorted()
        return sorted.isEmpty ? 0 : sorted[(sorted.count - 1) / 2]
    }

    // MARK: The two sides

    /// What the last sleeper to arrive records: everyone is alive at that moment.
    final class Peak: Sendable {
        let arrived = AtomicCounter(), completed = AtomicCounter()
        let sample = Locked<(resident: Int, threads: Int)>((0, 0))
        let shortest = Locked<Duration?>(nil)
        /// Opened by the last sleeper to arrive, for a side that waits for that and no more.
        let alive = AsyncGate()
        func record() { sample.withLock { $0 = (Measure.residentBytes(), osThreadCount()) } }
        func slept(_ d: Duration) {
            completed.add()
            shortest.withLock { $0 = min($0 ?? d, d) }
        }
        /// The side's outcome as it stands: sleepers that complete later are not in it.
        func outcome(_ n: Int, start: ContinuousClock.Instant, baseline: (Int, Int)) -> SideOutcome {
            let s = sample.withLock { $0 }
            return SideOutcome(
                sleepers: n, completed: completed.value, seconds: Measure.seconds(ContinuousClock.now - start),
                residentIncrease: max(0, s.resident - baseline.0), osThreadsAdded: s.threads - baseline.1,
                shortestSleep: shortest.withLock { $0 })
        }
    }

    public static func taskSleepers(_ n: Int, sleepMs: Int, breaker: Breaker = .none) async -> SideOutcome {
        await settle()
        let baseline = (Measure.residentBytes(), osThreadCount())
        let peak = Peak(), gate = AsyncGate()
        // forget-tasks does not wait for its sleepers: every one waits at the gate, which the
        // side opens after it has read its outcome (so "none had slept" is what it reads).
        let forget = breaker == .forgetTasks
        let sleep: Duration = breaker == .unitSlip ? .microseconds(sleepMs) : .milliseconds(sleepMs)
        let sleeper: @Sendable () async -> Void = {
            // buffer-per-task's mistake: 64 KiB written and kept across the await.
            let buffer = breaker == .bufferPerTask ? [UInt8](repeating: 1, count: 64 << 10) : []
            if peak.arrived.add() == n {
                peak.record()
                if forget { peak.alive.open() } else { gate.open() }
            }
            await gate.wait()
            let t0 = ContinuousClock.now
            do {
                try await Task.sleep(for: sleep)
                peak.slept(ContinuousClock.now - t0)
            } catch {}
            withExtendedLifetime(buffer) {}
        }
        let start = ContinuousClock.now
        if forget {
            for _ in 0..<n { Task(operation: sleeper) }
            await peak.alive.wait()
            defer { gate.open() }
            return peak.outcome(n, start: start, baseline: baseline)
        }
        await withDiscardingTaskGroup { group in
            for _ in 0..<n { group.addTask(operation: sleeper) }
        }
        return peak.outcome(n, start: start, baseline: baseline)
    }

    public static func threadSleepers(_ n: Int, sleepMs: Int, breaker: Breaker = .none) async -> SideOutcome {
        await settle()
        let baseline = (Measure.residentBytes(), osThreadCount())
        let peak = Peak(), gate = DispatchSemaphore(value: 0)
        let forget = breaker == .forgetThreads
        let sleepMicros = breaker == .unitSlip ? sleepMs : sleepMs * 1000
        let sleeper: @Sendable (Int) -> Void = { _ in
            if peak.arrived.add() == n {
                peak.record()
                if forget { peak.alive.open() } else { for _ in 0..<n { gate.signal() } }
            }
            gate.wait()
            let t0 = ContinuousClock.now
            usleep(UInt32(sleepMicros))
            peak.slept(ContinuousClock.now - t0)
        }
        let start = ContinuousClock.now
        if forget {
            // The mistake: threads started and never joined.
            Task { await OSThreads.run(n, sleeper) }
            await peak.alive.wait()
            defer { for _ in 0..<n { gate.signal() } }
            return peak.outcome(n, start: start, baseline: baseline)
        }
        await OSThreads.run(n, sleeper)
        return peak.outcome(n, start: start, baseline: baseline)
    }

    /// Before a baseline: lets threads of the previous side finish exiting (the thread count
    /// stops changing), then hands freed memory back to the kernel, so the next side's
    /// increase is its own and not hidden by reused free lists.
    static func settle() async {
        for _ in 0..<200 {
            let before = osThreadCount()
            try? await Task.sleep(for: .milliseconds(5))
            if osThreadCount() == before { break }
        }
        releaseFreedMemory()
    }

    /// (glibc's `malloc_trim`, looked up at run time: Swift's Glibc module does not export it.)
    static func releaseFreedMemory() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let handle = dlopen(nil, RTLD_NOW) else { return }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
    }

    /// The number of OS threads in this process (Linux: `Threads:` in /proc/self/status).
    static func osThreadCount() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("Threads:") {
            return line.split(separator: "\t").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.first ?? 0
        }
        return 0
    }
}
