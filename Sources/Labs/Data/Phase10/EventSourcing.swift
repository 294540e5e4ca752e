// Event sourcing with optimistic concurrency, and a CQRS read model.
//
// An event-sourced account does not store its balance: it stores what happened
// (`opened`, `deposited 40`, `withdrawn 25`) as an append-only stream, and its state is a
// fold over those events. A command is handled by loading the stream, deciding against
// the state it gives (no withdrawal beyond the balance), and appending new events *at the
// version the decision was based on*. If another writer appended in between, the expected
// version is stale and the append is refused; the writer reloads and decides again. A
// UNIQUE (stream, version) constraint makes the database refuse a duplicate version even
// if the code forgets to check.
//
// Reads do not fold streams: a projector follows the event log (by its global sequence
// number, remembering a checkpoint) and keeps a query-side table, `account_view`, up to
// date — Command/Query Responsibility Segregation. Because the events are the truth, the
// read model can be dropped and rebuilt by replaying them from scratch.
//
// `break=` plants a classic mistake in the store, the account or the projector (a sign
// error in the fold, versions counted from 0, a rule that only checks the balance is
// positive, no UNIQUE constraint, a replay that keeps its checkpoint); each is caught by the
// checks named in its help. `optimistic-concurrency=false` drops the version comparison.
import Foundation
import GRDB
import LabCatalog
import LabKit

enum AccountEvent: Equatable, Sendable {
    case opened
    case deposited(Int)
    case withdrawn(Int)

    var type: String {
        switch self {
        case .opened: "opened";
        case .deposited: "deposited";
        case .withdrawn: "withdrawn"
        }
    }
    var amount: Int {
        switch self {
        case .opened: 0;
        case let .deposited(a): a;
        case let .withdrawn(a): a
        }
    }
    init?(type: String, amount: Int) {
        switch type {
        case "opened": self = .opened
        case "deposited": self = .deposited(amount)
        case "withdrawn": self = .withdrawn(amount)
        default: return nil
        }
    }
}

/// The account's state: nothing but a fold over its events.
struct AccountState: Equatable, Sendable {
    var isOpen = false
    var balance = 0
    var version = 0
    var deposits = 0
    var withdrawals = 0

    mutating func apply(_ event: AccountEvent, breaker: EventSourcingLab.Breaker = .none) {
        version += 1
        switch event {
        case .opened: isOpen = true
        case let .deposited(a): balance += a; deposits += 1
        // The sign error: a withdrawal folded as if it were a deposit.
        case let .withdrawn(a): balance += breaker == .withdrawalAdds ? a : -a; withdrawals += 1
        }
    }

    static func fold(_ events: [AccountEvent], breaker: EventSourcingLab.Breaker = .none) -> AccountState {
        events.reduce(into: AccountState()) { $0.apply($1, breaker: breaker) }
    }
}

enum AccountCommand: Sendable {
    case open, deposit(Int), withdraw(Int)
}

enum AccountRefusal: Error, Equatable {
    case notOpen, alreadyOpen, insufficientFunds
}

/// The append was based on a version that is no longer the stream's latest.
struct ConcurrencyConflict: Error, Equatable, CustomStringConvertible {
    var stream: String, expected: Int, actual: Int
    var description: String { "stream \(stream) is at version \(actual), not the expected \(expected)" }
}

/// Decides which events a command produces, given the current state.
func decide(
    _ command: AccountCommand, _ state: AccountState, breaker: EventSourcingLab.Breaker = .none
) throws(AccountRefusal) -> [AccountEvent] {
    switch command {
    case .open:
        guard !state.isOpen else { throw .alreadyOpen }
        return [.opened]
    case let .deposit(a):
        guard state.isOpen else { throw .notOpen }
        return [.deposited(a)]
    case let .withdraw(a):
        guard state.isOpen else { throw .notOpen }
        // The rule is that the balance covers the amount; the mistake only asks for money left.
        guard breaker == .positiveBalanceOnly ? state.balance > 0 : state.balance >= a else { throw .insufficientFunds }
        return [.withdrawn(a)]
    }
}

