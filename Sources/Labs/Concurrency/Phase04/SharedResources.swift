// Shared resources: one counter, many threads.
//
// `counter += 1` is three steps: read the value, add one, write it back. When two threads
// read the same value before either writes, both write value+1 and one increment is lost
// (a "lost update"). Swift 6 refuses to compile such a data race on a plain `var`, so the
// racy version here goes through an `UnsafeMutablePointer`, which opts out of the checks:
// exactly how races sneak into real code. Two fixes, both from the Synchronization module:
//  - `Mutex`: only one thread at a time runs the read-add-write (a critical section);
//  - `Atomic`: the processor does the read-add-write as one indivisible instruction.
// Both give an exact total; the racy one gives whatever the interleaving gave, which is why
// the lab reports its lost updates and never asserts how many there are.
import Foundation
import LabKit
import Synchronization

public struct SharedResourcesLab: Lab {
    static let threads = Knob.int("threads", 1...64, default: 4, quick: 2,
                                  help: "Threads incrementing the counter at once. Try more threads than cores: every contended Mutex lock on Linux is a futex call, so it slows down sharply.")
    static let increments = Knob.int("increments", 1...5_000_000, default: 250_000, quick: 50_000,
                                     help: "Increments per thread, for each of the three counters.")

    public static let info = LabInfo(
        id: "shared-resources",
        title: "Shared resources: a counter, a Mutex and an Atomic",
        phase: 4,
        teaches: "Many threads incrementing one counter lose updates when the read-add-write is not protected; a Mutex or an Atomic makes the total exact. The lab reports how many updates the unsynchronised counter lost.",
        parameters: [threads.parameter, increments.parameter],
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
        let expected = threads * increments
        lab.figure("cores", Double(ProcessInfo.processInfo.activeProcessorCount), "cores")

        lab.step("Unsynchronised: \(threads) threads × \(increments) increments of one Int through a pointer",
                 "Each increment is a separate load and store; the threads start together behind a barrier so they overlap.")
        let racy = await Self.racyCount(threads: threads, increments: increments)
        lab.figure("unsynchronised: final counter", Double(racy.total), "increments")
        lab.figure("unsynchronised: lost updates", Double(racy.tallies - racy.total), "increments")
        lab.figure("unsynchronised: lost share", racy.tallies > 0 ? Double(racy.tallies - racy.total) / Double(racy.tallies) * 100 : 0, "%")
        lab.figure("unsynchronised: time per increment", racy.seconds / Double(max(expected, 1)) * 1e9, "ns")

        lab.step("With a Mutex", "Each increment takes the lock, adds one, releases it.")
        let mutex = await Self.mutexCount(threads: threads, increments: increments)
        lab.figure("mutex: time per increment", mutex.seconds / Double(max(expected, 1)) * 1e9, "ns")

        lab.step("With an Atomic", "Each increment is one wrappingAdd: an indivisible read-add-write.")
        let atomic = await Self.atomicCount(threads: threads, increments: increments)
        lab.figure("atomic: time per increment", atomic.seconds / Double(max(expected, 1)) * 1e9, "ns")

        Self.judge(Counts(racyTallies: racy.tallies, racyTotal: racy.total, mutexTotal: mutex.total, atomicTotal: atomic.total),
                   expected: expected, lab)
    }

    /// The lab's verdict on the three counters, given the total that should have been reached.
    public static func judge(_ c: Counts, expected: Int, _ lab: LabContext) {
        lab.expect("the Mutex-protected counter is exact", c.mutexTotal, equals: expected)
        lab.expect("the Atomic counter is exact", c.atomicTotal, equals: expected)
        lab.expect("every thread performed all its unsynchronised increments", c.racyTallies, equals: expected)
        let lost = c.racyTallies - c.racyTotal
        lab.expect("the racy counter can lose updates but never invents one (lost = expected − observed ≥ 0)",
                   lost >= 0 && lost == expected - c.racyTotal,
                   expected: "0 ≤ lost = \(expected) − \(c.racyTotal) = \(expected - c.racyTotal)",
                   observed: "lost \(lost) (tallies \(c.racyTallies) − counter \(c.racyTotal))")
    }

    // MARK: The three counters

    /// Lets the pointer cross into the threads. `@unchecked` is the lie that makes the race compile.
    struct RacyCell: @unchecked Sendable { let pointer: UnsafeMutablePointer<Int> }

    /// A deliberate, separate load and store (not inlined, so the optimiser keeps both).
    @inline(never)
    static func racyIncrement(_ p: UnsafeMutablePointer<Int>) {
        let v = p.pointee
        p.pointee = v &+ 1
    }

    public static func racyCount(threads: Int, increments: Int) async -> (total: Int, tallies: Int, seconds: Double) {
        let cell = RacyCell(pointer: .allocate(capacity: 1))
        cell.pointer.initialize(to: 0)
        defer { cell.pointer.deallocate() }
        let tallies = AtomicCounter()
        let seconds = await onThreadsTogether(threads) { _ in
            var mine = 0
            for _ in 0..<increments {
                racyIncrement(cell.pointer)
                mine += 1
            }
            tallies.add(mine)
        }
        return (cell.pointer.pointee, tallies.value, seconds)
    }

    public static func mutexCount(threads: Int, increments: Int) async -> (total: Int, seconds: Double) {
        let counter = Locked(0)
        let seconds = await onThreadsTogether(threads) { _ in
            for _ in 0..<increments { counter.withLock { $0 += 1 } }
        }
        return (counter.withLock { $0 }, seconds)
    }

    public static func atomicCount(threads: Int, increments: Int) async -> (total: Int, seconds: Double) {
        let counter = AtomicCounter()
        let seconds = await onThreadsTogether(threads) { _ in
            for _ in 0..<increments { counter.add() }
        }
        return (counter.value, seconds)
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
