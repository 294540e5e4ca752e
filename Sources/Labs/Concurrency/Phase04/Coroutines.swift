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
//
// Experiments: `buffer` and `consumer-delay-us` to watch the producer's lead; `break=` plants
// one mistake (a `try?` that swallows cancellation, a buffer that never suspends or drops, an
// AsyncStream iterated twice…), to see which checks catch it.
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
        help:
            "How long the slow consumer sleeps per item, in microseconds; above 0 it is also slow to start: it takes its first item once the producer has handed over more than buffer+1 items, or after 250 ms."
    )
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help:
            "Plant one mistake: swallow-cancellation (the children sleep with try?, so a cancelled sleep returns and they carry on), stale-cancel-check (the parent reads Task.isCancelled once, before its children run), forward-cancel (the parent forwards its cancellation to the Task {} with withTaskCancellationHandler), first-result-only (the group takes its first result and cancels the rest, as for a race), unbounded-buffer (the channel's buffer stage is unbounded), dropping-buffer (the buffer drops the newest items when full instead of suspending), dropping-stream (the 'unbounded' stream keeps only the newest buffer items), stream-via-channel (the 'unbounded' experiment goes through the bounded channel, a copy-paste slip), filter-before-map (the flow filters before it squares), reuse-stream (the chunked pass iterates the same, already finished stream again)."
    )

    /// Realistic mistakes, each planted in the lab's own code; the checks that catch each are
    /// listed in Tests/ConcurrencyLabsTests/ConcurrencyBreakerTests.swift.
    public enum Breaker: String, CaseIterable, Sendable {
        case none
        case swallowCancellation = "swallow-cancellation"
        case staleCancelCheck = "stale-cancel-check"
        case forwardCancel = "forward-cancel"
        case firstResultOnly = "first-result-only"
        case unboundedBuffer = "unbounded-buffer"
        case droppingBuffer = "dropping-buffer"
        case droppingStream = "dropping-stream"
        case streamViaChannel = "stream-via-channel"
        case filterBeforeMap = "filter-before-map"
        case reuseStream = "reuse-stream"
    }

    // The checks' names, for the tests that name the ones a breaker must fail.
    public static let everyChildCancelled = "every child observed the parent's cancellation"
    public static let noChildSleptToEnd = "no child slept to the end"
    public static let parentSawCancel = "the parent itself saw Task.isCancelled"
    public static let looseNotCancelled = "an unstructured Task {} started inside was not cancelled with it"
    public static let everyResult = "every child's result arrived"
    public static let resultsSum = "the results sum to n(n+1)(2n+1)/6"
    public static let producerHeldBack = "the producer was never more than buffer+1 items ahead (it was suspended)"
    public static let channelDelivered = "every item sent through the channel arrived"
    public static let channelSum = "the received items sum to n(n+1)/2"
    public static let streamDelivered = "every item yielded to the unbounded stream arrived too"
    public static let streamRanAhead = "the unbounded stream let the producer run further ahead than the bound"
    public static let flowEqualsEager = "the streamed map/filter equals the eager Array pipeline"
    public static let chunksEqualEager = "chunked sums equal the eager chunked sums"
    /// How long a slow consumer waits at most before its first item for the producer to run
    /// more than the bound ahead (a bounded producer never does, so then it waits all of it).
    static let slowStart = Duration.milliseconds(250)

    public static let info = LabInfo(
        id: "coroutines",
        title: "Coroutines: async/await, task groups, flows and channels",
        phase: 4,
        teaches:
            "Cancelling a parent task cancels every child (and not an unstructured Task {}); a bounded AsyncChannel suspends a fast producer so it never gets more than the buffer ahead; an AsyncStream map/filter flow gives the same result as the eager pipeline.",
        parameters: [children.parameter, items.parameter, buffer.parameter, consumerDelay.parameter, breaker.parameter],
        source: "Sources/Labs/Concurrency/Phase04/Coroutines.swift"
    )
    public init() {}

    public func run(_ lab: LabContext) async throws {
        let children = lab[Self.children]
        let items = lab[Self.items]
        let buffer = lab[Self.buffer]
        let delay = lab[Self.consumerDelay]
        let breaker = lab[Self.breaker]
        func broken(_ here: Breaker...) -> String { here.contains(breaker) ? " Broken on purpose (break=\(breaker.rawValue))." : "" }

        // 1. Cancellation goes down the tree.
        lab.step(
            "Cancel a parent task",
            "A parent starts \(children) children in a task group, each sleeping 30 s, plus one unstructured Task {}; once all children are running the parent is cancelled."
                + broken(.swallowCancellation, .staleCancelCheck, .forwardCancel)
        )
        let c = await Self.cancelParent(children: children, breaker: breaker)
        lab.figure("children started before the cancel", Double(c.started), "tasks")
        lab.figure("time from cancel to the parent returning", c.secondsToFinish * 1000, "ms")
        Self.judgeCancellation(c, children: children, lab)

        // 2. Every child's result arrives.
        lab.step(
            "Collect results from a task group",
            "\(children) children each compute i*i concurrently; the group gathers them in completion order." + broken(.firstResultOnly))
        let squares = await Self.squaresInGroup(n: children, breaker: breaker)
        lab.expect(Self.everyResult, squares.count, equals: children)
        lab.expect(Self.resultsSum, squares.sum, equals: children * (children + 1) * (2 * children + 1) / 6)

        // 3. Backpressure.
        lab.step(
            "A fast producer and a slow consumer over a bounded AsyncChannel",
            "The producer sends \(items) numbers as fast as it can; the consumer sleeps \(delay) µs per item\(delay > 0 ? " and takes its first once the producer is more than buffer+1 ahead, or after \(Self.slowStart)" : ""). The channel is a rendezvous; buffer=\(buffer) adds a bounded buffer stage. Watch the producer's lead."
                + broken(.unboundedBuffer, .droppingBuffer)
        )
        let bounded = await Self.measureLead(.channel(buffer: buffer), items: items, consumerDelayMicros: delay, breaker: breaker)
        lab.figure("bounded channel: producer's max lead", Double(bounded.maxLead), "items")
        lab.figure("bounded channel: run time", bounded.seconds * 1000, "ms")
        Self.judgeBackpressure(bounded, bound: buffer + 1, items: items, lab)

        lab.step(
            "The same through an unbounded AsyncStream",
            "yield() never suspends, so nothing holds the producer back." + broken(.droppingStream, .streamViaChannel))
        let unbounded = await Self.measureLead(
            breaker == .streamViaChannel ? .channel(buffer: buffer) : .unboundedStream, items: items, consumerDelayMicros: delay, breaker: breaker)
        lab.figure("unbounded stream: producer's max lead", Double(unbounded.maxLead), "items")
        lab.expect(Self.streamDelivered, unbounded.received, equals: items)
        // The contrast's other side: without backpressure the producer does run ahead. It
        // can only be seen when the consumer is slower and there are more items than the bound.
        if delay > 0 && items > buffer + 1 {
            lab.expect(
                Self.streamRanAhead, unbounded.maxLead > buffer + 1,
                expected: "max lead > \(buffer + 1)", observed: "max lead \(unbounded.maxLead)")
        } else {
            lab.step(
                "Unbounded lead: not observable with these knobs",
                delay == 0 ? "consumer-delay-us=0: the consumer keeps up, so neither side builds a lead." : "items ≤ buffer+1: no lead can exceed the bound.")
        }

        // 4. A flow pipeline.
        lab.step(
            "A flow: AsyncStream → map → filter → chunks",
            "Squares of 1…\(items) that are 1 mod 3, computed lazily as they stream, then summed in chunks of 10 with AsyncAlgorithms' chunks(ofCount:)."
                + broken(.filterBeforeMap, .reuseStream))
        let flow = await Self.flowPipeline(n: items, breaker: breaker)
        let eager = Self.eagerPipeline(n: items)
        lab.figure("flow elements", Double(flow.values.count), "items")
        lab.check(
            Self.flowEqualsEager, flow.values == eager.values,
            expected: Self.describe(eager.values), observed: Self.describe(flow.values))
        lab.check(
            Self.chunksEqualEager, flow.chunkSums == eager.chunkSums,
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

    public static func cancelParent(children: Int, childSleep: Duration = .seconds(30), breaker: Breaker = .none) async -> CancellationOutcome {
        let started = AtomicCounter(), cancelled = AtomicCounter(), completed = AtomicCounter()
        let loose = Locked<Task<Void, Never>?>(nil)
        let parent = Task {
            // Not a child: `Task {}` copies priority and task-locals, but not cancellation.
            let looseTask = Task { () -> Void in _ = try? await Task.sleep(for: childSleep) }
            loose.withLock { $0 = looseTask }
            // stale-cancel-check's mistake: cancellation read once, before the work.
            let early = Task.isCancelled
            let work = {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<children {
                        group.addTask {
                            started.add()
                            if breaker == .swallowCancellation {
                                // The mistake: try? turns the CancellationError into "slept".
                                try? await Task.sleep(for: childSleep)
                                completed.add()
                                return
                            }
                            do {
                                try await Task.sleep(for: childSleep)
                                completed.add()
                            } catch is CancellationError {
                                cancelled.add()
                            } catch {}
                        }
                    }
                }
            }
            if breaker == .forwardCancel {
                await withTaskCancellationHandler(operation: work, onCancel: { looseTask.cancel() })
            } else {
                await work()
            }
            return breaker == .staleCancelCheck ? early : Task.isCancelled
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
        lab.expect(everyChildCancelled, c.cancelled, equals: children)
        lab.expect(noChildSleptToEnd, c.completed, equals: 0)
        lab.expect(parentSawCancel, c.parentSawCancellation, equals: true)
        lab.expect(looseNotCancelled, c.unstructuredWasCancelled, equals: false)
    }

    // MARK: Results

    public static func squaresInGroup(n: Int, breaker: Breaker = .none) async -> (count: Int, sum: Int) {
        await withTaskGroup(of: Int.self) { group in
            for i in stride(from: 1, through: n, by: 1) { group.addTask { i * i } }
            var count = 0, sum = 0
            if breaker == .firstResultOnly {
                // The mistake: a race's "first answer wins" where every answer was wanted.
                if let first = await group.next() { count = 1; sum = first }
                group.cancelAll()
                return (count, sum)
            }
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

    public static func measureLead(_ transport: Transport, items: Int, consumerDelayMicros: Int, breaker: Breaker = .none) async -> LeadOutcome {
        let sent = AtomicCounter(), consumed = AtomicCounter(), maxLead = AtomicCounter()
        // The slow consumer's first take waits for the producer to get past this: the bound of
        // a bounded channel, the end for a stream (whose producer never waits).
        let startAfter: Int
        switch transport {
        case let .channel(buffer): startAfter = buffer + 1
        case .unboundedStream: startAfter = items - 1
        }
        // After each hand-over the producer records how far ahead of the consumer it is.
        @Sendable func handedOver() {
            let s = sent.add()
            maxLead.raise(to: s - consumed.value)
        }
        func take(_ v: Int, _ sum: inout Int) async {
            // A slow consumer is slow to start too: a producer that is not held back gets past
            // the bound before the first take, every run, not only when the scheduler lets it.
            if consumerDelayMicros > 0 && consumed.value == 0 {
                _ = await waitUntil(timeout: slowStart) { sent.value > startAfter }
            }
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
            let policy: AsyncBufferSequencePolicy =
                switch breaker {
                case .unboundedBuffer: .unbounded
                case .droppingBuffer: .bufferingLatest(max(buffer, 1))
                default: .bounded(buffer)
                }
            for await v in channel.buffer(policy: policy) { await take(v, &sum) }
            await producer.value
        case .unboundedStream:
            let (stream, continuation) = AsyncStream.makeStream(
                of: Int.self, bufferingPolicy: breaker == .droppingStream ? .bufferingNewest(8) : .unbounded)
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
        lab.expect(producerHeldBack, o.maxLead <= bound, expected: "max lead ≤ \(bound)", observed: "max lead \(o.maxLead)")
        lab.expect(channelDelivered, o.received, equals: items)
        lab.expect(channelSum, o.sum, equals: items * (items + 1) / 2)
    }

    // MARK: Flow

    public struct PipelineResult: Sendable, Equatable {
        public var values: [Int]
        public var chunkSums: [Int]
    }

    public static func flowPipeline(n: Int, breaker: Breaker = .none) async -> PipelineResult {
        // A cold flow: each call builds a fresh stream (an AsyncStream can be iterated once).
        func numbers() -> AsyncStream<Int> {
            AsyncStream<Int> { c in
                for i in stride(from: 1, through: n, by: 1) { c.yield(i) }
                c.finish()
            }
        }
        func shaped(_ numbers: AsyncStream<Int>) -> some AsyncSequence<Int, Never> {
            // filter-before-map's mistake: the test meant for the squares is applied to the
            // numbers, as if the filter stood before the map.
            let beforeMap = breaker == .filterBeforeMap
            return numbers.map { ($0, $0 * $0) }.filter { (beforeMap ? $0.0 : $0.1) % 3 == 1 }.map { $0.1 }
        }
        let first = numbers()
        var values: [Int] = []
        for await v in shaped(first) { values.append(v) }
        var chunkSums: [Int] = []
        // reuse-stream's mistake: the second pass iterates the first, finished stream (hot, not cold).
        for await chunk in shaped(breaker == .reuseStream ? first : numbers()).chunks(ofCount: 10) { chunkSums.append(chunk.reduce(0, +)) }
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