/// The event store as one writer sees it (its own connection).
final class EventStore: Sendable {
    let dbQueue: DatabaseQueue
    /// false: append without comparing versions (last writer wins), to watch checks fail.
    let checksVersion: Bool
    /// A planted mistake (`break=`), or `.none`.
    let breaker: EventSourcingLab.Breaker

    init(dbQueue: DatabaseQueue, checksVersion: Bool = true, breaker: EventSourcingLab.Breaker = .none) {
        self.dbQueue = dbQueue; self.checksVersion = checksVersion; self.breaker = breaker
    }

    static func createSchema(_ db: Database, breaker: EventSourcingLab.Breaker = .none) throws {
        let unique = breaker == .noUniqueVersion ? "" : ",\n        UNIQUE (stream, version)"
        try db.execute(
            sql: """
                CREATE TABLE event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    stream TEXT NOT NULL, version INTEGER NOT NULL,
                    type TEXT NOT NULL, amount INTEGER NOT NULL\(unique));
                CREATE TABLE account_view (
                    stream TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL,
                    deposits INTEGER NOT NULL, withdrawals INTEGER NOT NULL);
                CREATE TABLE projection_checkpoint (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
                """)
    }

    static func events(_ db: Database, stream: String) throws -> [AccountEvent] {
        try Row.fetchAll(db, sql: "SELECT type, amount FROM event WHERE stream = ? ORDER BY version", arguments: [stream])
            .compactMap { AccountEvent(type: $0["type"], amount: $0["amount"]) }
    }

    func load(_ stream: String) async throws -> AccountState {
        AccountState.fold(try await dbQueue.read { try Self.events($0, stream: stream) }, breaker: breaker)
    }

    /// Appends `events` after `expectedVersion`, or refuses with `ConcurrencyConflict`.
    func append(_ stream: String, expectedVersion: Int, _ events: [AccountEvent]) async throws {
        let checksVersion = self.checksVersion
        // Versions counted from 0: the stream's version is its number of events, and the
        // next event is written at that number (0 for the first) instead of one past it.
        let zeroBased = breaker == .zeroBasedVersions
        try await dbQueue.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                let current = zeroBased ? "count(*)" : "coalesce(max(version), 0)"
                let actual = try Int.fetchOne(db, sql: "SELECT \(current) FROM event WHERE stream = ?", arguments: [stream]) ?? 0
                if checksVersion, actual != expectedVersion {
                    throw ConcurrencyConflict(stream: stream, expected: expectedVersion, actual: actual)
                }
                let base = checksVersion ? expectedVersion : actual
                for (i, e) in events.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO event (stream, version, type, amount) VALUES (?, ?, ?, ?)",
                        arguments: [stream, base + i + (zeroBased ? 0 : 1), e.type, e.amount])
                }
                return .commit
            }
        }
    }

    enum Handled: Sendable { case accepted(AccountEvent), refused(AccountRefusal) }

    /// Load, decide, append; on a conflict, reload and decide again.
    func handle(_ command: AccountCommand, on stream: String, conflicts: inout Int) async throws -> Handled {
        for _ in 0..<1000 {
            let state = try await load(stream)
            let events: [AccountEvent]
            do { events = try decide(command, state, breaker: breaker) } catch { return .refused(error) }
            do {
                try await append(stream, expectedVersion: state.version, events)
                return .accepted(events[0])
            } catch is ConcurrencyConflict {
                conflicts += 1
            }
        }
        throw LabError("command on \(stream) kept conflicting")
    }

    /// The projector: applies every event after its checkpoint to `account_view`, in SQL
    /// (independently of `AccountState.apply`). Returns how many events it applied.
    static func project(_ db: Database) throws -> Int {
        let from = try Int.fetchOne(db, sql: "SELECT seq FROM projection_checkpoint WHERE name = 'accounts'") ?? 0
        let rows = try Row.fetchAll(db, sql: "SELECT seq, stream, version, type, amount FROM event WHERE seq > ? ORDER BY seq", arguments: [from])
        for r in rows {
            let stream: String = r["stream"], version: Int = r["version"], amount: Int = r["amount"], type: String = r["type"]
            switch type {
            case "opened":
                try db.execute(sql: "INSERT INTO account_view VALUES (?, 0, ?, 0, 0)", arguments: [stream, version])
            case "deposited":
                try db.execute(
                    sql: "UPDATE account_view SET balance = balance + ?, version = ?, deposits = deposits + 1 WHERE stream = ?",
                    arguments: [amount, version, stream])
            case "withdrawn":
                try db.execute(
                    sql: "UPDATE account_view SET balance = balance - ?, version = ?, withdrawals = withdrawals + 1 WHERE stream = ?",
                    arguments: [amount, version, stream])
            default:
                throw LabError("unknown event type \(type)")
            }
        }
        if let last = rows.last {
            let seq: Int = last["seq"]
            try db.execute(sql: "INSERT INTO projection_checkpoint VALUES ('accounts', ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq", arguments: [seq])
        }
        return rows.count
    }

    static func readModel(_ db: Database) throws -> [String: AccountState] {
        var result: [String: AccountState] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT * FROM account_view") {
            result[r["stream"]] = AccountState(
                isOpen: true, balance: r["balance"], version: r["version"], deposits: r["deposits"], withdrawals: r["withdrawals"])
        }
        return result
    }

    /// Every stream's state, folded from its events in Swift.
    static func rebuilt(_ db: Database, breaker: EventSourcingLab.Breaker = .none) throws -> [String: AccountState] {
        var result: [String: AccountState] = [:]
        for stream in try String.fetchAll(db, sql: "SELECT DISTINCT stream FROM event") {
            result[stream] = AccountState.fold(try events(db, stream: stream), breaker: breaker)
        }
        return result
    }
}

