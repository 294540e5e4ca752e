// Publish/subscribe on RabbitMQ: the publisher sends each notification once, to a fanout
// exchange, which copies it into every queue bound to it: one queue per subscriber (email,
// push, audit). Each subscriber therefore gets every notification, at its own pace: a slow
// subscriber's backlog grows in its own queue while the others keep up. Competing consumers
// on one shared queue would split the notifications instead, and one loop calling every
// handler in turn would make everyone wait for the slowest. A durable queue keeps
// collecting while its subscriber is away (a deploy, a crash); a temporary (exclusive)
// queue dies with its connection and the subscriber misses what was sent meanwhile. A
// subscriber acks what it handled, so a reconnect redelivers only what it had not.
import Foundation
import Histogram
import LabKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct PubSubNotificationsLab: Lab {
    static let messages = Knob.int("messages", 8...20_000, default: 200, quick: 40, help: "notifications published while everyone listens")
    static let away = Knob.int("away", 1...5_000, default: 30, quick: 10, help: "notifications published while the email subscriber is disconnected")
    static let slowMs = Knob.int("slow-ms", 1...1_000, default: 20, quick: 25, help: "time the audit subscriber spends on each notification")
    static let breaker = Knob.choice(
        "break", ["none", "shared-queue", "single-consumer", "exclusive-queues", "forget-ack"], default: "none",
        help:
            "shared-queue: the three subscribers compete on one queue; single-consumer: one loop calls the three handlers in turn; exclusive-queues: temporary queues that die with their connection; forget-ack: the email subscriber never acks"
    )

    static let info = LabInfo(
        id: "pubsub-notifications", title: "Fan-out notifications on RabbitMQ", phase: 8,
        teaches:
            "A fanout exchange copies each notification into one queue per subscriber: everyone gets everything, a slow subscriber only delays itself, a durable queue keeps collecting while its subscriber is away, and acks keep a reconnect from repeating work.",
        parameters: [messages.parameter, away.parameter, slowMs.parameter, breaker.parameter],
        needs: [.rabbitmq], source: "Sources/Labs/Queue/Phase08/PubSubNotifications.swift"
    )

    static let subscribers = ["email", "push", "audit"]

    /// What each subscriber saw.
    final class Record: Sendable {
        struct State {
            var received: [String: [String]] = [:]
            /// Notifications the audit subscriber had handled when each subscriber handled its latest one.
            var auditDoneAtLast: [String: Int] = [:]
            var finishedAt: [String: Double] = [:]
            var latency: [String: Histogram<UInt64>] = [:]
            var ready = 0
            /// When the publisher last finished publishing; a subscriber's idle time counts from then at the earliest.
            var publishedAt: Date?
            /// Seconds the audit subscriber was held on its first notification.
            var auditHeld: Double?
        }
        let state = Mutex(State())
        let origin = ContinuousClock.now

        func handled(_ who: String, _ id: String, sentMicros: Int?, expected: Int) {
            let now = ContinuousClock.now - origin
            let micros = UInt64(max(0, Int(Measure.seconds(now) * 1e6) - (sentMicros ?? 0)))
            state.withLock { s in
                s.received[who, default: []].append(id)
                var h = s.latency[who] ?? Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
                _ = h.record(micros)
                s.latency[who] = h
                s.auditDoneAtLast[who] = Set(s.received["audit"] ?? []).count
                if s.finishedAt[who] == nil && Set(s.received[who]!).count >= expected {
                    s.finishedAt[who] = Measure.seconds(now)
                }
            }
        }

        var micros: Int { Int(Measure.seconds(ContinuousClock.now - origin) * 1e6) }

        /// Holds the audit subscriber on its first notification until email and push have
        /// each had all of theirs (`finishedAt`), or `limit` seconds pass. A gate, not timing:
        /// subscribers that do not wait for one another get everything while audit is stuck,
        /// on a quiet machine or a loaded one; a design that makes them wait cannot.
        func holdAudit(limit: Double) {
            let start = ContinuousClock.now
            while Measure.seconds(ContinuousClock.now - start) < limit,
                !state.withLock({ s in s.finishedAt["email"] != nil && s.finishedAt["push"] != nil })
            {
                usleep(2_000)
            }
            let held = Measure.seconds(ContinuousClock.now - start)
            state.withLock { $0.auditHeld = held }
        }
    }

    struct Setup: Sendable {
        var port: Int, exchange: String, prefix: String, broken: String, slowMs: Int
        /// The longest the audit subscriber is held on its first notification.
        static let holdLimit = 10.0

        func queueName(_ who: String) -> String {
            broken == "shared-queue" || broken == "single-consumer" ? prefix + ".all" : prefix + "." + who
        }

        /// Declares (and binds) the queue `who` reads; returns its name.
        func declare(_ c: AMQPConnection, _ who: String) throws -> String {
            if broken == "exclusive-queues" {
                let q = try c.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
                try c.bind(queue: q, exchange: exchange)
                return q
            }
            let q = queueName(who)
            try c.declareQueue(q, durable: true)
            try c.bind(queue: q, exchange: exchange)
            return q
        }

        /// Reads until `expected` distinct notifications came, or nothing came for `idle` seconds
        /// after the publisher finished.
        func listen(_ who: String, record: Record, expected: Int, idle: Double, handlers: [String]) throws {
            let c = try AMQPConnection.open(port: port)
            defer { c.close() }
            let q = try declare(c, who)
            try c.consume(queue: q)
            record.state.withLock { $0.ready += 1 }
            var seen = Set<String>()
            var last = Date()
            let deadline = Date().addingTimeInterval(300)
            while seen.count < expected && Date() < deadline {
                guard let d = try c.next(timeout: 0.2) else {
                    // A quiet queue only counts once everything is published: a publisher
                    // slowed by a loaded machine is not the end of the notifications.
                    if let published = record.state.withLock({ $0.publishedAt }), Date().timeIntervalSince(max(last, published)) > idle {
                        break
                    }
                    continue
                }
                last = Date()
                seen.insert(d.body)
                for h in handlers {
                    if h == "audit" {
                        if record.state.withLock({ $0.auditHeld == nil }) { record.holdAudit(limit: Self.holdLimit) }
                        usleep(useconds_t(slowMs * 1000))
                    }
                    record.handled(h, d.body, sentMicros: d.headers["sent-us"]?.intValue, expected: expected)
                }
                if !(broken == "forget-ack" && who == "email") { try c.ack(d) }
            }
        }
    }

    func run(_ lab: LabContext) async throws {
        let n = lab[Self.messages], m = lab[Self.away], slowMs = lab[Self.slowMs], broken = lab[Self.breaker]
        let broker = try await ThrowawayRabbitMQ.start(for: lab)
        let prefix = "notify-" + String(UUID().uuidString.prefix(8)).lowercased()
        let setup = Setup(port: broker.port, exchange: prefix, prefix: prefix, broken: broken, slowMs: slowMs)
        let admin = try await AMQPThread.run { try broker.connect() }
        defer { admin.close() }
        try await AMQPThread.run { try admin.declareExchange(prefix, type: "fanout", durable: true) }
        lab.onCleanup {
            _ = try? await AMQPThread.run {
                let c = try broker.connect()
                for q in ["all"] + Self.subscribers { try? c.deleteQueue(prefix + "." + q) }
                try? c.deleteExchange(prefix)
                c.close()
            }
        }
        let layout: String
        switch broken {
        case "shared-queue": layout = "one shared queue \(prefix).all, the three subscribers competing on it (break=shared-queue)"
        case "single-consumer": layout = "one queue \(prefix).all read by one loop that calls email, push and audit in turn (break=single-consumer)"
        case "exclusive-queues": layout = "one temporary (exclusive, auto-delete) queue per subscriber connection (break=exclusive-queues)"
        default: layout = "one durable queue per subscriber: \(Self.subscribers.map { prefix + "." + $0 }.joined(separator: ", "))"
        }
        lab.step("Declared the fanout exchange \(prefix)", layout)

        // Phase 1: everyone listens; the audit subscriber is slow.
        let record = Record()
        let listeners: [(String, [String])] = broken == "single-consumer" ? [("all", Self.subscribers)] : Self.subscribers.map { ($0, [$0]) }
        let idle = 3.0 + Double(slowMs) / 1000 * 2
        let phase1 = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (who, handlers) in listeners {
                    group.addTask {
                        try await AMQPThread.run("pubsub.\(who)") { try setup.listen(who, record: record, expected: n, idle: idle, handlers: handlers) }
                    }
                }
                try await group.waitForAll()
            }
        }
        let readyBy = Date().addingTimeInterval(120)
        while record.state.withLock({ $0.ready }) < listeners.count && Date() < readyBy { try await Task.sleep(for: .milliseconds(5)) }
        let publishStart = ContinuousClock.now
        try await AMQPThread.run {
            for i in 1...n {
                let id = String(format: "n-%05d", i)
                try admin.publish(exchange: prefix, routingKey: "", body: id, headers: ["sent-us": .int(record.micros)], messageID: id)
            }
        }
        record.state.withLock { $0.publishedAt = Date() }
        let publishSeconds = Measure.seconds(ContinuousClock.now - publishStart)
        try await phase1.value
        let s1 = record.state.withLock { $0 }
        lab.step(
            "Published \(n) notifications to the exchange in \(String(format: "%.3f", publishSeconds)) s; audit takes \(slowMs) ms each, "
                + "and is held on its first until email and push have all \(n) (at most \(Int(Setup.holdLimit)) s)",
            Self.subscribers.map { who in
                let got = Set(s1.received[who] ?? []).count
                let when = s1.finishedAt[who].map { String(format: "all by %.2f s", $0) } ?? "not all"
                return "\(who): \(got) of \(n) (\(when))"
            }.joined(separator: "; ")
                + (s1.auditHeld.map {
                    String(format: "; audit was held %.2f s", $0) + ($0 >= Setup.holdLimit ? ", until the limit: the others never had all" : "")
                } ?? ""))
        for who in Self.subscribers {
            if let h = s1.latency[who], h.totalCount > 0 {
                lab.figure("\(who) delivery latency p50", Double(h.valueAtPercentile(50)) / 1000, "ms")
                lab.figure("\(who) delivery latency p99", Double(h.valueAtPercentile(99)) / 1000, "ms")
            }
        }

        // Phase 2: the email subscriber was away while `m` more were published.
        let awayIDs = (1...m).map { String(format: "a-%05d", $0) }
        try await AMQPThread.run {
            for id in awayIDs { try admin.publish(exchange: prefix, routingKey: "", body: id, messageID: id) }
        }
        record.state.withLock { $0.publishedAt = Date() }
        let before = Set(record.state.withLock { $0.received["email"] ?? [] })
        try await AMQPThread.run("pubsub.email-back") {
            try setup.listen("email", record: record, expected: Int.max, idle: 1.5, handlers: ["email"])
        }
        let s = record.state.withLock { $0 }
        let emailAll = s.received["email"] ?? []
        let afterReconnect = Array(emailAll.dropFirst(s1.received["email"]?.count ?? 0))
        lab.step(
            "The email subscriber disconnected; \(m) notifications were published; it reconnected",
            "after reconnecting it got \(afterReconnect.count) deliveries: \(Set(afterReconnect).intersection(awayIDs).count) of the \(m) sent while it was away, \(afterReconnect.filter { before.contains($0) }.count) it had handled before"
        )

        // Checks.
        let short = Self.subscribers.filter { Set(s1.received[$0] ?? []).count < n }
        lab.check(
            "every subscriber gets every notification", short.isEmpty,
            expected: "email, push and audit each got all \(n)",
            observed: Self.subscribers.map { "\($0) \(Set(s1.received[$0] ?? []).count)" }.joined(separator: ", "))
        let fast = ["email", "push"]
        let auditAt = fast.map { s1.auditDoneAtLast[$0] }
        let stalled = zip(fast, auditAt).filter { $0.1 == nil || $0.1! > n / 2 }.map(\.0)
        let auditEnd = s1.finishedAt["audit"].map { String(format: "%.2f s", $0) } ?? "never all"
        lab.check(
            "a slow subscriber does not stall the others", stalled.isEmpty,
            expected: "email and push handled their last notification while audit had handled at most half (\(n / 2))",
            observed: zip(fast, auditAt).map { who, a in
                a.map { "\(who)'s last came when audit had handled \($0)" } ?? "\(who) got nothing"
            }.joined(separator: "; ") + "; audit had all at \(auditEnd)")
        for who in fast {
            if let t = s1.finishedAt[who] { lab.figure("\(who) had all \(n) after", t, "s") }
        }
        if let t = s1.finishedAt["audit"] { lab.figure("audit had all \(n) after", t, "s") }
        let missed = awayIDs.filter { !afterReconnect.contains($0) }
        lab.check(
            "a subscriber that was away gets what was sent meanwhile (durable queue)", missed.isEmpty,
            expected: "the email subscriber gets all \(m) notifications published while it was disconnected",
            observed: "got \(m - missed.count) of \(m)")
        var dupes: [String] = []
        for who in Self.subscribers {
            var count: [String: Int] = [:]
            for id in s.received[who] ?? [] { count[id, default: 0] += 1 }
            let d = count.filter { $0.value > 1 }.count
            if d > 0 { dupes.append("\(who): \(d) handled twice") }
        }
        lab.check(
            "no subscriber handles a notification twice (acked after handling)", dupes.isEmpty,
            expected: "each subscriber handled each notification once, across its reconnect",
            observed: dupes.isEmpty ? "none twice" : dupes.joined(separator: "; "))
    }
}
