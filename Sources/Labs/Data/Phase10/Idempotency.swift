// Idempotency keys: making a non-idempotent POST safe to retry.
//
// A client that times out cannot tell whether its "charge €10" request was lost or only
// its response was, so it retries — and without protection the customer pays twice. The
// fix (Stripe's `Idempotency-Key` header): the client sends a unique key with the request;
// the server stores, per key, a fingerprint of the request and the response it gave, in
// the SAME transaction as the side effect. A duplicate then gets the stored response
// replayed byte for byte, and the same key with a different payload is refused (422).
//
// "Look the key up, then act" is only safe when the look-up and the act are one atomic
// unit: here one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock first so
// concurrent duplicates queue up, plus a primary key on the key column as a backstop.
// The lab also runs the naive version — look-up and act in separate transactions — with
// every duplicate checking before any acts, and counts the double charges.
//
// `break=` plants a classic mistake (a key that replays whatever payload comes with it, a
// response rendered apart from the row it describes, duplicates of the naive race sent one
// after another); each is caught by the check named in its help. `honour-keys=false`
// ignores the key altogether: every retry charges again.
import Foundation
import GRDB
import LabCatalog
import LabKit
import Synchronization

struct ChargeRequest: Codable, Equatable, Sendable {
    var account: String
    var amountCents: Int
    /// The request's fingerprint: SHA-256 of its canonical JSON.
    var fingerprint: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return SQLiteLab.SHA256.hex(String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self))
    }
}

struct ChargeResponse: Codable, Equatable, Sendable {
    var chargeID: Int64
    var account: String
    var amountCents: Int
    /// Made up when the charge is created: only a replay can reproduce it.
    var receipt: String
}

/// What an HTTP handler would send back: a status and a body.
struct Reply: Equatable, Sendable {
    var status: Int
    var body: String
    var replayed: Bool
}

/// The payment service, as one instance of it sees the database (its own connection).
final class ChargeService: Sendable {
    let dbQueue: DatabaseQueue
    /// false: ignore the key and execute every request (to watch the checks fail).
    let honoursKeys: Bool
    /// A planted mistake (`break=`), or `.none`.
    let breaker: IdempotencyLab.Breaker

    init(dbQueue: DatabaseQueue, honoursKeys: Bool = true, breaker: IdempotencyLab.Breaker = .none) {
        self.dbQueue = dbQueue; self.honoursKeys = honoursKeys; self.breaker = breaker
    }