struct EventSourcingLab: Lab {
    static let accounts = Knob.int("accounts", 1...1000, default: 5, quick: 3, help: "Accounts (event streams); fewer accounts, more conflicts.")
    static let commands = Knob.int("commands", 1...100000, default: 800, quick: 120, help: "Deposit and withdraw commands, shared among the writers.")
    static let writers = Knob.int("writers", 1...16, default: 4, quick: 3, help: "Concurrent writers, each with its own connection.")
    static let optimisticConcurrency = Knob.bool(
        "optimistic-concurrency", default: true, help: "Compare the expected version on append; false lets stale appends through (the checks then fail).")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: withdrawal-adds (the fold adds withdrawals, a sign error: the read-model and \
            balance checks), zero-based-versions (an event is written at the stream's event count, 0 for the \
            first: the read-model, versions and UNIQUE checks), positive-balance-only (a withdrawal is allowed \
            whenever the balance is positive, whatever the amount: the overdrawn check), no-unique-version (the \
            event table lacks UNIQUE (stream, version): the database check), replay-keeps-checkpoint (the \
            replay empties account_view but keeps the projector's checkpoint: the replay check).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case withdrawalAdds = "withdrawal-adds"
        case zeroBasedVersions = "zero-based-versions"
        case positiveBalanceOnly = "positive-balance-only"
        case noUniqueVersion = "no-unique-version"
        case replayKeepsCheckpoint = "replay-keeps-checkpoint"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let readModelMatches = "state rebuilt from events equals the read model, for every account"
    static let noLostUpdate = "no lost update: every balance equals what the writers saw accepted"
    static let versionsContiguous = "each stream's versions run 1, 2, 3… without gaps or duplicates"
    static let neverOverdrawn = "no account was ever overdrawn (decisions were made on current state)"
    static let staleRefused = "an append with a stale expected version is refused"
    static let onlyFreshLanded = "only the fresh append landed"
    static let databaseRefusesDuplicate = "the database refuses a second event at an existing version"
    static let replayMatches = "replay from scratch gives the same read model"

