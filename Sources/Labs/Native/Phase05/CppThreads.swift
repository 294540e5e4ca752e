// A bounded blocking queue is the meeting point of producers and consumers: one mutex
// guards a deque, one condition variable wakes producers when there is room, another wakes
// consumers when there is an item. Every wait sits in a loop on its condition (wake-ups can
// be spurious, another thread can take the item first), and close() wakes everybody so no
// thread sleeps for ever at shutdown. ThreadSanitizer watches every memory access at run
// time: a read of the deque without the lock is a data race, and it says where.
// The C++ is Phase05/cpp/cpp-threads/ (bounded_queue.hpp, harness.cpp); your own queue
// runs through the same harness with --source.
import Foundation
import LabKit

struct CppThreadsLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "skip-item", "unbounded", "close-no-wake", "no-lock"], default: "none",
        help:
            "Breaks the reference queue on purpose: skip-item (pop sometimes discards a second item), unbounded (push never waits), close-no-wake (close() notifies nobody), no-lock (size() reads the deque without the lock: a data race)."
    )
    static let producers = Knob.int("producers", 1...16, default: 4, quick: 2, help: "Producer threads.")
    static let consumers = Knob.int("consumers", 1...16, default: 4, quick: 3, help: "Consumer threads.")
    static let items = Knob.int("items", 100...2_000_000, default: 200_000, quick: 20_000, help: "Items each producer pushes.")
    static let capacity = Knob.int("capacity", 1...100_000, default: 64, quick: 16, help: "The queue's capacity.")

    static let info = LabInfo(
        id: "cpp-threads", title: "std::thread, std::mutex, std::condition_variable: a bounded blocking queue", phase: 5,
        teaches:
            "Producers and consumers meet in a bounded queue built on one mutex and two condition variables: every item is consumed exactly once, push blocks while full and pop while empty, close() wakes everyone, and ThreadSanitizer finds the race when a read skips the lock.",
        parameters: [breaker.parameter, producers.parameter, consumers.parameter, items.parameter, capacity.parameter],
        needs: [Native.compilerNeed], subjects: [.source],
        source: "Sources/Labs/Native/Phase05/CppThreads.swift")

    static let exactlyOnce = (
        "every item is consumed exactly once",
        "PRODUCERS threads push ITEMS numbered items each through a queue of CAPACITY to CONSUMERS threads, then one end-of-work item per consumer: each number is popped once, none lost, none twice"
    )
    static let blocking = (
        "push blocks while full, pop while empty, and each wakes",
        "capacity 2: the third push returns only after a pop; a pop on the empty queue waits until a push, then returns that item"
    )
    static let shutdown = (
        "close() wakes every blocked consumer and refuses later pushes",
        "consumers blocked in pop() all return false within 3 s of close(); push after close() returns false"
    )
    static let tsan = (
        "ThreadSanitizer finds no data race",
        "the exactly-once run, built with -fsanitize=thread and with a thread calling size() throughout, reports nothing"
    )

    static func starter() -> [StarterFile] {
        let stub = """
            // bounded_queue.hpp: your bounded blocking queue (see README.md for the contract).
            #pragma once
            #include <cstddef>

            class BoundedQueue {
            public:
                explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
                bool push(long item) { (void)item; return false; }   // TODO: block while full; false once closed
                bool pop(long& item) { (void)item; return false; }   // TODO: block while empty; false once closed and drained
                void close() {}                                       // TODO: wake everybody
                std::size_t size() const { return 0; }                // TODO: under the lock

            private:
                std::size_t capacity_;
            };

            """
        let contract = (CppSources.files["cpp-threads/bounded_queue.hpp"] ?? "").split(separator: "\n").prefix(12).joined(separator: "\n")
        return cppStarter(
            info,
            task:
                "Write `bounded_queue.hpp`: a bounded blocking queue with `std::mutex` and `std::condition_variable`. The contract, from the reference's header:\n\n```cpp\n\(contract)\n```",
            files: [StarterFile("bounded_queue.hpp", stub)],
            checks: [exactlyOnce, blocking, shutdown, tsan],
            build: "g++ \(CppBuild.baseFlags.joined(separator: " ")) -pthread, once plain and once with -fsanitize=thread")
    }

    func run(_ lab: LabContext) async throws {
        let (sources, headers, flags) = try Native.files(lab, folder: "cpp-threads", harness: ["harness.cpp"], reference: ["bounded_queue.hpp"])
        let f = flags + Native.breakFlags(lab, lab[Self.breaker])
        let built = try await lab.compileAll([
            CppBuild(name: "queue-harness", sources: sources, headers: headers, flags: f),
            CppBuild(name: "queue-harness-tsan", sources: sources, headers: headers, flags: f, sanitizers: .thread),
        ])
        guard let plain = built[0], let tsan = built[1] else { return }

        let p = lab[Self.producers], c = lab[Self.consumers], n = lab[Self.items], cap = lab[Self.capacity]
        let run = try await lab.runHarness(plain, ["exactly-once", "\(p)", "\(c)", "\(n)", "\(cap)"], timeout: 120)
        lab.step("\(p) producers × \(n) items → queue of \(cap) → \(c) consumers", run.results["exactly-once"]?.detail)
        lab.harnessCheck(Self.exactlyOnce.0, Self.exactlyOnce.1, run, "exactly-once")
        if let t = run.figures["throughput"] { lab.figure("throughput", t.value, "items/s") }

        let blocking = try await lab.runHarness(plain, ["blocking"], timeout: 30)
        lab.harnessCheck(Self.blocking.0, Self.blocking.1, blocking, "blocking")

        let shutdown = try await lab.runHarness(plain, ["shutdown", "\(max(2, c))"], timeout: 30)
        lab.harnessCheck(Self.shutdown.0, Self.shutdown.1, shutdown, "shutdown")

        // ThreadSanitizer slows every access ~10×: a smaller run finds the same races.
        let small = max(100, min(n, lab.quick ? 2_000 : 20_000))
        let raced = try await lab.runHarness(tsan, ["exactly-once", "\(p)", "\(c)", "\(small)", "\(cap)"], timeout: 180)
        lab.sanitizerCheck(Self.tsan.0, Self.tsan.1, raced, ran: "\(p)×\(small) items under ThreadSanitizer")
    }
}
