// Preloading: loading frequently read data at start-up instead of on first use.
//
// A service that keeps a catalogue in memory can build it lazily, on the first request
// (which then waits for the whole load), or at start-up, before it begins to listen (so no
// request ever waits, and start-up takes longer). Lazy loading has a second trap: when the
// first requests arrive together, each may start its own load unless they share one
// ("single flight"). Preloaded data must also be refreshed: a reload builds a complete new
// copy from the database and swaps it in at once, so readers see the old data or the new,
// never a half-built table, and nothing deleted survives.
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import LabCatalog
import LabKit
import Synchronization

struct PreloadingLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case unawaitedPreload = "unawaited-preload"
        case noSingleFlight = "no-single-flight"
        case reloadMerges = "reload-merges"
        case reloadInPlace = "reload-in-place"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .unawaitedPreload: "the preload starts in the background and the service listens before it is done"
            case .noSingleFlight: "each concurrent first request starts its own lazy load"
            case .reloadMerges: "a reload merges the new rows into the old table, so deleted books stay"
            case .reloadInPlace: "a reload empties the table and refills it while readers read"
            }
        }
    }

    static let loadMS = Knob.int(
        "load-ms", 50...60_000, default: 500, quick: 300,
        help: "Milliseconds building the catalogue takes after reading the rows (the expensive part of a load).")
    static let books = Knob.int("books", 10...100_000, default: 2000, quick: 300, help: "Books in the catalogue.")
    static let concurrent = Knob.int("concurrent", 2...64, default: 8, help: "First requests sent together to a lazy service.")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the service so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    static let info = LabInfo(
        id: "preloading", title: "Preloading frequently read data", phase: 7,
        teaches:
            "Preloading at start-up spares the first request the load that a lazy service makes it wait for; a lazy load must be shared by concurrent first requests; a reload swaps in a complete new copy, consistent with the database and never half-built.",
        parameters: [loadMS.parameter, books.parameter, concurrent.parameter, fault.parameter],
        source: "Sources/Labs/Cache/Phase07/Preloading.swift")

    /// The in-memory catalogue: nil until loaded; loads counted.
    final class Catalogue: Sendable {
        struct State {
            var books: [Int: ShelfBook]?
            var loading: Task<[Int: ShelfBook], any Error>?
            var reloading = false
        }
        let dbQueue: DatabaseQueue
        let buildTime: Duration
        let fault: Fault
        let state = Mutex(State())
        let loadCount = Mutex(0)

        init(dbQueue: DatabaseQueue, buildTime: Duration, fault: Fault) {
            self.dbQueue = dbQueue; self.buildTime = buildTime; self.fault = fault
        }

        var loads: Int { loadCount.withLock { $0 } }
        var isReloading: Bool { state.withLock { $0.reloading } }

        /// Reads every row, then spends `buildTime` building (the stand-in for indexing,
        /// decoding, computing derived fields).
        func load() async throws -> [Int: ShelfBook] {
            loadCount.withLock { $0 += 1 }
            let rows = try await dbQueue.read { db in
                try Row.fetchAll(db, sql: "SELECT id, title, year, author_id FROM book").map {
                    ShelfBook(id: $0[0], title: $0[1], year: $0[2], authorID: $0[3])
                }
            }
            try await Task.sleep(for: buildTime)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })
        }

        func preload() async throws {
            let books = try await load()
            state.withLock { $0.books = books }
        }

        /// How long the first call of `books()` waited for the catalogue, measured in the
        /// service (a client's clock adds the machine's scheduling noise to it).
        let firstWait = Mutex<Duration?>(nil)

        /// The catalogue, loading it on first use; the first call's wait is kept.
        func books() async throws -> [Int: ShelfBook] {
            let started = ContinuousClock.now
            let books = try await currentOrLoaded()
            let waited = ContinuousClock.now - started
            firstWait.withLock { if $0 == nil { $0 = waited } }
            return books
        }

        /// The catalogue, loading it if it is not there (shared by concurrent callers).
        private func currentOrLoaded() async throws -> [Int: ShelfBook] {
            if let books = state.withLock({ $0.books }) { return books }
            if fault == .noSingleFlight {
                let books = try await load()
                state.withLock { $0.books = books }
                return books
            }
            let task = state.withLock { s -> Task<[Int: ShelfBook], any Error> in
                if let t = s.loading { return t }
                let t = Task { try await self.load() }
                s.loading = t
                return t
            }
            let books = try await task.value
            state.withLock {
                $0.books = books; $0.loading = nil
            }
            return books
        }

        /// Builds a new copy and swaps it in (or, broken, merges or refills in place).
        func reload() async throws {
            state.withLock { $0.reloading = true }
            defer { state.withLock { $0.reloading = false } }
            switch fault {
            case .reloadInPlace:
                state.withLock { $0.books = [:] }
                let fresh = try await load()
                state.withLock { $0.books = fresh }
            case .reloadMerges:
                let fresh = try await load()
                state.withLock { $0.books = ($0.books ?? [:]).merging(fresh) { _, new in new } }
            default:
                let fresh = try await load()
                state.withLock { $0.books = fresh }
            }
        }
    }

    static func router(_ catalogue: Catalogue) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/books/:id") { _, context in
            let id = try context.parameters.require("id", as: Int.self)
            guard let book = try await catalogue.books()[id] else {
                return jsonResponse(Array(#"{"error":"not found"}"#.utf8), status: .notFound)
            }
            return jsonResponse(try encodeJSON(book))
        }
        router.get("/books") { _, _ in
            jsonResponse(try encodeJSON(try await catalogue.books().values.sorted { $0.id < $1.id }))
        }
        router.post("/admin/reload") { _, _ in
            try await catalogue.reload()
            return Response(status: .noContent)
        }
        router.get("/admin/status") { _, _ in
            jsonResponse(try encodeJSON(["reloading": catalogue.isReloading, "loaded": catalogue.state.withLock { $0.books != nil }]))
        }
        return router
    }

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.fault], loadMS = lab[Self.loadMS], concurrent = lab[Self.concurrent]
        let buildTime = Duration.milliseconds(loadMS)
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "catalogue.sqlite")
        try await dbQueue.write { try Shelf.create($0, books: lab[Self.books], authors: 20) }
        lab.step(
            "A catalogue of \(lab[Self.books]) books in SQLite; building it in memory takes \(loadMS) ms after reading the rows",
            fault == .none ? nil : "broken on purpose: \(fault.effect)")

        func start(preload: Bool) async throws -> (Catalogue, LoopbackHTTP, Double) {
            let catalogue = Catalogue(dbQueue: dbQueue, buildTime: buildTime, fault: fault)
            let (service, startSeconds) = try await Measure.time { () async throws -> LabService in
                if preload {
                    if fault == .unawaitedPreload { Task { try await catalogue.preload() } } else { try await catalogue.preload() }
                }
                return try await LabService.start(lab, router: Self.router(catalogue), name: preload ? "preloaded" : "lazy")
            }
            return (catalogue, LoopbackHTTP.open(for: lab, baseURL: service.baseURL, timeout: .seconds(60)), startSeconds)
        }

        // 1. First-request latency, lazy and preloaded.
        let (lazy, lazyHTTP, lazyStart) = try await start(preload: false)
        let (lazyFirst, lazyFirstSeconds) = try await Measure.time { try await lazyHTTP.get("/books/1") }
        var lazyLater: [Double] = []
        for id in 2...11 { lazyLater.append(try await Measure.time { try await lazyHTTP.get("/books/\(id)") }.1) }
        let (preloaded, preHTTP, preStart) = try await start(preload: true)
        let (preFirst, preFirstSeconds) = try await Measure.time { try await preHTTP.get("/books/1") }
        var preLater: [Double] = []
        for id in 2...11 { preLater.append(try await Measure.time { try await preHTTP.get("/books/\(id)") }.1) }
        let ms = { (s: Double) in String(format: "%.1f ms", s * 1e3) }
        lab.step(
            "Started a lazy service and a preloading one; timed each one's first request and the ten after it",
            "lazy: started in \(ms(lazyStart)), first request \(ms(lazyFirstSeconds)) (\(lazyFirst.status)), then median \(ms(median(lazyLater))); "
                + "preloaded: started in \(ms(preStart)), first request \(ms(preFirstSeconds)) (\(preFirst.status)), then median \(ms(median(preLater))).")
        lab.figure("first request, lazy", lazyFirstSeconds * 1e3, "ms")
        lab.figure("first request, preloaded", preFirstSeconds * 1e3, "ms")
        lab.figure("start-up, lazy", lazyStart * 1e3, "ms")
        lab.figure("start-up, preloaded", preStart * 1e3, "ms")
        // Judged on the wait the service measured: on a loaded machine the client's clock
        // also counts the time the request spent queued behind other processes.
        let lazyWait = lazy.firstWait.withLock { $0 } ?? .zero, preWait = preloaded.firstWait.withLock { $0 } ?? .zero
        let waitMS = { (d: Duration) in ms(Measure.seconds(d)) }
        lab.figure("first request's wait in the service, lazy", Measure.seconds(lazyWait) * 1e3, "ms")
        lab.figure("first request's wait in the service, preloaded", Measure.seconds(preWait) * 1e3, "ms")
        lab.check(
            "without preloading the first request waits for the load; with preloading it does not (under half the load time)",
            lazyFirst.status == 200 && preFirst.status == 200 && lazyWait >= buildTime && preWait < buildTime / 2,
            expected: "the service waits ≥ \(loadMS) ms lazy, < \(loadMS / 2) ms preloaded",
            observed:
                "the service waited \(waitMS(lazyWait)) lazy, \(waitMS(preWait)) preloaded (at the client: \(ms(lazyFirstSeconds)), \(ms(preFirstSeconds)))")

        // 2. Concurrent first requests share one lazy load.
        let (herd, herdHTTP, _) = try await start(preload: false)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for id in 1...concurrent { group.addTask { try await herdHTTP.get("/books/\(id)").status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        lab.step(
            "Sent \(concurrent) first requests together to a fresh lazy service",
            "\(statuses.filter { $0 == 200 }.count) answered 200; the service loaded the catalogue \(herd.loads) time(s) (the lazy service above: \(lazy.loads))."
        )
        lab.check(
            "concurrent first requests share one lazy load (loads counted by the service)",
            herd.loads == 1 && statuses.allSatisfy { $0 == 200 },
            expected: "1 load, \(concurrent) answers", observed: "\(herd.loads) loads, \(statuses.filter { $0 == 200 }.count) answers")

        // 3. Consistency after a reload.
        try await dbQueue.write { db in
            try db.execute(sql: "DELETE FROM book WHERE id = 2")
            try db.execute(sql: "UPDATE book SET title = 'Retitled' WHERE id = 3")
            try db.execute(sql: "INSERT INTO book (id, title, year, author_id) VALUES (1000001, 'Brand New', 2025, 1)")
        }
        let reloadReply = try await preHTTP.request("POST", "/admin/reload")
        let served = try await preHTTP.get("/books").json([ShelfBook].self)
        let truth = try await dbQueue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, title, year, author_id FROM book ORDER BY id").map {
                ShelfBook(id: $0[0], title: $0[1], year: $0[2], authorID: $0[3])
            }
        }
        let extra = Set(served.map(\.id)).subtracting(truth.map(\.id)).sorted()
        let missing = Set(truth.map(\.id)).subtracting(served.map(\.id)).sorted()
        lab.step(
            "Deleted book 2, retitled book 3 and added book 1000001 in the database, then POST /admin/reload (\(reloadReply.status))",
            "The service now serves \(served.count) books, the database holds \(truth.count); extra: \(extra.prefix(5)), missing: \(missing.prefix(5)).")
        lab.check(
            "after a reload the preloaded data equals the database (deleted gone, changed and new present)",
            served == truth, expected: "\(truth.count) books, identical",
            observed: served == truth ? "\(served.count) books, identical" : "\(served.count) books; extra \(extra.prefix(5)), missing \(missing.prefix(5))")

        // 4. Readers during a reload.
        let reload = Task { try await preHTTP.request("POST", "/admin/reload").status }
        var sawReloading = false
        for _ in 0..<2000 {
            if try await preHTTP.get("/admin/status").json?["reloading"]?.bool == true { sawReloading = true; break }
            try await Task.sleep(for: .milliseconds(1))
        }
        var duringStatuses: [Int] = []
        for id in [1, 3, 4, 5, 6, 7, 8, 9, 10, 1000001] { duringStatuses.append(try await preHTTP.get("/books/\(id)").status) }
        let stillReloading = preloaded.isReloading
        let reloadStatus = try await reload.value
        lab.step(
            "Read ten books while another reload ran (\(sawReloading && stillReloading ? "all during the reload" : "the reload ended early")); it answered \(reloadStatus)",
            "Statuses: \(duringStatuses)")
        lab.check(
            "readers during a reload get every book (old copy or new, never a half-built table)",
            sawReloading && duringStatuses.allSatisfy { $0 == 200 },
            expected: "10 × 200 during the reload",
            observed: sawReloading
                ? "\(duringStatuses.filter { $0 == 200 }.count) × 200, \(duringStatuses.filter { $0 == 404 }.count) × 404" : "the reload was never seen running"
        )
    }
}