    static let info = LabInfo(
        id: "event-sourcing", title: "An event-sourced account with a CQRS read model", phase: 10,
        teaches:
            "State is a fold over an append-only stream; appends carry the version they were decided on, so a concurrent append with a stale version is refused and retried, and a projected read model always equals a replay from scratch.",
        parameters: [accounts.parameter, commands.parameter, writers.parameter, optimisticConcurrency.parameter, breaker.parameter],
        source: "Sources/Labs/Data/Phase10/EventSourcing.swift")

    /// What one writer did, as it saw it.
    struct Tally: Sendable {
        var accepted = 0, refused = 0, conflicts = 0
        var net: [String: Int] = [:]
    }

    static func writer(_ store: EventStore, accounts: [String], commands: Int, seed: UInt64) async throws -> Tally {
        var rng = SQLiteLab.Random(seed: seed)
        var tally = Tally()
        for _ in 0..<commands {
            let stream = accounts[Int.random(in: 0..<accounts.count, using: &rng)]
            let command: AccountCommand =
                Bool.random(using: &rng)
                ? .deposit(Int.random(in: 1...100, using: &rng)) : .withdraw(Int.random(in: 1...150, using: &rng))
            switch try await store.handle(command, on: stream, conflicts: &tally.conflicts) {
            case .accepted(.deposited(let a)): tally.accepted += 1; tally.net[stream, default: 0] += a
            case .accepted(.withdrawn(let a)): tally.accepted += 1; tally.net[stream, default: 0] -= a
            case .accepted: tally.accepted += 1
            case .refused: tally.refused += 1
            }
        }
        return tally
    }

