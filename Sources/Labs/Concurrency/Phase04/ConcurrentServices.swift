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
    static let style = Knob<Bank.Style>.choice(
        "style", default: .atomic,
        help: "How the bank transfers: check and debit in one go, or with an await in between (try it: the checks catch the overdrafts).")

    public static let info = LabInfo(
        id: "concurrent-services",
        title: "A concurrency-safe service: a bank actor and actor reentrancy",
        phase: 4,
        teaches:
            "An actor serialises check-and-act, so concurrent transfers keep the total balance and never overdraw; but an await between the check and the act lets other calls in (reentrancy), and two withdrawals can both pass the check. The lab reproduces the overdraft and fixes it two ways.",
        parameters: [accounts.parameter, transfers.parameter, clients.parameter, racers.parameter, seed.parameter, style.parameter],
        source: "Sources/Labs/Concurrency/Phase04/ConcurrentServices.swift"
    )
    public init() {}

    static let openingBalance = 1_000

    public func run(_ lab: LabContext) async throws {
        let accounts = lab[Self.accounts]
        let transfers = lab[Self.transfers]
        let clients = lab[Self.clients]
        let racers = lab[Self.racers]
        let seed = lab[Self.seed]
        let style = lab[Self.style]

        // 1. Hammer the bank.
        lab.step(
            "\(clients) clients send \(transfers) random transfers between \(accounts) accounts at once",
            "Every account opens with \(Self.openingBalance). Transfer style: \(style.rawValue)\(style == .checkAwaitAct ? " (an await between the balance check and the debit: expect the checks to catch it)" : " (check and debit with no await in between)")."
        )
        let hammer = await Self.hammer(accounts: accounts, transfers: transfers, clients: clients, seed: UInt64(seed), style: style)
        lab.figure("transfers accepted", Double(hammer.accepted), "transfers")
        lab.figure("transfers refused (insufficient funds)", Double(hammer.refused), "transfers")
        lab.figure("throughput", hammer.seconds > 0 ? Double(transfers) / hammer.seconds : 0, "transfers/s")
        Self.judgeHammer(hammer, accounts: accounts, transfers: transfers, lab)

        // 2. The reentrancy pitfall.
        lab.step(
            "Reproduce the pitfall: \(racers) withdrawals of 60 from a balance of 100, check → await → debit",
            "Each withdrawal passes the balance check, then waits at an approval gate; the gate opens only once all \(racers) are suspended there.")
        let naive = await Self.reentrancy(.naive, racers: racers)
        lab.figure("check → await → debit: withdrawals accepted", Double(naive.accepted), "withdrawals")
        lab.figure("check → await → debit: final balance", Double(naive.finalBalance), "")
        Self.judgePitfall(naive, racers: racers, lab)

        lab.step("Fix 1: check again after the await")
        let recheck = await Self.reentrancy(.recheckAfterAwait, racers: racers)
        Self.judgeFixed(recheck, fix: "re-checking after the await", lab)

        lab.step("Fix 2: await first, then check and debit with no suspension in between")
        let noGap = await Self.reentrancy(.noSuspensionBetweenCheckAndAct, racers: racers)
        Self.judgeFixed(noGap, fix: "checking and debiting with no await between", lab)
    }

    // MARK: The bank

    public struct Transfer: Sendable, Equatable {
        public var from: Int, to: Int, amount: Int
        public init(from: Int, to: Int, amount: Int) { self.from = from; self.to = to; self.amount = amount }
    }

    public actor Bank {
        public enum Style: String, CaseIterable, Sendable {
            /// Check and act in one uninterrupted stretch of the actor.
            case atomic
            /// The mistake: a suspension point between the check and the act.
            case checkAwaitAct = "check-await-act"
        }

        private(set) var balances: [Int]
        /// Every accepted transfer, in the order the actor applied it.
        private(set) var ledger: [Transfer] = []
        let style: Style
        /// check-await-act's suspension point: every client's transfer that passed its check
        /// waits here until all active clients have one waiting too, so the interleaving
        /// the mistake allows really happens, every run (a bare `Task.yield()` left it to luck).
        nonisolated let round: Rendezvous

        init(balances: [Int], style: Style, clients: Int) {
            self.balances = balances; self.style = style; round = Rendezvous(parties: clients)
        }

        func transfer(_ t: Transfer) async -> Bool {
            guard t.from != t.to, t.amount > 0, balances[t.from] >= t.amount else { return false }
            if style == .checkAwaitAct { await round.arrive() }
            balances[t.from] -= t.amount
            balances[t.to] += t.amount
            ledger.append(t)
            return true
        }

        func state() -> (balances: [Int], ledger: [Transfer]) { (balances, ledger) }
    }

    public struct HammerOutcome: Sendable {
        public var opening: [Int]
        public var final: [Int]
        public var ledger: [Transfer]
        public var accepted: Int
        public var refused: Int
        public var seconds: Double
    }

    public static func hammer(accounts: Int, transfers: Int, clients: Int, seed: UInt64, style: Bank.Style) async -> HammerOutcome {
        let opening = Array(repeating: openingBalance, count: accounts)
        let bank = Bank(balances: opening, style: style, clients: clients)
        let start = ContinuousClock.now
        let (accepted, refused) = await withTaskGroup(of: (Int, Int).self, returning: (Int, Int).self) { group in
            for client in 0..<clients {
                // Client c sends transfers c, c+clients, c+2·clients, …: all of them, once.
                let mine = client < transfers ? (transfers - client + clients - 1) / clients : 0
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
            opening: opening, final: state.balances, ledger: state.ledger,
            accepted: accepted, refused: refused, seconds: seconds)
    }

    public static func judgeHammer(_ h: HammerOutcome, accounts: Int, transfers: Int, _ lab: LabContext) {
        lab.expect("the total balance is unchanged (money neither created nor lost)", h.final.reduce(0, +), equals: accounts * openingBalance)
        let lowest = h.final.min() ?? 0
        lab.expect("no account is negative", lowest >= 0, expected: "lowest balance ≥ 0", observed: "lowest balance \(lowest)")
        lab.expect(
            "every transfer was answered, and the ledger holds each accepted one",
            [h.accepted + h.refused, h.ledger.count], equals: [transfers, h.accepted])
        let replay = replayLedger(h.ledger, from: h.opening)
        lab.check(
            "replaying the ledger one by one never overdraws and ends at the final balances",
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

        init(balance: Int) { self.balance = balance }

        func withdraw(_ amount: Int, style: WithdrawStyle) async -> Bool {
            switch style {
            case .naive:
                guard balance >= amount else { return false }
                await approval()
                balance -= amount
                return true
            case .recheckAfterAwait:
                guard balance >= amount else { return false }
                await approval()
                guard balance >= amount else { return false }  // the world may have changed while suspended
                balance -= amount
                return true
            case .noSuspensionBetweenCheckAndAct:
                await approval()
                guard balance >= amount else { return false }
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

    public static func reentrancy(_ style: WithdrawStyle, racers: Int, balance: Int = 100, amount: Int = 60) async -> ReentrancyOutcome {
        let account = Account(balance: balance)
        let withdrawals = Task {
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<racers { group.addTask { await account.withdraw(amount, style: style) } }
                var accepted = 0
                for await ok in group where ok { accepted += 1 }
                return accepted
            }
        }
        // Open the gate once every withdrawal is parked at it (or after 5 s, so a broken
        // experiment fails its checks instead of hanging).
        _ = await waitUntil(timeout: .seconds(5)) { account.waitingForApproval.value == racers }
        let together = account.waitingForApproval.value
        account.approvals.open()
        let accepted = await withdrawals.value
        return ReentrancyOutcome(
            racers: racers, suspendedTogether: together, accepted: accepted,
            finalBalance: await account.balance)
    }

    public static func judgePitfall(_ o: ReentrancyOutcome, racers: Int, _ lab: LabContext) {
        lab.expect("all withdrawals passed the balance check and were suspended at the await together", o.suspendedTogether, equals: racers)
        lab.expect("every withdrawal was accepted, though the balance covers only one", o.accepted, equals: racers)
        lab.expect("the account is overdrawn: 100 − 60 × \(racers)", o.finalBalance, equals: 100 - 60 * racers)
    }

    public static func judgeFixed(_ o: ReentrancyOutcome, fix: String, _ lab: LabContext) {
        lab.expect("\(fix): exactly one withdrawal accepted", o.accepted, equals: 1)
        lab.expect("\(fix): no overdraft (100 − 60 = 40 left)", o.finalBalance, equals: 40)
    }
}
