// Retries, dead letters and backpressure on RabbitMQ. A job that fails is not retried at
// once (that hammers whatever made it fail): the consumer republishes it to a wait queue
// for its attempt, with a per-message TTL that grows exponentially (base × 2^(attempt-1))
// and is spread by random jitter so retries of many jobs do not arrive in lockstep; when
// the TTL expires the broker dead-letters the message back onto the work queue
// (`x-dead-letter-exchange` on the wait queue). After the last allowed attempt the consumer
// rejects the message without requeueing, and the work queue's own dead-letter exchange
// routes it to the dead-letter queue (DLQ), where a poison message waits for a human.
// Backpressure: a queue bounded with `x-max-length` and `x-overflow: reject-publish` makes
// the broker nack publishes once full; a producer publishing with confirms sees the nack,
// backs off and publishes again, so a fast producer is slowed and nothing is lost.
import Foundation
import LabKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct RetriesDLQLab: Lab {
    static let messages = Knob.int("messages", 2...5_000, default: 30, quick: 10, help: "jobs queued")
    static let poisonEvery = Knob.int("poison-every", 1...1_000, default: 5, help: "every n-th job always fails (poison)")
    static let maxAttempts = Knob.int("max-attempts", 2...8, default: 4, help: "attempts before a job is dead-lettered")
    static let baseDelayMs = Knob.int("base-delay-ms", 20...2_000, default: 100, help: "the first retry's delay; each next one doubles")
    static let jitter = Knob.double("jitter", 0...0.9, default: 0.2, help: "each delay is spread uniformly by ± this fraction")
    static let queueLimit = Knob.int("queue-limit", 1...10_000, default: 20, quick: 5, help: "x-max-length of the bounded intake queue")
    static let breaker = Knob.choice(
        "break", ["none", "no-backoff", "no-jitter", "dead-letter-early", "no-dlq", "no-limit", "drop-refused"], default: "none",
        help:
            "no-backoff: failed jobs go straight back to the work queue; no-jitter: every retry waits exactly its configured delay; dead-letter-early: dead-lettered one attempt too soon; no-dlq: the work queue has no dead-letter exchange (rejected jobs vanish); no-limit: the intake queue is unbounded; drop-refused: the producer drops a refused publish instead of retrying it"
    )

    static let info = LabInfo(
        id: "retries-dlq", title: "Retries with backoff, dead letters and backpressure on RabbitMQ", phase: 8,
        teaches:
            "Failed jobs wait in TTL queues for exponentially growing, jittered delays, poison jobs end in a dead-letter queue after N attempts, and a bounded queue refuses a fast producer, which backs off and retries so nothing is lost.",
        parameters: [
            messages.parameter, poisonEvery.parameter, maxAttempts.parameter, baseDelayMs.parameter, jitter.parameter,
            queueLimit.parameter, breaker.parameter,
        ],
        needs: [.rabbitmq], source: "Sources/Labs/Queue/Phase08/RetriesDLQ.swift"
    )

    /// The configured delay before attempt `attempt + 1`, before jitter.
    static func delayMs(afterAttempt attempt: Int, base: Int) -> Int { base << (attempt - 1) }

    /// How many times job `i` fails before it succeeds (nil: poison, it always fails).
    static func failures(of i: Int, poisonEvery: Int, maxAttempts: Int) -> Int? {
        i % poisonEvery == 0 ? nil : (i % 3) % maxAttempts
    }

    final class Log: Sendable {
        struct Attempt { var at: Duration; var attempt: Int; var plannedDelayMs: Int? }
        struct State {
            var attempts: [String: [Attempt]] = [:]
            var done: [String: Int] = [:]
            var rejected: Set<String> = []
        }
        let state = Mutex(State())
    }

    struct Worker: Sendable {
        var port: Int, work: String, prefix: String, total: Int, poisonEvery: Int, maxAttempts: Int
        var baseMs: Int, jitter: Double, broken: String, idleSeconds: Double

        func run(log: Log, origin: ContinuousClock.Instant) throws {
            let c = try AMQPConnection.open(port: port)
            defer { c.close() }
            try c.qos(prefetch: 1)
            try c.consume(queue: work)
            var random = SeededRandom(seed: 14)
            var last = Date()
            while true {
                let finished = log.state.withLock { $0.done.count + $0.rejected.count >= total }
                if finished { return }
                guard let d = try c.next(timeout: 0.2) else {
                    if Date().timeIntervalSince(last) > idleSeconds { return }
                    continue
                }
                last = Date()
                let now = ContinuousClock.now - origin
                let id = d.body
                let attempt = d.headers["attempt"]?.intValue ?? 1
                let planned = d.headers["delay-ms"]?.intValue
                log.state.withLock { $0.attempts[id, default: []].append(.init(at: now, attempt: attempt, plannedDelayMs: planned)) }
                let index = Int(id.dropFirst(4)) ?? 0
                let fails = RetriesDLQLab.failures(of: index, poisonEvery: poisonEvery, maxAttempts: maxAttempts)
                if let fails, attempt > fails {
                    log.state.withLock { $0.done[id, default: 0] += 1 }
                    try c.ack(d)
                    continue
                }
                let limit = broken == "dead-letter-early" ? maxAttempts - 1 : maxAttempts
                if attempt >= limit {
                    // Out of attempts: to the dead-letter exchange (if the queue has one).
                    log.state.withLock { _ = $0.rejected.insert(id) }
                    try c.reject(d, requeue: false)
                    continue
                }
                let base = RetriesDLQLab.delayMs(afterAttempt: attempt, base: baseMs)
                let spread = broken == "no-jitter" ? 0 : (random.unit() * 2 - 1) * jitter
                let delay = max(1, Int((Double(base) * (1 + spread)).rounded()))
                let headers: [String: AMQPValue] = ["attempt": .int(attempt + 1), "delay-ms": .int(delay)]
                if broken == "no-backoff" {
                    try c.publish(routingKey: work, body: id, headers: headers, messageID: id)
                } else {
                    try c.publish(routingKey: "\(prefix).wait-\(attempt)", body: id, headers: headers, messageID: id, expirationMs: delay)
                }
                // Republished first, acked second: a crash in between repeats a job, never loses it.
                try c.ack(d)
            }
        }
    }

    func run(_ lab: LabContext) async throws {
        let total = lab[Self.messages], poisonEvery = lab[Self.poisonEvery], maxAttempts = lab[Self.maxAttempts]
        let baseMs = lab[Self.baseDelayMs], jitter = lab[Self.jitter], limit = lab[Self.queueLimit]
        let broken = lab[Self.breaker]
        let broker = try await ThrowawayRabbitMQ.start(for: lab)
        let prefix = "jobs-" + String(UUID().uuidString.prefix(8)).lowercased()
        let work = prefix + ".work", dlx = prefix + ".dlx", dlq = prefix + ".dlq", intake = prefix + ".intake"
        let waits = (1..<maxAttempts).map { "\(prefix).wait-\($0)" }
        let admin = try await AMQPThread.run { try broker.connect() }
        defer { admin.close() }
        lab.onCleanup {
            _ = try? await AMQPThread.run {
                let c = try broker.connect()
                for q in [work, dlq, intake] + waits { try? c.deleteQueue(q) }
                try? c.deleteExchange(dlx)
                c.close()
            }
        }
        try await AMQPThread.run {
            try admin.declareExchange(dlx, type: "fanout")
            try admin.declareQueue(dlq)
            try admin.bind(queue: dlq, exchange: dlx)
            try admin.declareQueue(work, arguments: broken == "no-dlq" ? [:] : ["x-dead-letter-exchange": .string(dlx)])
            for (i, q) in waits.enumerated() {
                // Expired messages go back to the work queue through the default exchange.
                let longest = Int((Double(Self.delayMs(afterAttempt: i + 1, base: baseMs)) * (1 + jitter)).rounded(.up)) + 1
                try admin.declareQueue(
                    q,
                    arguments: [
                        "x-message-ttl": .int(longest), "x-dead-letter-exchange": .string(""), "x-dead-letter-routing-key": .string(work),
                    ])
            }
        }
        let schedule = (1..<maxAttempts).map { "\(Self.delayMs(afterAttempt: $0, base: baseMs)) ms" }.joined(separator: ", ")
        lab.step(
            "Declared \(work) (dead-letter exchange \(broken == "no-dlq" ? "none (break=no-dlq)" : dlx) → \(dlq)) and \(waits.count) wait queues",
            "retry delays \(schedule), each ± \(Int(jitter * 100))% jitter; a wait queue's expired messages are dead-lettered back to \(work)")

        // Part 1: retries and dead letters.
        let ids = (1...total).map { String(format: "job-%04d", $0) }
        try await AMQPThread.run { for id in ids { try admin.publish(routingKey: work, body: id, messageID: id) } }
        let log = Log()
        let origin = ContinuousClock.now
        let longestWait = Double((1..<maxAttempts).map { Self.delayMs(afterAttempt: $0, base: baseMs) }.max() ?? 0) * (1 + jitter) / 1000
        let worker = Worker(
            port: broker.port, work: work, prefix: prefix, total: total, poisonEvery: poisonEvery,
            maxAttempts: maxAttempts, baseMs: baseMs, jitter: jitter, broken: broken, idleSeconds: longestWait + 5)
        try await AMQPThread.run("retries.worker") { try worker.run(log: log, origin: origin) }
        // What reached the DLQ.
        let dead: [String] = try await AMQPThread.run {
            var out: [String] = []
            let deadline = Date().addingTimeInterval(10)
            // Dead-lettering is asynchronous: wait until every rejected job could have arrived.
            while Date() < deadline {
                if let d = try admin.get(queue: dlq, autoAck: true) { out.append(d.body); continue }
                if out.count >= log.state.withLock({ $0.rejected.count }) || broken == "no-dlq" { break }
                usleep(20_000)
            }
            return out
        }
        let s = log.state.withLock { $0 }
        let poison = ids.filter { Self.failures(of: Int($0.dropFirst(4))!, poisonEvery: poisonEvery, maxAttempts: maxAttempts) == nil }
        let retriedJobs = s.attempts.filter { $0.value.count > 1 }.count
        lab.step(
            "A worker handled \(total) jobs: \(poison.count) poison, the rest failing 0–2 times before succeeding",
            "\(s.attempts.values.map(\.count).reduce(0, +)) attempts, \(retriedJobs) job(s) retried; done \(s.done.count), rejected after their last attempt \(s.rejected.count), found in the DLQ \(dead.count)"
        )

        // Retry gaps, measured on the monotonic clock: attempt k+1 - attempt k.
        var early: [String] = [], late: [String] = [], outOfRange: [String] = []
        var gaps: [Double] = [], ratios: Set<Int> = []
        let slackMs = 2_000.0 + 2 * jitter * Double(Self.delayMs(afterAttempt: max(1, maxAttempts - 1), base: baseMs))
        for (id, attempts) in s.attempts.sorted(by: { $0.key < $1.key }) {
            for (a, b) in zip(attempts, attempts.dropFirst()) {
                let gap = Measure.seconds(b.at - a.at) * 1000
                let planned = Double(b.plannedDelayMs ?? 0)
                let nominal = Double(Self.delayMs(afterAttempt: a.attempt, base: baseMs))
                gaps.append(gap)
                ratios.insert(Int((planned / nominal * 1000).rounded()))
                if planned < nominal * (1 - jitter) - 1 || planned > nominal * (1 + jitter) + 1 {
                    outOfRange.append("\(id) #\(b.attempt): planned \(Int(planned)) ms, configured \(Int(nominal)) ± \(Int(jitter * 100))%")
                }
                if gap < planned - 5 { early.append("\(id) #\(b.attempt) after \(Int(gap)) ms, planned \(Int(planned))") }
                if gap > planned + slackMs { late.append("\(id) #\(b.attempt) after \(Int(gap)) ms, planned \(Int(planned))") }
            }
        }
        if let shortest = gaps.min(), let longest = gaps.max() {
            lab.figure("shortest retry gap", shortest, "ms")
            lab.figure("longest retry gap", longest, "ms")
        }
        // Jitter: with a spread configured, the planned delays must not all sit at one point of
        // the schedule (in lockstep, every job's retry k would land at the same moment). Judged
        // when the spread is at least ±5 ms, so whole milliseconds can show it, and there are
        // four retries or more.
        let spreadJudged = jitter * Double(baseMs) >= 5 && gaps.count >= 4
        let lockstep =
            spreadJudged && ratios.count < 2
            ? ["no jitter: all \(gaps.count) retries planned exactly \(Double(ratios.first ?? 1000) / 1000)× their configured delay"] : []
        let bad = outOfRange + lockstep + early + late
        lab.check(
            "retries wait as configured (exponential backoff with jitter)", !gaps.isEmpty && bad.isEmpty,
            expected:
                "each retry of attempt k comes no sooner than its planned delay, which lies in \(baseMs)·2^(k-1) ms ± \(Int(jitter * 100))% (and no later than \(Int(slackMs)) ms after it)\(spreadJudged ? "; the planned delays are spread, not all at one point of the schedule" : "")",
            observed: gaps.isEmpty
                ? "no retries happened"
                : bad.isEmpty
                    ? "\(gaps.count) retries, gaps \(Int(gaps.min()!))–\(Int(gaps.max()!)) ms, each at or after its plan"
                    : bad.prefix(4).joined(separator: "; "))

        let poisonWrong = poison.filter { id in (s.attempts[id]?.count ?? 0) != maxAttempts || !dead.contains(id) }
        let innocent = dead.filter { !poison.contains($0) }
        lab.check(
            "poison jobs dead-lettered after exactly max-attempts attempts", poisonWrong.isEmpty && innocent.isEmpty && !poison.isEmpty,
            expected: "each of the \(poison.count) poison jobs tried \(maxAttempts) times, then in \(dlq); no other job there",
            observed: poison.isEmpty
                ? "no poison job in this run (poison-every > messages)"
                : poison.map { "\($0): \(s.attempts[$0]?.count ?? 0) attempts, \(dead.contains($0) ? "in the DLQ" : "not in the DLQ")" }.prefix(5).joined(
                    separator: "; ")
                    + (innocent.isEmpty ? "" : "; wrongly dead-lettered: \(innocent.joined(separator: ", "))"))

        let lost = ids.filter { s.done[$0] == nil && !dead.contains($0) }
        let both = ids.filter { s.done[$0] != nil && dead.contains($0) }
        let twice = s.done.filter { $0.value > 1 }.keys.sorted()
        lab.check(
            "nothing lost: every job done or in the DLQ, once", lost.isEmpty && both.isEmpty && twice.isEmpty,
            expected: "\(total) = done + dead-lettered, no job in both, none done twice",
            observed: "\(s.done.count) done + \(dead.count) in the DLQ of \(total)" + (lost.isEmpty ? "" : "; lost: \(lost.prefix(6).joined(separator: ", "))")
                + (both.isEmpty ? "" : "; in both: \(both.joined(separator: ", "))") + (twice.isEmpty ? "" : "; done twice: \(twice.joined(separator: ", "))"))

        // Part 2: a bounded queue and a fast producer.
        try await AMQPThread.run {
            try admin.declareQueue(intake, arguments: broken == "no-limit" ? [:] : ["x-max-length": .int(limit), "x-overflow": .string("reject-publish")])
        }
        let produced = limit * 4
        let pressure = Pressure()
        let port = broker.port
        let dropRefused = broken == "drop-refused"
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await AMQPThread.run("retries.producer") { try pressure.produce(port: port, queue: intake, count: produced, dropRefused: dropRefused) }
            }
            group.addTask {
                try await AMQPThread.run("retries.consumer") { try pressure.consume(port: port, queue: intake, expected: produced) }
            }
            try await group.waitForAll()
        }
        let p = pressure.state.withLock { $0 }
        let seconds = Measure.seconds(ContinuousClock.now - started)
        lab.step(
            "A producer published \(produced) messages as fast as confirms came back into \(intake) (\(broken == "no-limit" ? "unbounded (break=no-limit)" : "x-max-length \(limit), x-overflow reject-publish")); the consumer started once the producer was refused or done, 3 ms a message",
            "\(p.refused) publishes refused (nacked) and \(dropRefused ? "dropped (break=drop-refused)" : "retried after a backoff"); \(p.consumed.count) consumed in \(String(format: "%.2f", seconds)) s"
        )
        lab.figure("publishes refused by the full queue", Double(p.refused), "nacks")
        lab.check(
            "a full queue refuses a fast producer", p.refused > 0,
            expected: "the broker nacks publishes once \(limit) messages wait",
            observed: "\(p.refused) refused of \(p.attempts) publishes")
        var counts: [String: Int] = [:]
        for id in p.consumed { counts[id, default: 0] += 1 }
        let missing = (1...produced).map { String(format: "msg-%04d", $0) }.filter { counts[$0] == nil }
        let dup = counts.filter { $0.value > 1 }.count
        lab.check(
            "under backpressure nothing is lost: every message consumed once", missing.isEmpty && dup == 0,
            expected: "\(produced) produced, \(produced) consumed, each once",
            observed: "\(counts.count) distinct consumed of \(produced)"
                + (missing.isEmpty ? "" : "; missing \(missing.count): \(missing.prefix(5).joined(separator: ", "))") + (dup == 0 ? "" : "; \(dup) twice"))
    }

    /// The bounded-queue experiment's producer and consumer.
    final class Pressure: Sendable {
        struct State { var refused = 0; var attempts = 0; var producerDone = false; var consumed: [String] = [] }
        let state = Mutex(State())

        func produce(port: Int, queue: String, count: Int, dropRefused: Bool) throws {
            let c = try AMQPConnection.open(port: port)
            defer { c.close(); state.withLock { $0.producerDone = true } }
            try c.confirmSelect()
            for i in 1...count {
                let id = String(format: "msg-%04d", i)
                var backoff: useconds_t = 5_000
                while true {
                    state.withLock { $0.attempts += 1 }
                    if try c.publishConfirmed(routingKey: queue, body: id) { break }
                    state.withLock { $0.refused += 1 }
                    if dropRefused { break }
                    usleep(backoff)
                    backoff = min(backoff * 2, 100_000)
                }
            }
        }

        func consume(port: Int, queue: String, expected: Int) throws {
            let c = try AMQPConnection.open(port: port)
            defer { c.close() }
            // Start late, so the queue fills: once the producer was refused, or has finished.
            let deadline = Date().addingTimeInterval(120)
            while !state.withLock({ $0.refused > 0 || $0.producerDone }) && Date() < deadline { usleep(1_000) }
            try c.qos(prefetch: 1)
            try c.consume(queue: queue)
            var last = Date()
            while state.withLock({ $0.consumed.count }) < expected {
                guard let d = try c.next(timeout: 0.2) else {
                    if state.withLock({ $0.producerDone }) && Date().timeIntervalSince(last) > 2 { return }
                    continue
                }
                last = Date()
                usleep(3_000)
                state.withLock { $0.consumed.append(d.body) }
                try c.ack(d)
            }
        }
    }
}
