// Coroutines, the Swift way.
//
// Kotlin's `suspend fun` is Swift's `async func`; a coroutine scope is a task group or an
// `async let`; a `Flow` is an `AsyncSequence` (here an `AsyncStream` with `map`/`filter`);
// a `Channel` is `AsyncChannel` from swift-async-algorithms. Structured concurrency makes
// three promises, and this lab watches each one being kept:
//  - cancellation flows down the tree: cancel a parent and every child sees it (an
//    unstructured `Task {}` is not part of the tree, so it does not);
//  - a bounded channel pushes back: `send` suspends a fast producer until the slow consumer
//    has room, so the producer is never more than the buffer (plus the one item in the
//    consumer's hands) ahead. An unbounded `AsyncStream` never suspends its producer;
//  - nothing is lost: every child's result arrives, every item sent is received.
import AsyncAlgorithms
import Foundation
import LabKit
import Synchronization

public struct CoroutinesLab: Lab {
    static let children = Knob.int(
        "children", 1...5000, default: 1000, quick: 100,
        help: "Child tasks started under the parent that gets cancelled (and that compute squares).")
    static let items = Knob.int(
        "items", 1...100_000, default: 2000, quick: 300,
        help: "Numbers sent through the channel and streamed through the flow.")
    static let buffer = Knob.int(
        "buffer", 0...256, default: 4, quick: 4,
        help: "Bounded buffer after the channel (0: a bare rendezvous channel); the producer's lead stays ≤ buffer + 1.")
    static let consumerDelay = Knob.int(
        "consumer-delay-us", 0...100_000, default: 200, quick: 100,
        help: "How long the slow consumer sleeps per item, in microseconds.")

    public static let info = LabInfo(
        id: "coroutines",
        title: "Coroutines: async/await, task groups, flows and channels",
        phase: 4,
        teaches:
            "Cancelling a parent task cancels every child (and not an unstructured Task {}); a bounded AsyncChannel suspends a fast producer so it never gets more than the buffer ahead; an AsyncStream map/filter flow gives the same result as the eager pipeline.",
        parameters: [children.parameter, items.parameter, buffer.parameter, consumerDelay.parameter],
        source: "Sources/Labs/Concurrency/Phase04/Coroutines.swift"
    )
    public init() {}

    public func run(_ lab: LabContext) async throws {
        let children = lab[Self.children]
        let items = lab[Self.items]
        let buffer = lab[Self.buffer]
        let delay = lab[Self.consumerDelay]

        // 1. Cancellation goes down the tree.
        lab.step(
            "Cancel a parent task",
            "A parent starts \(children) children in a task group, each sleeping 30 s, plus one unstructured Task {}; once all children are running the parent is cancelled."
        )
        let c = await Self.cancelParent(children: children)
        lab.figure("children started before the cancel", Double(c.started), "tasks")
        lab.figure("time from cancel to the parent returning", c.secondsToFinish * 1000, "ms")
        Self.judgeCancellation(c, children: children, lab)

        // 2. Every child's result arrives.
        lab.step(
            "Collect results from a task group",
            "\(children) children each compute i*i concurrently; the group gathers them in completion order.")
        let squares = await Self.squaresInGroup(n: children)
        lab.expect("every child's result arrived", squares.count, equals: children)
        lab.expect("the results sum to n(n+1)(2n+1)/6", squares.sum, equals: children * (children + 1) * (2 * children + 1) / 6)

        // 3. Backpressure.
        lab.step(
            "A fast producer and a slow consumer over a bounded AsyncChannel",
            "The producer sends \(items) numbers as fast as it can; the consumer sleeps \(delay) µs per item. The channel is a rendezvous; buffer=\(buffer) adds a bounded buffer stage. Watch the producer's lead."
        )
        let bounded = await Self.measureLead(.channel(buffer: buffer), items: items, consumerDelayMicros: delay)
        lab.figure("bounded channel: producer's max lead", Double(bounded.maxLead), "items")
        lab.figure("bounded channel: run time", bounded.seconds * 1000, "ms")
        Self.judgeBackpressure(bounded, bound: buffer + 1, items: items, lab)

        lab.step(
            "The same through an unbounded AsyncStream",
            "yield() never suspends, so nothing slows the producer down: its lead is limited only by how fast it runs.")
        let unbounded = await Self.measureLead(.unboundedStream, items: items, consumerDelayMicros: delay)
        lab.figure("unbounded stream: producer's max lead", Double(unbounded.maxLead), "items")
        lab.expect("every item yielded to the unbounded stream arrived too", unbounded.received, equals: items)
        // The contrast's other side: without backpressure the producer does run ahead. It
        // can only be seen when the consumer is slower and there are more items than the bound.
        if delay > 0 && items > buffer + 1 {
            lab.expect(
                "the unbounded stream let the producer run further ahead than the bound", unbounded.maxLead > buffer + 1,
                expected: "max lead > \(buffer + 1)", observed: "max lead \(unbounded.maxLead)")
        } else {
            lab.step(
                "Unbounded lead: not observable with these knobs",
                delay == 0 ? "consumer-delay-us=0: the consumer keeps up, so neither side builds a lead." : "items ≤ buffer+1: no lead can exceed the bound.")
        }

        // 4. A flow pipeline.
        lab.step(
            "A flow: AsyncStream → map → filter → chunks",
            "Squares of 1…\(items) that are 1 mod 3, computed lazily as they stream, then summed in chunks of 10 with AsyncAlgorithms' chunks(ofCount:).")
        let flow = await Self.flowPipeline(n: items)
        let eager = Self.eagerPipeline(n: items)
        lab.figure("flow elements", Double(flow.values.count), "items")
        lab.check(
            "the streamed map/filter equals the eager Array pipeline", flow.values == eager.values,
            expected: Self.describe(eager.values), observed: Self.describe(flow.values))
        lab.check(
            "chunked sums equal the eager chunked sums", flow.chunkSums == eager.chunkSums,
            expected: Self.describe(eager.chunkSums), observed: Self.describe(flow.chunkSums))
    }

