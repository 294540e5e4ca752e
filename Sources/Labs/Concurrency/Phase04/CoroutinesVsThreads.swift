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
// `Thread` objects.)
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
        help: "Times each side is measured; the figures are medians.")

    public static let info = LabInfo(
        id: "coroutines-vs-threads",
        title: "Coroutines against threads: N concurrent sleepers",
        phase: 4,
        teaches:
            "Thousands of sleeping tasks share a few OS threads and cost a small heap object each; the same number of sleeping threads cost a kernel thread and stack pages each. The lab measures wall time and resident memory per sleeper on both sides.",
        parameters: [sleepers.parameter, maxThreads.parameter, sleepMillis.parameter, rounds.parameter],
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
        public init(sleepers: Int, completed: Int, seconds: Double, residentIncrease: Int, osThreadsAdded: Int) {
            self.sleepers = sleepers; self.completed = completed; self.seconds = seconds
            self.residentIncrease = residentIncrease; self.osThreadsAdded = osThreadsAdded
        }
        public var bytesPerSleeper: Double { sleepers > 0 ? Double(residentIncrease) / Double(sleepers) : 0 }
    }

    public func run(_ lab: LabContext) async throws {
        let n = lab[Self.sleepers]
        let threadCount = min(n, lab[Self.maxThreads])
        let sleepMs = lab[Self.sleepMillis]
        let rounds = lab[Self.rounds]

        lab.step(
            "\(n) tasks and \(threadCount) OS threads each sleep \(sleepMs) ms",
            "Each side runs alone, \(rounds) time(s). Resident memory is sampled when every sleeper is alive; memory figures are the highest round, wall times the median."
        )
        var taskRuns: [SideOutcome] = [], threadRuns: [SideOutcome] = []
        for _ in 0..<rounds {
            taskRuns.append(await Self.taskSleepers(n, sleepMs: sleepMs))
            threadRuns.append(await Self.threadSleepers(threadCount, sleepMs: sleepMs))
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
        lab.expect("every task sleeper completed, every round", tasks.map(\.completed).reduce(0, +), equals: taskSleepers)
        lab.expect("every thread sleeper completed, every round", threads.map(\.completed).reduce(0, +), equals: threadSleepers)
        let minimum = Double(sleepMs) / 1000
        let shortest = (tasks + threads).map(\.seconds).min() ?? 0
        lab.expect(
            "the sleepers really slept (each side took at least the sleep time)", shortest >= minimum,
            expected: "≥ \(sleepMs) ms", observed: String(format: "shortest side %.1f ms", shortest * 1000))
        let task = median(tasks), thread = median(threads)
        lab.expect(
            "a sleeping task costs less memory than a sleeping thread", task.bytesPerSleeper < thread.bytesPerSleeper,
            expected: "task < thread (bytes per sleeper, median)",
            observed: String(format: "task %.0f B, thread %.0f B", task.bytesPerSleeper, thread.bytesPerSleeper))
    }

    /// The run with the median memory per sleeper (its other figures come with it).
    static func median(_ runs: [SideOutcome]) -> SideOutcome {
        let sorted = runs.sorted { $0.bytesPerSleeper < $1.bytesPerSleeper }
        return sorted.isEmpty
            ? SideOutcome(sleepers: 0, completed: 0, seconds: 0, residentIncrease: 0, osThreadsAdded: 0)
            : sorted[(sorted.count - 1) / 2]
    }

    /// The run with the most memory per sleeper: the side's peak.
    static func peak(_ runs: [SideOutcome]) -> SideOutcome {
        runs.max { $0.bytesPerSleeper < $1.bytesPerSleeper }
            ?? SideOutcome(sleepers: 0, completed: 0, seconds: 0, residentIncrease: 0, osThreadsAdded: 0)
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
        func record() { sample.withLock { $0 = (Measure.residentBytes(), osThreadCount()) } }
    }

    public static func taskSleepers(_ n: Int, sleepMs: Int) async -> SideOutcome {
        await settle()
        let baseline = (Measure.residentBytes(), osThreadCount())
        let peak = Peak(), gate = AsyncGate()
        let start = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            for _ in 0..<n {
                group.addTask {
                    if peak.arrived.add() == n {
                        peak.record()
                        gate.open()
                    } else {
                        await gate.wait()
                    }
                    do {
                        try await Task.sleep(for: .milliseconds(sleepMs))
                        peak.completed.add()
                    } catch {}
                }
            }
        }
        let seconds = Measure.seconds(ContinuousClock.now - start)
        let s = peak.sample.withLock { $0 }
        return SideOutcome(
            sleepers: n, completed: peak.completed.value, seconds: seconds,
            residentIncrease: max(0, s.resident - baseline.0), osThreadsAdded: s.threads - baseline.1)
    }

    public static func threadSleepers(_ n: Int, sleepMs: Int) async -> SideOutcome {
        await settle()
        let baseline = (Measure.residentBytes(), osThreadCount())
        let peak = Peak(), gate = DispatchSemaphore(value: 0)
        let start = ContinuousClock.now
        await OSThreads.run(n) { _ in
            if peak.arrived.add() == n {
                peak.record()
                for _ in 1..<max(n, 1) { gate.signal() }
            } else {
                gate.wait()
            }
            usleep(UInt32(sleepMs * 1000))
            peak.completed.add()
        }
        let seconds = Measure.seconds(ContinuousClock.now - start)
        let s = peak.sample.withLock { $0 }
        return SideOutcome(
            sleepers: n, completed: peak.completed.value, seconds: seconds,
            residentIncrease: max(0, s.resident - baseline.0), osThreadsAdded: s.threads - baseline.1)
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
