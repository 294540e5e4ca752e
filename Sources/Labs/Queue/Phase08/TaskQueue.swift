// A task queue on RabbitMQ: tasks are persistent messages in a durable queue, and several
// consumers share them. With manual acknowledgements a consumer acks a task only after
// doing it; until then the broker keeps it, and when the consumer's connection dies (the
// process killed mid-task) the broker redelivers it, flagged `redelivered`, to another
// consumer. That is at-least-once delivery: a consumer killed after the work but before its
// ack makes the task come back although it was done, so the consumer checks its ledger of
// done tasks first (idempotency) and the task is done exactly once. `basic.qos` prefetch 1
// hands a consumer its next task only when it has acked the last, so work is shared fairly.
import Foundation
import LabKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct TaskQueueLab: Lab, LabChildProcess {
    static let tasks = Knob.int("tasks", 4...2_000, default: 60, quick: 16, help: "tasks queued")
    static let consumers = Knob.int("consumers", 2...16, default: 3, help: "consumers that survive (each its own connection and thread)")
    static let taskMs = Knob.int("task-ms", 0...1_000, default: 20, quick: 10, help: "time each task takes")
    static let breaker = Knob.choice(
        "break", ["none", "auto-ack", "ack-early", "no-idempotency", "no-prefetch"], default: "none",
        help:
            "auto-ack: the consumer that is killed took its task with auto-ack (lost with it); ack-early: a consumer acks before the work and is killed between the two (its task lost); no-idempotency: a redelivered task that was already done is done again; no-prefetch: no basic.qos, the first consumer takes every task"
    )

    static let info = LabInfo(
        id: "task-queue", title: "A task queue on RabbitMQ: acks, redelivery, fair dispatch", phase: 8,
        teaches:
            "Tasks in a durable queue, acked only after the work: a consumer killed mid-task has its task redelivered to another, an idempotent consumer does a redelivered task once, and prefetch 1 shares the work.",
        parameters: [tasks.parameter, consumers.parameter, taskMs.parameter, breaker.parameter],
        needs: [.rabbitmq], source: "Sources/Labs/Queue/Phase08/TaskQueue.swift"
    )

    /// What the surviving consumers share.
    final class Ledger: Sendable {
        struct State {
            /// How many times each task's work was done.
            var done: [String: Int] = [:]
            var byConsumer: [Int: Int] = [:]
            /// Tasks that came with the redelivered flag, and who got them.
            var redelivered: [String: Int] = [:]
            var skippedAsDone = 0
            var deliveries = 0
            /// Set when the run is cancelled (Ctrl-C): the consumer threads stop.
            var cancelled = false
        }
        let state = Mutex(State())
    }

    func run(_ lab: LabContext) async throws {
        let total = lab[Self.tasks], survivors = lab[Self.consumers], taskMs = lab[Self.taskMs]
        let broken = lab[Self.breaker]
        let broker = try await ThrowawayRabbitMQ.start(for: lab)
        let queue = "tasks-" + String(UUID().uuidString.prefix(8)).lowercased()
        let port = broker.port
        let scratch = lab.scratch.standardizedFileURL.path
        let admin = try await AMQPThread.run { try broker.connect() }
        defer { admin.close() }
        try await AMQPThread.run {
            try admin.declareQueue(queue, durable: true)
        }
        lab.onCleanup {
            _ = try? await AMQPThread.run {
                let c = try broker.connect(); try? c.deleteQueue(queue); c.close()
            }
        }
        let ids = (1...total).map { String(format: "task-%04d", $0) }
        lab.step("Declared the durable queue \(queue)", "tasks are persistent messages (delivery mode 2), consumed with manual acks")

        // 1. A consumer killed in the middle of a task: a real child process.
        try await AMQPThread.run { try admin.publish(routingKey: queue, body: ids[0], messageID: ids[0]) }
        let fileA = scratch + "/consumer-a.log"
        let modeA = broken == "auto-ack" ? "hold-auto-ack" : "hold"
        let childA = try LabChild.spawn(lab: lab, ["\(port)", queue, fileA, modeA], output: scratch + "/consumer-a.out")
        let heldA = try await Self.waitForLine(in: fileA, prefix: "started ", child: childA)

        // 2. A consumer killed between the work and the ack (or, broken, between ack and work).
        try await AMQPThread.run { try admin.publish(routingKey: queue, body: ids[1], messageID: ids[1]) }
        let fileB = scratch + "/consumer-b.log"
        let modeB = broken == "ack-early" ? "ack-then-hang" : "work-then-hang"
        let childB = try LabChild.spawn(lab: lab, ["\(port)", queue, fileB, modeB], output: scratch + "/consumer-b.out")
        let heldB = try await Self.waitForLine(in: fileB, prefix: modeB == "work-then-hang" ? "done " : "acked ", child: childB)
        for child in [childA, childB] {
            kill(child, SIGKILL)
            _ = await Subprocess.wait(child, timeout: 10)
        }
        let ledger = Ledger()
        if modeB == "work-then-hang" { ledger.state.withLock { $0.done[heldB, default: 0] += 1 } }
        lab.step(
            "Consumer A (pid \(childA)) took \(heldA) and was killed with SIGKILL in the middle of it",
            modeA == "hold" ? "it consumed with manual acks and had not acked" : "it took the task with auto-ack (break=auto-ack)")
        lab.step(
            "Consumer B (pid \(childB)) took \(heldB) and was killed with SIGKILL between the work and the ack",
            modeB == "work-then-hang"
                ? "the work was done (recorded in the ledger of done tasks), the ack never sent"
                : "it acked first and was killed before the work (break=ack-early)")

        // 3. The rest of the tasks, and the surviving consumers. The first consumer takes its
        // first task while the others are connected but not yet consuming: without prefetch it
        // is handed every task in the queue at once.
        try await AMQPThread.run { for id in ids.dropFirst(2) { try admin.publish(routingKey: queue, body: id, messageID: id) } }
        let started = ContinuousClock.now
        let settings = Consumer(
            port: port, queue: queue, total: total, taskMs: taskMs, consumers: survivors,
            prefetch: broken != "no-prefetch", idempotent: broken != "no-idempotency")
        let gate = Gate()
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 1...survivors {
                    group.addTask { try await AMQPThread.run("task-queue.consumer-\(i)") { try settings.work(index: i, ledger: ledger, gate: gate) } }
                }
                try await group.waitForAll()
            }
        } onCancel: {
            ledger.state.withLock { $0.cancelled = true }
            gate.state.withLock {
                $0.open = true; $0.connected = Int.max / 2; $0.consuming = Int.max / 2
            }
        }
        try Task.checkCancellation()
        let elapsed = Measure.seconds(ContinuousClock.now - started)
        let s = ledger.state.withLock { $0 }
        let left = try await AMQPThread.run { try admin.messageCount(queue) }
        lab.step(
            "\(survivors) consumers worked the queue (prefetch \(settings.prefetch ? "1" : "unlimited"), \(taskMs) ms a task)",
            "\(s.deliveries) deliveries in \(String(format: "%.2f", elapsed)) s; deliveries per consumer: \(s.byConsumer.sorted { $0.key < $1.key }.map { "#\($0.key): \($0.value)" }.joined(separator: ", ")); redelivered: \(s.redelivered.keys.sorted().joined(separator: ", ")); \(left) left in the queue"
        )
        lab.figure("tasks done per second", Double(s.done.values.reduce(0, +)) / max(elapsed, 0.001), "tasks/s")

        let missing = ids.filter { (s.done[$0] ?? 0) == 0 }
        lab.check(
            "every task done, none lost", missing.isEmpty,
            expected: "\(total) of \(total) tasks done",
            observed: missing.isEmpty ? "\(total) of \(total) done" : "\(total - missing.count) done; lost: \(missing.prefix(8).joined(separator: ", "))")
        let backA = s.redelivered[heldA] != nil && (s.done[heldA] ?? 0) == 1
        lab.check(
            "the task of the consumer killed mid-task came back (redelivered) and was done", backA,
            expected: "\(heldA) delivered again with the redelivered flag to a surviving consumer, and done",
            observed: s.redelivered[heldA].map { "redelivered to consumer #\($0); done \(s.done[heldA] ?? 0) time(s)" } ?? "\(heldA) never came back")
        let twice = s.done.filter { $0.value > 1 }.keys.sorted()
        lab.check(
            "each task done exactly once (a redelivered task already done is not done again)", twice.isEmpty,
            expected: "no task's work done twice",
            observed: twice.isEmpty
                ? "every task done at most once; \(s.skippedAsDone) redelivered task(s) found done in the ledger and only acked"
                : "done twice: \(twice.joined(separator: ", "))")
        // Every consumer can get a task when there are more tasks than consumers.
        let required = min(survivors, total - 1)
        let busy = (1...survivors).filter { (s.byConsumer[$0] ?? 0) > 0 }
        let perConsumer = (1...survivors).map { "\(s.byConsumer[$0] ?? 0)" }.joined(separator: ", ")
        lab.check(
            "the work is shared by every consumer (prefetch 1)", busy.count >= required,
            expected: "at least \(required) of the \(survivors) consumers handed tasks",
            observed: "\(busy.count) consumer(s) got tasks; deliveries per consumer: \(perConsumer)")
    }

    /// Waits until the child writes a line starting with `prefix` and returns the rest.
    static func waitForLine(in file: String, prefix: String, child: pid_t) async throws -> String {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) })
            {
                return String(line.dropFirst(prefix.count))
            }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                throw LabError(
                    "the consumer process \(child) exited before taking a task: \((try? String(contentsOfFile: file + ".err", encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw LabError("the consumer process \(child) took no task within 120 s")
    }

    /// Holds consumers 2… back until consumer 1 has its first task.
    final class Gate: Sendable {
        let state = Mutex((connected: 0, open: false, consuming: 0))
        func wait(_ until: @escaping ((connected: Int, open: Bool, consuming: Int)) -> Bool) {
            let deadline = Date().addingTimeInterval(60)
            while !state.withLock({ until($0) }) && Date() < deadline { usleep(2_000) }
        }
    }

    /// A surviving consumer's loop (on its own thread).
    struct Consumer: Sendable {
        var port: Int, queue: String, total: Int, taskMs: Int, consumers: Int, prefetch: Bool, idempotent: Bool

        func work(index: Int, ledger: Ledger, gate: Gate) throws {
            let c = try AMQPConnection.open(port: port)
            defer { c.close() }
            if prefetch { try c.qos(prefetch: 1) }
            if index == 1 {
                gate.wait { $0.connected >= consumers - 1 }
            } else {
                gate.state.withLock { $0.connected += 1 }
                gate.wait { $0.open }
            }
            try c.consume(queue: queue)
            if index != 1 { gate.state.withLock { $0.consuming += 1 } }
            var idleSince = Date()
            while true {
                let finished = ledger.state.withLock { s in s.done.count >= total || s.cancelled }
                if finished { return }
                guard let d = try c.next(timeout: 0.2) else {
                    // Stop when every task is done, or when nothing came for a while (lost tasks).
                    if Date().timeIntervalSince(idleSince) > 3 { gate.state.withLock { $0.open = true }; return }
                    continue
                }
                idleSince = Date()
                let id = d.body
                let alreadyDone = ledger.state.withLock { s -> Bool in
                    s.deliveries += 1
                    if d.redelivered { s.redelivered[id] = index }
                    return (s.done[id] ?? 0) > 0
                }
                ledger.state.withLock { $0.byConsumer[index, default: 0] += 1 }
                if index == 1 && !gate.state.withLock({ $0.open }) {
                    // Hold the first task until the others consume: with prefetch 1 the broker
                    // then hands each of them a task at once; without, this one has them all.
                    gate.state.withLock { $0.open = true }
                    gate.wait { $0.consuming >= consumers - 1 }
                }
                if alreadyDone && idempotent {
                    ledger.state.withLock { $0.skippedAsDone += 1 }
                    try c.ack(d)
                    continue
                }
                if taskMs > 0 { usleep(useconds_t(taskMs * 1000)) }
                ledger.state.withLock { s in s.done[id, default: 0] += 1 }
                try c.ack(d)
            }
        }
    }

    /// The killed consumers: `curriculum-labs child task-queue PORT QUEUE FILE MODE`.
    /// hold / hold-auto-ack: take a task, write "started ID", never finish it.
    /// work-then-hang: take a task, do it, write "done ID", never ack.
    /// ack-then-hang: take a task, ack it, write "acked ID", never do it.
    static func child(_ arguments: [String]) -> Int32 {
        guard arguments.count == 4, let port = Int(arguments[0]) else { return 64 }
        let queue = arguments[1], file = arguments[2], mode = arguments[3]
        do {
            let c = try AMQPConnection.open(port: port)
            var delivery: AMQPDelivery?
            let deadline = Date().addingTimeInterval(120)
            if mode == "hold-auto-ack" {
                // One message with no-ack (basic.get, so it takes no other): the broker forgets it at once.
                while delivery == nil && Date() < deadline {
                    delivery = try c.get(queue: queue, autoAck: true)
                    if delivery == nil { usleep(20_000) }
                }
            } else {
                try c.qos(prefetch: 1)
                try c.consume(queue: queue)
                while delivery == nil && Date() < deadline { delivery = try c.next(timeout: 0.5) }
            }
            guard let d = delivery else { return 1 }
            let word: String
            switch mode {
            case "work-then-hang": word = "done"
            case "ack-then-hang": try c.ack(d); word = "acked"
            default: word = "started"
            }
            let line = "\(word) \(d.body)\n"
            let fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            _ = line.withCString { write(fd, $0, strlen($0)) }
            fsync(fd)
            close(fd)
            // Mid-task until killed; gone with the lab if the lab goes first.
            let parent = getppid()
            while getppid() == parent { usleep(100_000) }
            return 0
        } catch {
            try? "\(error)".write(toFile: file + ".err", atomically: false, encoding: .utf8)
            return 1
        }
    }
}