    // MARK: Cancellation

    public struct CancellationOutcome: Sendable {
        public var started = 0
        public var cancelled = 0
        public var completed = 0
        public var parentSawCancellation = false
        public var unstructuredWasCancelled = true
        public var secondsToFinish = 0.0
    }

    public static func cancelParent(children: Int, childSleep: Duration = .seconds(30)) async -> CancellationOutcome {
        let started = AtomicCounter(), cancelled = AtomicCounter(), completed = AtomicCounter()
        let loose = Locked<Task<Void, Never>?>(nil)
        let parent = Task {
            // Not a child: `Task {}` copies priority and task-locals, but not cancellation.
            loose.withLock { $0 = Task { try? await Task.sleep(for: childSleep) } }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<children {
                    group.addTask {
                        started.add()
                        do {
                            try await Task.sleep(for: childSleep)
                            completed.add()
                        } catch is CancellationError {
                            cancelled.add()
                        } catch {}
                    }
                }
            }
            return Task.isCancelled
        }
        _ = await waitUntil(timeout: .seconds(20)) { started.value == children }
        let t0 = ContinuousClock.now
        parent.cancel()
        var outcome = CancellationOutcome()
        outcome.parentSawCancellation = await parent.value
        outcome.secondsToFinish = Measure.seconds(ContinuousClock.now - t0)
        let looseTask = loose.withLock { $0 }
        outcome.unstructuredWasCancelled = looseTask?.isCancelled ?? true
        looseTask?.cancel()
        outcome.started = started.value
        outcome.cancelled = cancelled.value
        outcome.completed = completed.value
        return outcome
    }

    public static func judgeCancellation(_ c: CancellationOutcome, children: Int, _ lab: LabContext) {
        lab.expect("every child observed the parent's cancellation", c.cancelled, equals: children)
        lab.expect("no child slept to the end", c.completed, equals: 0)
        lab.expect("the parent itself saw Task.isCancelled", c.parentSawCancellation, equals: true)
        lab.expect("an unstructured Task {} started inside was not cancelled with it", c.unstructuredWasCancelled, equals: false)
    }

    // MARK: Results

    public static func squaresInGroup(n: Int) async -> (count: Int, sum: Int) {
        await withTaskGroup(of: Int.self) { group in
            for i in stride(from: 1, through: n, by: 1) { group.addTask { i * i } }
            var count = 0, sum = 0
            for await square in group { count += 1; sum += square }
            return (count, sum)
        }
    }

    // MARK: Backpressure

    public enum Transport: Sendable {
        /// An `AsyncChannel` (a rendezvous), read through a bounded buffer of that size (0: none).
        case channel(buffer: Int)
        /// An `AsyncStream` that buffers without limit: yield never waits.
        case unboundedStream
    }

    public struct LeadOutcome: Sendable {
        /// The most items the producer had handed over that the consumer had not yet taken.
        public var maxLead: Int
        public var received: Int
        public var sum: Int
        public var seconds: Double
    }

    public static func measureLead(_ transport: Transport, items: Int, consumerDelayMicros: Int) async -> LeadOutcome {
        let sent = AtomicCounter(), consumed = AtomicCounter(), maxLead = AtomicCounter()
        // After each hand-over the producer records how far ahead of the consumer it is.
        @Sendable func handedOver() {
            let s = sent.add()
            maxLead.raise(to: s - consumed.value)
        }
        func take(_ v: Int, _ sum: inout Int) async {
            sum += v
            consumed.add()
            if consumerDelayMicros > 0 { try? await Task.sleep(for: .microseconds(consumerDelayMicros)) }
        }
        let start = ContinuousClock.now
        var sum = 0
        switch transport {
        case let .channel(buffer):
            let channel = AsyncChannel<Int>()
            let producer = Task {
                for i in stride(from: 1, through: items, by: 1) {
                    await channel.send(i)
                    handedOver()
                }
                channel.finish()
            }
            for await v in channel.buffer(policy: .bounded(buffer)) { await take(v, &sum) }
            await producer.value
        case .unboundedStream:
            let (stream, continuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .unbounded)
            let producer = Task {
                for i in stride(from: 1, through: items, by: 1) {
                    continuation.yield(i)
                    handedOver()
                }
                continuation.finish()
            }
            for await v in stream { await take(v, &sum) }
            await producer.value
        }
        return LeadOutcome(
            maxLead: maxLead.value, received: consumed.value, sum: sum,
            seconds: Measure.seconds(ContinuousClock.now - start))
    }

    public static func judgeBackpressure(_ o: LeadOutcome, bound: Int, items: Int, _ lab: LabContext) {
        lab.expect(
            "the producer was never more than buffer+1 items ahead (it was suspended)", o.maxLead <= bound,
            expected: "max lead ≤ \(bound)", observed: "max lead \(o.maxLead)")
        lab.expect("every item sent through the channel arrived", o.received, equals: items)
        lab.expect("the received items sum to n(n+1)/2", o.sum, equals: items * (items + 1) / 2)
    }

    // MARK: Flow

    public struct PipelineResult: Sendable, Equatable {
        public var values: [Int]
        public var chunkSums: [Int]
    }

    public static func flowPipeline(n: Int) async -> PipelineResult {
        // A cold flow: each call builds a fresh stream (an AsyncStream can be iterated once).
        func shaped() -> some AsyncSequence<Int, Never> {
            let numbers = AsyncStream<Int> { c in
                for i in stride(from: 1, through: n, by: 1) { c.yield(i) }
                c.finish()
            }
            return numbers.map { $0 * $0 }.filter { $0 % 3 == 1 }
        }
        var values: [Int] = []
        for await v in shaped() { values.append(v) }
        var chunkSums: [Int] = []
        for await chunk in shaped().chunks(ofCount: 10) { chunkSums.append(chunk.reduce(0, +)) }
        return PipelineResult(values: values, chunkSums: chunkSums)
    }

    public static func eagerPipeline(n: Int) -> PipelineResult {
        let values = stride(from: 1, through: n, by: 1).map { $0 * $0 }.filter { $0 % 3 == 1 }
        let chunkSums = stride(from: 0, to: values.count, by: 10).map { values[$0..<min($0 + 10, values.count)].reduce(0, +) }
        return PipelineResult(values: values, chunkSums: chunkSums)
    }

    static func describe(_ values: [Int]) -> String {
        "\(values.count) values, sum \(values.reduce(0, &+)), first \(Array(values.prefix(4)))"
    }
}

