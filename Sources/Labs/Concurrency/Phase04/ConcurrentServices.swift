// A concurrency-safe service layer: a bank as an actor.
//
// An actor owns its state and runs one call at a time, so a transfer that checks a balance
// and moves the money *without suspending in between* can never be interleaved with
// another: hammer it with thousands of concurrent transfers and money is neither created nor
// lost, and no account goes negative.
//
// The pitfall: actors are re-entrant. At every `await` inside an actor method the actor
// lets other calls in. A method that checks ("is there enough money?"), then awaits (a fraud
// check, a database call), then acts ("debit it") acts on a check that may no longer be true:
// two withdrawals both pass the check while the first is suspended, and both debit: an
// overdraft. Two fixes: check again after the await, or do the slow awaited work first and
// then check-and-act with no suspension point in between. The lab reproduces the pitfall
// deterministically by holding every withdrawal at the await (a gate) until all have arrived.
//
// Experiments: `racers` for more withdrawals in the race; `break=` plants one mistake in the
// bank or in an experiment (an await between check and debit, a stale write-back, a fix
// with its re-check on the wrong side of the await…), to see which checks catch it.
import Foundation
import LabKit
import Synchronization

public struct ConcurrentServicesLab: Lab {
    static let accounts = Knob.int("accounts", 2...1000, default: 10, quick: 5, help: "Accounts in the bank, each opening with 1000.")
    static let transfers = Knob.int("transfers", 1...200_000, default: 20_000, quick: 2000, help: "Random transfers sent in total.")
    static let clients = Knob.int("clients", 1...256, default: 32, quick: 8, help: "Concurrent client tasks sending the transfers.")
    static let racers = Knob.int(
        "racers", 2...64, default: 2, quick: 3,
        help: "Concurrent withdrawals of 60 from a balance of 100 in the reentrancy experiment.")
    static let seed = Knob.int("seed", 0...1_000_000, default: 42, help: "Seed of the random transfers, so a run can be repeated.")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help:
            "Plant one mistake: check-await-act (the bank awaits between the balance check and the debit), stale-write (it reads both balances, awaits, then writes back what it computed from them), floor-split (clients split the transfers with floor division, so some are never sent), sequential-withdrawals (the pitfall's withdrawals are awaited one after another, so none overlap), recheck-before-await (fix 1 re-checks before the await instead of after it), log-between (fix 2 awaits an audit log between its check and its debit)."
    )

    /// Realistic mistakes, each planted in the lab's own code; the checks that catch each are
    /// listed in Tests/ConcurrencyLabsTests/ConcurrencyBreakerTests.swift.
    public enum Breaker: String, CaseIterable, Sendable {
        case none
        case checkAwaitAct = "check-await-act"
        case staleWrite = "stale-write"
        case floorSplit = "floor-split"
        case sequentialWithdrawals = "sequential-withdrawals"
        case recheckBeforeAwait = "recheck-before-await"
        case logBetween = "log-between"
    }

    public static let info = LabInfo(
        id: "concurrent-services",
        title: "A concurrency-safe service: a bank actor and actor reentrancy",
        phase: 4,
        teaches:
            "An actor serialises check-and-act, so concurrent transfers keep the total balance and never overdraw; but an await between the check and the act lets other calls in (reentrancy), and two withdrawals can both pass the check. The lab reproduces the overdraft and fixes it two ways.",
        parameters: [accounts.parameter, transfers.parameter, clients.parameter, racers.parameter, seed.parameter, breaker.parameter],
        source: "Sources/Labs/Concurrency/Phase04/ConcurrentServices.swift"
    )
    public init() {}

    static let openingBalance = 1_000

    // The checks' names, for the tests that name the ones a breaker must fail.
    public static let totalUnchanged = "the total balance is unchanged (money neither created nor lost)"
    public static let neverNegative = "no account ever went negative"
    public static let everyTransferAnswered = "every transfer was answered, and the ledger holds each accepted one"
    public static let replayAgrees = "replaying the ledger one by one never overdraws and ends at the final balances"
    public static let suspendedTogether = "all withdrawals passed the balance check and were suspended at the await together"
    public static let allAccepted = "every withdrawal was accepted, though the balance covers only one"
    public static func overdrawn(racers: Int) -> String { "the account is overdrawn: 100 − 60 × \(racers)" }
    public static let recheckFix = "re-checking after the await"
    public static let noGapFix = "checking and debiting with no await between"
    public static func oneAccepted(_ fix: String) -> String { "\(fix): exactly one withdrawal accepted" }
    public static func noOverdraft(_ fix: String) -> String { "\(fix): no overdraft (100 − 60 = 40 left)" }
    /// How long the pitfall experiment waits for every withdrawal to park at the approval
    /// gate before opening it anyway (a broken experiment then fails instead of hanging).
    static let gatherTimeout = Duration.seconds(2)

    public func run(_ lab: LabContext) async throws {
        let accounts = lab[Self.accounts]
        let transfers = lab[Self.transfers]
        let clients = lab[Self.clients]
        let racers = lab[Self.racers]
        let seed = lab[Self.seed]
        let breaker = lab[Self.breaker]

        // 1. Hammer the bank.
        lab.step(
            "\(clients) clients send \(transfers) random transfers between \(accounts) accounts at once",
            "Every account opens with \(Self.openingBalance). \(Self.transferText(breaker))"
        )
        let hammer = await Self.hammer(accounts: accounts, transfers: transfers, clients: clients, seed: UInt64(seed), breaker: breaker)
        lab.figure("transfers accepted", Double(hammer.accepted), "transfers")
        lab.figure("transfers refused (insufficient funds)", Double(hammer.refused), "transfers")
        lab.figure("throughput", hammer.seconds > 0 ? Double(transfers) / hammer.seconds : 0, "transfers/s")
        Self.judgeHammer(hammer, accounts: accounts, transfers: transfers, lab)

        // 2. The reentrancy pitfall.
        lab.step(
            "Reproduce the pitfall: \(racers) withdrawals of 60 from a balance of 100, check → await → debit",
            breaker == .sequentialWithdrawals
                ? "Broken on purpose: the withdrawals are awaited one after another. The approval gate opens once all \(racers) are suspended there, or after \(Self.gatherTimeout)."
                : "Each withdrawal passes the balance check, then waits at an approval gate, which opens once all \(racers) are suspended there (or after \(Self.gatherTimeout), so a broken run ends)."
        )
        let naive = await Self.reentrancy(.naive, racers: racers, breaker: breaker)
        lab.figure("check → await → debit: withdrawals accepted", Double(naive.accepted), "withdrawals")
        lab.figure("check → await → debit: final balance", Double(naive.finalBalance), "")
        Self.judgePitfall(naive, racers: racers, lab)

        lab.step(
            "Fix 1: check again after the await",
            breaker == .recheckBeforeAwait ? "Broken on purpose: the second check runs before the await, not after it." : nil)
        let recheck = await Self.reentrancy(.recheckAfterAwait, racers: racers, breaker: breaker)
        Self.judgeFixed(recheck, fix: Self.recheckFix, lab)

        lab.step(
            "Fix 2: await first, then check and debit with no suspension in between",
            breaker == .logBetween ? "Broken on purpose: an awaited audit log sits between the check and the debit." : nil)
        let noGap = await Self.reentrancy(.noSuspensionBetweenCheckAndAct, racers: racers, breaker: breaker)
        Self.judgeFixed(noGap, fix: Self.noGapFix, lab)
    }

    static func transferText(_ breaker: Breaker) -> String {
        switch breaker {
        case .checkAwaitAct: "Broken on purpose: each transfer awaits between its balance check and its debit."
        case .staleWrite: "Broken on purpose: each transfer reads both balances, awaits, then writes back what it computed from them."
        case .floorSplit: "Broken on purpose: the clients split the transfers with floor division."
        default: "Each transfer checks the balance and moves the money with no await in between."
        }
    }

    // MARK: The bank

    public struct Transfer: Sendable, Equatable {
        public var from: Int, to: Int, amount: Int
        public init(from: Int, to: Int, amount: Int) { self.from = from; self.to = to; self.amount = amount }
    }

    public actor Bank {
        private(set) var balances: [Int]
        /// Every accepted transfer, in the order the actor applied it.
        private(set) var ledger: [Transfer] = []
        /// The lowest balance any account held after a debit: the bank watching itself.
        private(set) var lowest: Int
        let breaker: Breaker
        /// The broken transfers' suspension point: every client's transfer that passed its
        /// check waits here until all active clients have one waiting too, so the interleaving
        /// the mistake allows really happens, every run (a bare `Task.yield()` left it to luck).
        nonisolated let round: Rendezvous

        init(balances: [Int], breaker: Breaker, clients: Int) {
            self.balances = balances; self.breaker = breaker; round = Rendezvous(parties: clients)
            lowest = balances.min() ?? 0
        }

        func transfer(_ t: Transfer) async -> Bool {
            guard t.from != t.to, t.amount > 0, balances[t.from] >= t.amount else { return false }
            switch breaker {
            case .checkAwaitAct:
                await round.arrive()
                balances[t.from] -= t.amount
                balances[t.to] += t.amount
            case .staleWrite:
                let (from, to) = (balances[t.from], balances[t.to])
                await round.arrive()
                balances[t.from] = from - t.amount
                balances[t.to] = to + t.amount
            default:
                balances[t.from] -= t.amount
                balances[t.to] += t.amount
            }
            lowest = min(lowest, balances[t.from])
            ledger.append(t)
            return true
        }

        func state() -> (balances: [Int], ledger: [Transfer], lowest: Int) { (balances, ledger, lowest) }
    }

    public struct HammerOutcome: Sendable {
        public var opening: [Int]
        public var final: [Int]
        public var ledger: [Transfer]
        /// The lowest balance the bank saw any account hold.
        public var lowest: Int
        public var accepted: Int
        public var refused: Int
        public var seconds: Double
    }

    public static func hammer(accounts: Int, transfers: Int, clients: Int, seed: UInt64, breaker: Breaker = .none) async -> HammerOutcome {
        let opening = Array(repeating: openingBalance, count: accounts)
        let bank = Bank(balances: opening, breaker: breaker, clients: clients)
        let start = ContinuousClock.now
        let (accepted, refused) = await withTaskGroup(of: (Int, Int).self, returning: (Int, Int).self) { group in
            for client in 0..<clients {
                // Client c sends transfers c, c+clients, c+2·clients, …: all of them, once
                // (floor-split rounds down, dropping the last of some clients' share).
                let mine =
                    client >= transfers
                    ? 0
                    : breaker == .floorSplit ? (transfers - client) / clients : (transfers - client + clients - 1) / clients
                group.addTask {
                    var rng = SeededRandom(seed: seed &+ UInt64(client))
                    var ok = 0, no = 0
                    for _ in 0..<mine {
                        let from = Int(rng.next() % UInt64(accounts))
                        let to = Int(rng.next() % UInt64(accounts))
                        let amount = 1 + Int(rng.next() % UInt64(openingBalance / 2))
                        if await bank.transfer(Transfer(from: from, to: to, amount: amount)) { ok += 1 } else { no += 1 }
                    }
                    bank.round.leave()
                    return (ok, no)
                }
            }
            var totals = (0, 0)
            for await (ok, no) in group { totals.0 += ok; totals.1 += no }
            return totals
        }
        let seconds = Measure.seconds(ContinuousClock.now - start)
        let state = await bank.state()
        return HammerOutcome(
            opening: opening, final: state.balances, ledger: state.ledger, lowest: state.lowest,
            accepted: accepted, refused: refused, seconds: seconds)
    }

    public static func judgeHammer(_ h: HammerOutcome, accounts: Int, transfers: Int, _ lab: LabContext) {
        lab.expect(totalUnchanged, h.final.reduce(0, +), equals: accounts * openingBalance)
        lab.expect(
            neverNegative, h.lowest >= 0, expected: "lowest balance held ≥ 0",
            observed: "lowest balance held \(h.lowest), final lowest \(h.final.min() ?? 0)")
        lab.expect(
            everyTransferAnswered, [h.accepted + h.refused, h.ledger.count], equals: [transfers, h.accepted])
        let replay = replayLedger(h.ledger, from: h.opening)
        lab.check(
            replayAgrees,
            replay.firstOverdraft == nil && replay.balances == h.final,
            expected: "no overdraft; replay = final balances",
            observed: replay.firstOverdraft.map { "overdraft at ledger entry \($0)" }
                ?? (replay.balances == h.final ? "no overdraft; replay = final balances" : "replay differs from the final balances"))
    }

    /// The bank's history applied sequentially, as a serial bank would: where (if anywhere)
    /// an account first goes negative, and where the balances end.
    public static func replayLedger(_ ledger: [Transfer], from opening: [Int]) -> (balances: [Int], firstOverdraft: Int?) {
        var balances = opening
        var firstOverdraft: Int?
        for (i, t) in ledger.enumerated() {
            balances[t.from] -= t.amount
            balances[t.to] += t.amount
            if balances[t.from] < 0 && firstOverdraft == nil { firstOverdraft = i }
        }
        return (balances, firstOverdraft)
    }

    /// A reusable meeting point for a shrinking group: `arrive()` waits until every party
    /// still in the group is waiting, then lets them all go; `leave()` shrinks the group
    /// (a client that has sent its last transfer), releasing the others if they were all
    /// waiting for it.
    public final class Rendezvous: Sendable {
        private let state: Mutex<(parties: Int, waiting: [CheckedContinuation<Void, Never>])>

        init(parties: Int) { state = Mutex((max(parties, 1), [])) }

        func arrive() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                for w in state.withLock({ s in
                    s.waiting.append(c)
                    return Self.releaseIfComplete(&s)
                }) { w.resume() }
            }
        }

        func leave() {
            for w in state.withLock({ s in
                s.parties -= 1
                return Self.releaseIfComplete(&s)
            }) { w.resume() }
        }

        private static func releaseIfComplete(_ s: inout (parties: Int, waiting: [CheckedContinuation<Void, Never>])) -> [CheckedContinuation<Void, Never>] {
            guard !s.waiting.isEmpty, s.waiting.count >= s.parties else { return [] }
            defer { s.waiting = [] }
            return s.waiting
        }
    }

    // MARK: Reentrancy

    public enum WithdrawStyle: Sendable {
        case naive, recheckAfterAwait, noSuspensionBetweenCheckAndAct
    }

    /// One account whose withdrawals wait for an approval (the controlled suspension point).
    actor Account {
        private(set) var balance: Int
        nonisolated let approvals = AsyncGate()
        nonisolated let waitingForApproval = AtomicCounter()
        /// log-between's audit call: every withdrawal waits here for all the others, so they
        /// all check before any debits, every run.
        nonisolated let audit: Rendezvous
        let breaker: Breaker

        init(balance: Int, racers: Int, breaker: Breaker) {
            self.balance = balance; self.breaker = breaker; audit = Rendezvous(parties: racers)
        }

        func withdraw(_ amount: Int, style: WithdrawStyle) async -> Bool {
            switch style {
            case .naive:
                guard balance >= amount else { return false }
                await approval()
                balance -= amount
                return true
            case .recheckAfterAwait:
                guard balance >= amount else { return false }
                if breaker == .recheckBeforeAwait { guard balance >= amount else { return false } }
                await approval()
                // The world may have changed while suspended.
                if breaker != .recheckBeforeAwait { guard balance >= amount else { return false } }
                balance -= amount
                return true
            case .noSuspensionBetweenCheckAndAct:
                await approval()
                guard balance >= amount else { return false }
                if breaker == .logBetween { await audit.arrive() }
                balance -= amount
                return true
            }
        }

        /// Stands for a fraud check or a database call: while it waits, the actor serves others.
        private func approval() async {
            waitingForApproval.add()
            await approvals.wait()
        }
    }

    public struct ReentrancyOutcome: Sendable {
        public var racers: Int
        /// How many withdrawals were suspended at the approval at the same time.
        public var suspendedTogether: Int
        public var accepted: Int
        public var finalBalance: Int
    }

    public static func reentrancy(
        _ style: WithdrawStyle, racers: Int, balance: Int = 100, amount: Int = 60, breaker: Breaker = .none
    ) async -> ReentrancyOutcome {
        let account = Account(balance: balance, racers: racers, breaker: breaker)
        let withdrawals = Task {
            if breaker == .sequentialWithdrawals && style == .naive {
                var accepted = 0
                for _ in 0..<racers {
                    if await account.withdraw(amount, style: style) { accepted += 1 }
                }
                return accepted
            }
            return await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<racers { group.addTask { await account.withdraw(amount, style: style) } }
                var accepted = 0
                for await ok in group where ok { accepted += 1 }
                return accepted
            }
        }
        // Open the gate once every withdrawal is parked at it (or after the timeout, so a
        // broken experiment fails its checks instead of hanging).
        _ = await waitUntil(timeout: gatherTimeout) { account.waitingForApproval.value == racers }
        let together = account.waitingForApproval.value
        account.approvals.open()
        let accepted = await withdrawals.value
        return ReentrancyOutcome(
            racers: racers, suspendedTogether: together, accepted: accepted,
            finalBalance: await account.balance)
    }

    public static func judgePitfall(_ o: ReentrancyOutcome, racers: Int, _ lab: LabContext) {
        lab.expect(suspendedTogether, o.suspendedTogether, equals: racers)
        lab.expect(allAccepted, o.accepted, equals: racers)
        lab.expect(overdrawn(racers: racers), o.finalBalance, equals: 100 - 60 * racers)
    }

    public static func judgeFixed(_ o: ReentrancyOutcome, fix: String, _ lab: LabContext) {
        lab.expect(oneAccepted(fix), o.accepted, equals: 1)
        lab.expect(noOverdraft(fix), o.finalBalance, equals: 40)
    }
}