    static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE charge (
                    id INTEGER PRIMARY KEY, idempotency_key TEXT, account TEXT NOT NULL,
                    amount_cents INTEGER NOT NULL, receipt TEXT NOT NULL);
                CREATE TABLE idempotency_key (
                    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL);
                CREATE TABLE naive_key (key TEXT, status INTEGER NOT NULL, body TEXT NOT NULL);
                """)
    }

    /// `POST /charges` with an `Idempotency-Key`.
    func post(key: String, _ request: ChargeRequest) async throws -> Reply {
        let honoursKeys = self.honoursKeys, breaker = self.breaker
        return try await dbQueue.writeWithoutTransaction { db in
            var reply: Reply?
            try db.inTransaction(.immediate) {
                if honoursKeys, let row = try Row.fetchOne(db, sql: "SELECT fingerprint, status, body FROM idempotency_key WHERE key = ?", arguments: [key]) {
                    let fingerprint: String = row["fingerprint"]
                    // The mistake no-fingerprint-check replays the stored response whatever was sent.
                    reply =
                        fingerprint == request.fingerprint || breaker == .noFingerprintCheck
                        ? Reply(status: row["status"], body: row["body"], replayed: true)
                        : Reply(status: 422, body: #"{"error":"this Idempotency-Key was used with a different request"}"#, replayed: false)
                    return .commit
                }
                let body = try Self.charge(db, key: key, request, breaker: breaker)
                if honoursKeys {
                    try db.execute(
                        sql: "INSERT INTO idempotency_key (key, fingerprint, status, body) VALUES (?, ?, 201, ?)",
                        arguments: [key, request.fingerprint, body])
                }
                reply = Reply(status: 201, body: body, replayed: false)
                return .commit
            }
            guard let reply else { throw LabError("the charge transaction produced no reply") }
            return reply
        }
    }

    /// The side effect: a charge row, and the response describing it.
    static func charge(_ db: Database, key: String, _ request: ChargeRequest, breaker: IdempotencyLab.Breaker = .none) throws -> String {
        let receipt = UUID().uuidString
        try db.execute(
            sql: "INSERT INTO charge (idempotency_key, account, amount_cents, receipt) VALUES (?, ?, ?, ?)",
            arguments: [key, request.account, request.amountCents, receipt])
        // The mistake receipt-made-twice renders the response with a receipt of its own.
        let said = breaker == .receiptMadeTwice ? UUID().uuidString : receipt
        let response = ChargeResponse(chargeID: db.lastInsertedRowID, account: request.account, amountCents: request.amountCents, receipt: said)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(response), as: UTF8.self)
    }

    // The naive version, in two steps with a gap between them.

    func naiveLookUp(key: String) async throws -> Reply? {
        try await dbQueue.read { db in
            try Row.fetchOne(db, sql: "SELECT status, body FROM naive_key WHERE key = ?", arguments: [key])
                .map { Reply(status: $0["status"], body: $0["body"], replayed: true) }
        }
    }

    /// The naive handler: look the key up, and if it is not there, charge. `gap` stands for
    /// whatever the handler awaits between the two (a fraud check, a network hop): while it
    /// waits, other requests with the same key run their own look-up.
    func naivePost(key: String, _ request: ChargeRequest, gap: @Sendable () async -> Void) async throws -> Reply {
        if let stored = try await naiveLookUp(key: key) { return stored }
        await gap()
        return try await naiveAct(key: key, request)
    }

    func naiveAct(key: String, _ request: ChargeRequest) async throws -> Reply {
        try await dbQueue.write { db in
            let body = try Self.charge(db, key: "naive:" + key, request)
            try db.execute(sql: "INSERT INTO naive_key (key, status, body) VALUES (?, 201, ?)", arguments: [key, body])
            return Reply(status: 201, body: body, replayed: false)
        }
    }
}

struct IdempotencyLab: Lab {
    static let keys = Knob.int("keys", 2...10000, default: 40, quick: 10, help: "Idempotency keys sent (half retried one after another, half raced).")
    static let duplicates = Knob.int("duplicates", 2...64, default: 8, quick: 4, help: "Concurrent copies of each raced request.")
    static let retries = Knob.int("retries", 1...20, default: 3, quick: 2, help: "Retries after the first attempt, for the retried keys.")
    static let instances = Knob.int("instances", 1...16, default: 4, quick: 2, help: "Service instances, each with its own connection to the database.")
    static let honourKeys = Knob.bool("honour-keys", default: true, help: "Honour the Idempotency-Key; false executes every request (the checks then fail).")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: no-fingerprint-check (a used key replays its stored response whatever payload \
            comes with it: the different-payload check), receipt-made-twice (the response is rendered with a \
            receipt of its own, not the one stored with the charge: the describes-the-row check), \
            sequential-naive (the naive handler's duplicates are sent one after another, so none overlaps: \
            the check-then-act check).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case noFingerprintCheck = "no-fingerprint-check"
        case receiptMadeTwice = "receipt-made-twice"
        case sequentialNaive = "sequential-naive"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let oneChargePerKey = "exactly one charge per key, under retries and races"
    static let sameResponse = "every duplicate got the same response, byte for byte"
    static let oneCreated = "one request per key created, every other one replayed"
    static let describesRow = "each replayed response describes the charge row really written"
    static let differentPayloadRefused = "a different payload under a used key is refused (422) and charges nothing"
    static let naiveDoubleCharges = "check-then-act in separate transactions charges once per duplicate"

    static let info = LabInfo(
        id: "idempotency", title: "Idempotency keys under retries and races", phase: 10,
        teaches:
            "Storing the key, a request fingerprint and the response in the same transaction as the side effect gives exactly one charge per key under retries and concurrent duplicates, replays the same response, and refuses a reused key with a different payload; check-then-act in separate transactions double-charges.",
        parameters: [keys.parameter, duplicates.parameter, retries.parameter, instances.parameter, honourKeys.parameter, breaker.parameter],
        source: "Sources/Labs/Data/Phase10/Idempotency.swift")

    struct Sent: Sendable { var key: String; var reply: Reply }

    /// What the database and the replies say about each key.
    struct Audit: Equatable, Sendable {
        var keys = 0
        var keysWithOneCharge = 0
        var charges = 0
        var keysWithOneDistinctBody = 0
        var created = 0
        var replayed = 0
        var bodiesMatchingTheirCharge = 0
    }

    static func audit(_ sent: [Sent], _ db: Database) throws -> Audit {
        var a = Audit()
        let byKey = Dictionary(grouping: sent, by: \.key)
        a.keys = byKey.count
        a.created = sent.filter { $0.reply.status == 201 && !$0.reply.replayed }.count
        a.replayed = sent.filter(\.reply.replayed).count
        for (key, replies) in byKey {
            let charges = try Int.fetchOne(db, sql: "SELECT count(*) FROM charge WHERE idempotency_key = ?", arguments: [key]) ?? 0
            a.charges += charges
            if charges == 1 { a.keysWithOneCharge += 1 }
            let bodies = Set(replies.map(\.reply.body))
            if bodies.count == 1 { a.keysWithOneDistinctBody += 1 }
            // The replayed body describes the row really written.
            if let body = bodies.first, bodies.count == 1,
                let response = try? JSONDecoder().decode(ChargeResponse.self, from: Data(body.utf8)),
                let receipt = try String.fetchOne(db, sql: "SELECT receipt FROM charge WHERE id = ?", arguments: [response.chargeID]),
                receipt == response.receipt
            {
                a.bodiesMatchingTheirCharge += 1
            }
        }
        return a
    }

    func run(_ lab: LabContext) async throws {
        let keys = lab[Self.keys]
        let duplicates = lab[Self.duplicates]
        let retries = lab[Self.retries]
        let instanceCount = lab[Self.instances]
        let honoursKeys = lab[Self.honourKeys]
        let breaker = lab[Self.breaker]

        // Several service instances, each with its own connection to one database file.
        let first = try SQLiteLab.open(in: lab.scratch, name: "payments.sqlite", wal: true, busyTimeout: 30)
        lab.engine("SQLite \(try SQLiteLab.version(first))")
        try await first.write(ChargeService.createSchema)
        var instances = [ChargeService(dbQueue: first, honoursKeys: honoursKeys, breaker: breaker)]
        for _ in 1..<instanceCount {
            instances.append(
                ChargeService(
                    dbQueue: try SQLiteLab.open(in: lab.scratch, name: "payments.sqlite", wal: true, busyTimeout: 30), honoursKeys: honoursKeys,
                    breaker: breaker))
        }
        let services = instances
        func request(_ k: Int) -> ChargeRequest { ChargeRequest(account: "acct-\(k % 5)", amountCents: 100 * (k + 1)) }

        // 1. Retries: the client resends after (pretend) time-outs, to any instance.
        let retryKeys = max(1, keys / 2)
        var sent: [Sent] = []
        for k in 0..<retryKeys {
            for attempt in 0...retries {
                let key = "retry-\(k)"
                sent.append(Sent(key: key, reply: try await services[(k + attempt) % services.count].post(key: key, request(k))))
            }
        }
        // 2. Races: every duplicate of a key in flight at once, spread over the instances.
        let raceKeys = max(1, keys - retryKeys)
        let (raced, raceSeconds) = try await Measure.time {
            try await withThrowingTaskGroup(of: Sent.self) { group in
                for k in 0..<raceKeys {
                    for d in 0..<duplicates {
                        let key = "race-\(k)", service = services[(k + d) % services.count], body = request(retryKeys + k)
                        group.addTask { Sent(key: key, reply: try await service.post(key: key, body)) }
                    }
                }
                var all: [Sent] = []
                for try await s in group { all.append(s) }
                return all
            }
        }
        sent += raced
        let a = try await first.read { [sent] db in try Self.audit(sent, db) }
        lab.step(
            "Sent \(retryKeys) keys with \(retries) retries each, and \(raceKeys) keys as \(duplicates) concurrent duplicates over \(services.count) instances",
            "\(sent.count) requests: \(a.created) created a charge, \(a.replayed) were replayed; the charge table has \(a.charges) rows for \(a.keys) keys.")
        lab.figure("requests sent", Double(sent.count), "requests")
        lab.figure("side effects (charge rows)", Double(a.charges), "rows")
        lab.figure("responses replayed", Double(a.replayed), "responses")
        lab.figure("race phase time", raceSeconds * 1000, "ms")
        lab.expect(
            Self.oneChargePerKey, "\(a.keysWithOneCharge) of \(a.keys) keys, \(a.charges) charges",
            equals: "\(a.keys) of \(a.keys) keys, \(a.keys) charges")
        lab.expect(Self.sameResponse, a.keysWithOneDistinctBody, equals: a.keys)
        lab.expect(
            Self.oneCreated, "\(a.created) created, \(a.replayed) replayed",
            equals: "\(a.keys) created, \(sent.count - a.keys) replayed")
        lab.expect(Self.describesRow, a.bodiesMatchingTheirCharge, equals: a.keys)

        // 3. The same key with a different payload.
        let chargesBefore = try await first.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM charge") } ?? 0
        var changed = request(retryKeys)
        changed.amountCents += 1
        let misuse = try await services[0].post(key: "race-0", changed)
        let chargesAfter = try await first.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM charge") } ?? 0
        lab.step("Reused key race-0 with amount \(changed.amountCents)", "Status \(misuse.status): \(misuse.body)")
        lab.expect(
            Self.differentPayloadRefused,
            "\(misuse.status), \(chargesAfter - chargesBefore) new charges", equals: "422, 0 new charges")

        // 4. The naive check-then-act. Each duplicate runs the whole naive handler; its gap
        // between look-up and charge lasts until every duplicate has done its look-up (or
        // 5 s), so the interleaving that double-charges happens every run, not by luck. What
        // the handler then does with it is its own code's doing.
        let naiveKey = "naive-0", naiveBody = request(0)
        let missed = Tally()
        var replies: [Reply] = []
        if breaker == .sequentialNaive {
            // The mistake: each duplicate is sent after the previous one's answer, so no two
            // overlap and the race the naive handler loses never happens.
            for d in 0..<duplicates {
                replies.append(try await services[d % services.count].naivePost(key: naiveKey, naiveBody) { missed.add() })
            }
        } else {
            replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for d in 0..<duplicates {
                    let s = services[d % services.count]
                    group.addTask {
                        try await s.naivePost(key: naiveKey, naiveBody) {
                            missed.add()
                            let deadline = ContinuousClock.now + .seconds(5)
                            while missed.value < duplicates && ContinuousClock.now < deadline {
                                try? await Task.sleep(for: .milliseconds(1))
                            }
                        }
                    }
                }
                var all: [Reply] = []
                for try await r in group { all.append(r) }
                return all
            }
        }
        let looked = missed.value
        lab.figure("naive duplicates answered 201 (created)", Double(replies.filter { !$0.replayed }.count), "responses")
        let naiveCharges =
            try await first.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM charge WHERE idempotency_key = ?", arguments: ["naive:" + naiveKey]) } ?? 0
        lab.step(
            "Naive version: \(duplicates) duplicates\(breaker == .sequentialNaive ? ", one after another," : " at once") each looked the key up (separate transaction), then acted",
            "\(looked) of \(duplicates) saw no key and went on to charge; the customer was charged \(naiveCharges) times.")
        lab.figure("charges from the naive check-then-act", Double(naiveCharges), "rows")
        lab.expect(Self.naiveDoubleCharges, naiveCharges, equals: duplicates)
    }
}

/// A count many tasks can add to.
private final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
    func add() { count.wrappingAdd(1, ordering: .sequentiallyConsistent) }
}