// MARK: - Small tools the phase 4 labs share

/// An `Int` many threads or tasks can change at once (an `Atomic` needs a class to live in:
/// it cannot be copied, so it cannot be captured by an escaping closure on its own).
final class AtomicCounter: Sendable {
    private let atomic: Atomic<Int>
    init(_ start: Int = 0) { atomic = Atomic(start) }

    var value: Int { atomic.load(ordering: .sequentiallyConsistent) }

    /// Replaces the value (a plain atomic store).
    func store(_ v: Int) { atomic.store(v, ordering: .sequentiallyConsistent) }

    /// Adds and returns the new value.
    @discardableResult
    func add(_ n: Int = 1) -> Int {
        atomic.wrappingAdd(n, ordering: .sequentiallyConsistent).newValue
    }

    /// Raises the value to `candidate` if it is larger (a running maximum).
    func raise(to candidate: Int) {
        var current = atomic.load(ordering: .relaxed)
        while candidate > current {
            let (done, original) = atomic.compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if done { return }
            current = original
        }
    }
}

/// A value behind a `Mutex`, in a class so escaping closures can share it.
final class Locked<T: Sendable>: Sendable {
    private let mutex: Mutex<T>
    init(_ value: T) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending T) -> sending R) -> R { mutex.withLock(body) }
}

/// A gate tasks wait at until someone opens it; opening lets everyone through, and later
/// arrivals pass straight away.
final class AsyncGate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let passNow = state.withLock { s in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if passNow { c.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s in
            s.open = true
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in waiters { w.resume() }
    }
}

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns whether it held.
func waitUntil(timeout: Duration, _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline || Task.isCancelled { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// OS threads, not tasks: each `body(i)` runs on a new `Thread` of its own. Returns when
/// every thread has finished, without blocking a task while it waits.
enum OSThreads {
    static func run(_ count: Int, stackSize: Int? = nil, _ body: @escaping @Sendable (Int) -> Void) async {
        guard count > 0 else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let remaining = AtomicCounter(count)
            for i in 0..<count {
                let thread = Thread {
                    body(i)
                    if remaining.add(-1) == 0 { done.resume() }
                }
                if let stackSize { thread.stackSize = stackSize }
                thread.start()
            }
        }
    }
}