    func run(_ lab: LabContext) async throws {
        let accountCount = lab[Self.accounts]
        let commands = lab[Self.commands]
        let writerCount = lab[Self.writers]
        let checksVersion = lab[Self.optimisticConcurrency]
        let breaker = lab[Self.breaker]

        let main = try SQLiteLab.open(in: lab.scratch, name: "events.sqlite", wal: true, busyTimeout: 30)
        lab.engine("SQLite \(try SQLiteLab.version(main))")
        try await main.write { try EventStore.createSchema($0, breaker: breaker) }
        var connections = [main]
        for _ in 1..<writerCount { connections.append(try SQLiteLab.open(in: lab.scratch, name: "events.sqlite", wal: true, busyTimeout: 30)) }
        let stores = connections.map { EventStore(dbQueue: $0, checksVersion: checksVersion, breaker: breaker) }
        let accounts = (1...accountCount).map { "account-\($0)" }
        var ignored = 0
        for a in accounts { _ = try await stores[0].handle(.open, on: a, conflicts: &ignored) }

        // 1. Concurrent writers on few accounts: conflicts are bound to happen.
        let perWriter = max(1, commands / writerCount)
        let (tallies, seconds) = try await Measure.time {
            try await withThrowingTaskGroup(of: Tally.self) { group in
                for (w, store) in stores.enumerated() {
                    group.addTask { try await Self.writer(store, accounts: accounts, commands: perWriter, seed: UInt64(100 + w)) }
                }
                var all: [Tally] = []
                for try await t in group { all.append(t) }
                return all
            }
        }
        let accepted = tallies.reduce(0) { $0 + $1.accepted }, refused = tallies.reduce(0) { $0 + $1.refused }
        let conflicts = tallies.reduce(0) { $0 + $1.conflicts }
        var net: [String: Int] = [:]
        for t in tallies { for (k, v) in t.net { net[k, default: 0] += v } }
        let eventCount = try await main.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event") } ?? 0
        lab.step(
            "\(stores.count) writers sent \(perWriter * stores.count) deposit/withdraw commands to \(accountCount) accounts",
            "\(accepted) accepted, \(refused) refused for insufficient funds; \(conflicts) appends hit a stale version and were retried. \(eventCount) events stored."
        )
        lab.figure("commands accepted", Double(accepted), "commands")
        lab.figure("optimistic-concurrency conflicts retried", Double(conflicts), "conflicts")
        lab.figure("command throughput", Double(perWriter * stores.count) / max(seconds, 1e-9), "commands/s")

        // 2. The projector builds the read model.
        let (projected, projectSeconds) = try await Measure.time { try await main.write(EventStore.project) }
        let again = try await main.write(EventStore.project)
        let (view, rebuilt) = try await main.read { db in (try EventStore.readModel(db), try EventStore.rebuilt(db, breaker: breaker)) }
        lab.step(
            "Projected the event log into account_view",
            "\(projected) events applied in \(String(format: "%.1f", projectSeconds * 1000)) ms; a second run applied \(again).")
        lab.expect(
            Self.readModelMatches, rebuilt == view && view.count == accountCount,
            expected: "\(accountCount) identical accounts",
            observed: rebuilt == view ? "\(view.count) identical accounts" : "differs: \(rebuilt.filter { view[$0.key] != $0.value }.keys.sorted().prefix(3))")
        let balances = accounts.map { rebuilt[$0]?.balance ?? -1 }
        lab.expect(Self.noLostUpdate, balances, equals: accounts.map { net[$0] ?? 0 })
        let versionsOK = try await main.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT stream FROM event GROUP BY stream HAVING count(*) <> max(version) OR min(version) <> 1)")
                ?? -1
        }
        lab.expect(Self.versionsContiguous, versionsOK, equals: 0)
        // Fold each stream step by step and look at every intermediate balance.
        let overdrawn = try await main.read { db in
            try accounts.filter { stream in
                var state = AccountState()
                for event in try EventStore.events(db, stream: stream) {
                    state.apply(event, breaker: breaker)
                    if state.balance < 0 { return true }
                }
                return false
            }.count
        }
        lab.expect(Self.neverOverdrawn, overdrawn, equals: 0)

        // 3. Two sessions load the same version; the second append is stale.
        let target = accounts[0]
        let sessionA = try await stores[0].load(target), sessionB = try await stores[stores.count - 1].load(target)
        try await stores[0].append(target, expectedVersion: sessionA.version, [.deposited(10)])
        var staleOutcome = "appended"
        do {
            try await stores[stores.count - 1].append(target, expectedVersion: sessionB.version, [.withdrawn(sessionB.balance)])
        } catch let c as ConcurrencyConflict {
            staleOutcome = "refused: \(c)"
        }
        let afterStale = try await stores[0].load(target)
        lab.step(
            "Sessions A and B both loaded \(target) at version \(sessionA.version); A appended a deposit, then B a withdrawal",
            "B's append was \(staleOutcome).")
        lab.expect(Self.staleRefused, staleOutcome.hasPrefix("refused"), expected: "refused", observed: staleOutcome)
        lab.expect(Self.onlyFreshLanded, afterStale.version, equals: sessionA.version + 1)
        var duplicateVersion = "inserted"
        do {
            try await main.write { db in
                try db.execute(sql: "INSERT INTO event (stream, version, type, amount) VALUES (?, ?, 'deposited', 1)", arguments: [target, afterStale.version])
            }
        } catch let e as DatabaseError where e.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            duplicateVersion = "refused by UNIQUE (stream, version)"
        }
        lab.expect(Self.databaseRefusesDuplicate, duplicateVersion, equals: "refused by UNIQUE (stream, version)")

        // 4. Replay from scratch.
        _ = try await main.write(EventStore.project)
        let before = try await main.read(EventStore.readModel)
        let (replayed, replaySeconds) = try await Measure.time {
            try await main.write { db in
                // The mistake: the view is emptied but the checkpoint kept, so nothing is replayed.
                try db.execute(
                    sql: breaker == .replayKeepsCheckpoint ? "DELETE FROM account_view" : "DELETE FROM account_view; DELETE FROM projection_checkpoint")
                return try EventStore.project(db)
            }
        }
        let after = try await main.read(EventStore.readModel)
        lab.step("Dropped the read model and replayed the event log", "\(replayed) events applied in \(String(format: "%.1f", replaySeconds * 1000)) ms.")
        lab.figure("replay time", replaySeconds * 1000, "ms")
        lab.expect(
            Self.replayMatches, after == before && !after.isEmpty,
            expected: "\(before.count) identical accounts", observed: after == before ? "\(after.count) identical accounts" : "different")
    }
}
