// Shared resources: one counter, many threads.
//
// `counter += 1` is three steps: read the value, add one, write it back. When two threads
// read the same value before either writes, both write value+1 and one increment is lost
// (a "lost update"). Swift 6 refuses to compile such a data race on a plain `var`, so the
// racy version here goes through an `UnsafeMutablePointer`, which opts out of the checks:
// exactly how races sneak into real code. Two fixes, both from the Synchronization module:
//  - `Mutex`: only one thread at a time runs the read-add-write (a critical section);
//  - `Atomic`: the processor does the read-add-write as one indivisible instruction.
// Both give an exact total. The racy one gives whatever the interleaving gave: the lab runs
// it until it sees an update lost (asserted: the race is real, not a story), and with one
// thread or one core, where no two increments can overlap, it says "not observed".
//
// Experiments: `threads` beyond the core count; `work=0` for a bare increment, whose
// window is one instruction wide (count the runs it needs on a busy machine); `break=`
// swaps one counter for a wrong one, to see which check catches it.
import Foundation
import LabKit
import Synchronization

public struct SharedResourcesLab: Lab {
    static let threads = Knob.int(
        "threads", 1...16, default: 4, quick: 2,
        help:
            "Threads incrementing the counter at once. Try more threads than cores (8 on two cores): a contended Mutex lock on Linux waits in the kernel (a futex), and a thread pre-empted while it holds the lock makes every other one wait for it, so an increment can cost a thousand times more. The Atomic does not care."
    )
    static let increments = Knob.int(
        "increments", 1...5_000_000, default: 250_000, quick: 20_000,
        help: "Increments per thread, for each of the three counters.")
    static let work = Knob.int(
        "work", 0...1_000, default: 16, quick: 16,
        help:
            "Steps of arithmetic the unsynchronised counter does between reading the value and writing it back, like a handler that reads a balance, computes and stores it. 0 is a bare increment: its window is one instruction wide, so a loaded machine that runs the threads in turns rarely pre-empts one inside it (a run that loses nothing is retried with more increments and double the work, up to 1,000, for at most ten runs or 20 s of them, 5 s in quick mode)."
    )
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help:
            "Break one counter on purpose: mutex-split (read and write in two separate critical sections), atomic-split (a load, then a store), racy-serialised (the 'racy' threads run one after another, so nothing is lost)."
    )

    /// Ways to break the experiment, each caught by exactly one check.
    public enum Breaker: String, CaseIterable, Sendable {
        case none
        case mutexSplit = "mutex-split"
        case atomicSplit = "atomic-split"
        case racySerialised = "racy-serialised"
    }
    /// Racy runs tried before concluding that no update was lost, and the time they may take
    /// together (a run that starts within the budget finishes).
    static let attempts = 10
    static let budgetSeconds = 20.0
    static let quickBudgetSeconds = 5.0

    public static let info = LabInfo(
        id: "shared-resources",
        title: "Shared resources: a counter, a Mutex and an Atomic",
        phase: 4,
        teaches:
            "Many threads incrementing one counter lose updates when the read-add-write is not protected; a Mutex or an Atomic makes the total exact. The lab reports how many updates the unsynchronised counter lost.",
        parameters: [threads.parameter, increments.parameter, work.parameter, breaker.parameter],
        source: "Sources/Labs/Concurrency/Phase04/SharedResources.swift"
    )
    public init() {}

    public struct Counts: Sendable {
        /// Increments each thread performed, counted by the thread itself (no sharing).
        public var racyTallies: Int
        public var racyTotal: Int
        public var mutexTotal: Int
        public var atomicTotal: Int
        public init(racyTallies: Int, racyTotal: Int, mutexTotal: Int, atomicTotal: Int) {
            self.racyTallies = racyTallies; self.racyTotal = racyTotal
            self.mutexTotal = mutexTotal; self.atomicTotal = atomicTotal
        }
    }

    public func run(_ lab: LabContext) async throws {
        let threads = lab[Self.threads]
        let increments = lab[Self.increments]
        let work = lab[Self.work]
        let breaker = lab[Self.breaker]
        let expected = threads * increments
        let cores = ProcessInfo.processInfo.activeProcessorCount
        lab.figure("cores", Double(cores), "cores")

        lab.step(
            "Unsynchronised: \(threads) threads × \(increments) increments of one Int through a pointer",
            "Each increment is a load, \(work) steps of arithmetic, then a store; the threads start together behind a barrier so they overlap.")
        // A lost update needs two threads on two cores at the same moment; a loaded machine
        // can run the whole burst of one thread before the other starts, so try again.
        let canOverlap = threads > 1 && cores > 1
        // Each retry doubles the increments, so the threads run longer and are likelier to share
        // the cores, and doubles the work between read and write, which widens the window (the
        // report's counts are those of the last run).
        // The retries stop after `attempts` runs or once the racy runs have taken the time
        // budget, whichever comes first: a counter that really cannot lose (threads serialised)
        // must not keep the lab busy for minutes.
        let budget = lab.quick ? Self.quickBudgetSeconds : Self.budgetSeconds
        var racy = await Self.racyCount(threads: threads, increments: increments, work: work, serialised: breaker == .racySerialised)
        var spent = racy.seconds
        var tries = 1
        var lastWork = work
        while canOverlap && racy.total == racy.tallies && tries < Self.attempts && spent < budget {
            lastWork = min(max(work, 1) << tries, 1_000)
            racy = await Self.racyCount(
                threads: threads, increments: min(increments << tries, 1 << 24), work: lastWork, serialised: breaker == .racySerialised)
            spent += racy.seconds
            tries += 1
        }
        lab.figure("unsynchronised: runs until an update was lost", Double(tries), "runs")
        lab.figure("unsynchronised: work steps in the last run", Double(lastWork), "steps")
        lab.figure("unsynchronised: final counter", Double(racy.total), "increments")
        lab.figure("unsynchronised: lost updates", Double(racy.tallies - racy.total), "increments")
        lab.figure("unsynchronised: lost share", racy.tallies > 0 ? Double(racy.tallies - racy.total) / Double(racy.tallies) * 100 : 0, "%")
        lab.figure("unsynchronised: time per increment (with its work)", racy.seconds / Double(max(expected, 1)) * 1e9, "ns")

        lab.step(
            "With a Mutex",
            breaker == .mutexSplit
                ? "Broken on purpose: each increment reads under the lock, releases it, then writes under it again."
                : "Each increment takes the lock, adds one, releases it.")
        let mutex = await Self.mutexCount(threads: threads, increments: increments, split: breaker == .mutexSplit)
        lab.figure("mutex: time per increment", mutex.seconds / Double(max(expected, 1)) * 1e9, "ns")

        lab.step(
            "With an Atomic",
            breaker == .atomicSplit
                ? "Broken on purpose: an atomic load, then an atomic store: two indivisible steps are not one."
                : "Each increment is one wrappingAdd: an indivisible read-add-write.")
        let atomic = await Self.atomicCount(threads: threads, increments: increments, split: breaker == .atomicSplit)
        lab.figure("atomic: time per increment", atomic.seconds / Double(max(expected, 1)) * 1e9, "ns")

        Self.judge(
            Counts(racyTallies: racy.tallies, racyTotal: racy.total, mutexTotal: mutex.total, atomicTotal: atomic.total),
            expected: expected, canOverlap: canOverlap, tries: tries, lab)
        if !canOverlap {
            lab.step(
                "Lost updates: not observed, and not expected",
                threads > 1
                    ? "This machine has one core: the threads take turns, so no two increments overlap." : "One thread has no one to race with; try threads=4.")
        }
    }

    /// The lab's verdict on the three counters, given the total that should have been reached.
    public static func judge(_ c: Counts, expected: Int, canOverlap: Bool, tries: Int, _ lab: LabContext) {
        lab.expect("the Mutex-protected counter is exact", c.mutexTotal, equals: expected)
        lab.expect("the Atomic counter is exact", c.atomicTotal, equals: expected)
        if canOverlap {
            let lost = c.racyTallies - c.racyTotal
            lab.check(
                "the unsynchronised counter lost updates (the race is real)", lost > 0,
                expected: "a final count below the \(c.racyTallies) increments the threads performed",
                observed: lost > 0
                    ? "\(c.racyTotal): \(lost) updates lost (run \(tries))"
                    : "\(c.racyTotal) in each of \(tries) run(s): no update lost")
        }
    }

    // MARK: The three counters

    /// Lets the pointer cross into the threads. `@unchecked` is the lie that makes the race compile.
    struct RacyCell: @unchecked Sendable { let pointer: UnsafeMutablePointer<Int> }

    /// A deliberate, separate load and store (not inlined, so the optimiser keeps both), with
    /// `work` steps of a linear congruential generator between them: the window in which
    /// another thread's increment is overwritten. The comparison keeps the steps from being
    /// optimised away; the knob stops at 1,000, so the result is always `v + 1`.
    @inline(never)
    static func racyIncrement(_ p: UnsafeMutablePointer<Int>, work: Int) {
        let v = p.pointee
        var x = v
        for _ in 0..<work { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        p.pointee = x == Int.min && work > 1_000 ? v : v &+ 1
    }

    /// `serialised` (a breaker) runs the threads one at a time: the same code, no overlap.
    public static func racyCount(threads: Int, increments: Int, work: Int = 0, serialised: Bool = false) async -> (total: Int, tallies: Int, seconds: Double) {
        let cell = RacyCell(pointer: .allocate(capacity: 1))
        cell.pointer.initialize(to: 0)
        defer { cell.pointer.deallocate() }
        let tallies = AtomicCounter()
        let turn = Locked(0)
        let seconds = await onThreadsTogether(threads) { i in
            if serialised { while turn.withLock({ $0 }) != i { sched_yield() } }
            defer { if serialised { turn.withLock { $0 += 1 } } }
            var mine = 0
            for _ in 0..<increments {
                racyIncrement(cell.pointer, work: work)
                mine += 1
            }
            tallies.add(mine)
        }
        return (cell.pointer.pointee, tallies.value, seconds)
    }

    public static func mutexCount(threads: Int, increments: Int, split: Bool = false) async -> (total: Int, seconds: Double) {
        let counter = Locked(0)
        let arrived = AtomicCounter()
        let seconds = await onThreadsTogether(threads) { _ in
            if split {
                for n in 0..<increments {
                    let v = counter.withLock { $0 }
                    if n == 0 { Self.meet(arrived, threads) }
                    counter.withLock { $0 = v &+ 1 }
                }
            } else {
                for _ in 0..<increments { counter.withLock { $0 += 1 } }
            }
        }
        return (counter.withLock { $0 }, seconds)
    }

    public static func atomicCount(threads: Int, increments: Int, split: Bool = false) async -> (total: Int, seconds: Double) {
        let counter = AtomicCounter()
        let arrived = AtomicCounter()
        let seconds = await onThreadsTogether(threads) { _ in
            if split {
                for n in 0..<increments {
                    let v = counter.value
                    if n == 0 { Self.meet(arrived, threads) }
                    counter.store(v &+ 1)
                }
            } else {
                for _ in 0..<increments { counter.add() }
            }
        }
        return (counter.value, seconds)
    }

    /// The broken counters' first increment: every thread reads, then waits here until all
    /// have read, then writes. Their split read-and-write then loses updates on any machine,
    /// loaded or not (on their own they lose them only when threads really overlap).
    static func meet(_ arrived: AtomicCounter, _ count: Int) {
        arrived.add()
        while arrived.value < count { sched_yield() }
    }

    /// Runs `body` on `count` OS threads that wait for each other at a start line, so they
    /// really overlap; returns the wall time from the start line to the last one finishing.
    static func onThreadsTogether(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async -> Double {
        let ready = AtomicCounter()
        let started = Locked<ContinuousClock.Instant?>(nil)
        await OSThreads.run(count) { i in
            if ready.add() == count { started.withLock { $0 = ContinuousClock.now } }
            while ready.value < count { sched_yield() }
            body(i)
        }
        let start = started.withLock { $0 } ?? ContinuousClock.now
        return Measure.seconds(ContinuousClock.now - start)
    }
}
