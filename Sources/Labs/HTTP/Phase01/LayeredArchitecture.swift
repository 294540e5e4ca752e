// Layers: a handler turns HTTP into a call and the result back into HTTP; the service
// layer holds the use cases and their rules; a repository hides where the data lives. The
// payoff is substitution: the same service over an in-memory repository or an SQLite one
// must answer every request identically, and nothing above the repository may know which
// one it has. This lab runs one fixed suite of requests against the service under test,
// then (on the reference) against the same service wired to SQLite and compares every
// answer, and audits every repository call: each must have come through a service use
// case, never straight from a handler.
import Foundation
import GRDB
import LabKit

struct LayeredArchitectureLab: Lab {
    static let breaker = breakerKnob([
        .dropISBN, .putIgnored, .deleteKeeps, .caseSensitiveSearch,
        .sqliteDrift, .bypassService, .sqliteInMemory,
    ])

    static let info = LabInfo(
        id: "layered-architecture", title: "Layered architecture: handlers, service, two repositories", phase: 1,
        teaches:
            "Handlers reach storage only through the service layer, and swapping the in-memory repository for SQLite changes no answer: the same suite, run against both, gives identical results.",
        parameters: [breaker.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/HTTP/Phase01/LayeredArchitecture.swift")

    static let roundTrip = CheckSpec(
        "Create then read gives the book back",
        "POST /books answers 201 and GET /books/{id} answers 200 with the same title, author_id, year and isbn")
    static let replace = CheckSpec(
        "Replace persists",
        "PUT /books/{id} answers 200 and a later GET shows the new title and year")
    static let remove = CheckSpec(
        "Delete persists",
        "DELETE /books/{id} answers 204 and a later GET answers 404")
    static let query = CheckSpec(
        "The list filters and orders",
        "GET /books?author_id=A&q=TOKEN (token in upper case) answers exactly A's books whose title contains the token in any case, ordered by id")
    static let identical = CheckSpec(
        "In-memory and SQLite repositories answer identically",
        "the whole suite, run against the reference wired to each repository, gives the same statuses, Location headers and bodies (timestamps aside)",
        referenceOnly: true)
    static let throughService = CheckSpec(
        "Handlers reach storage only through the service layer",
        "every repository call of the run was made inside a service use case; none came from a handler directly", referenceOnly: true)
    static let realSQLite = CheckSpec(
        "The SQLite repository keeps the data in its file",
        "after the SQLite run, the database file holds as many books as that server's GET /books total", referenceOnly: true)

    static let checks = [roundTrip, replace, remove, query, identical, throughService, realSQLite]

    static func starter() -> [StarterFile] {
        bookshelfStarter(
            info,
            task:
                "Structure the bookshelf in layers: thin handlers, a service layer with the use cases and rules, and a repository interface with two implementations (in memory and a database) that you can swap without changing any answer.",
            checks: checks)
    }

    /// One request of the suite and its answer, with the parts that may differ between two
    /// correct runs (timestamps) blanked out.
    struct Answer: Equatable, CustomStringConvertible {
        var request: String
        var status: String
        var location: String
        var body: String
        var description: String { "\(request) → \(status) \(location) \(body)" }
    }

    struct SuiteRun {
        var exchanges: [String: Exchange] = [:]
        var answers: [Answer] = []
        var authorID: Int?
        var tokenMatches: [Int] = []
    }

    /// The suite: authors, books, a replace, a delete, filtered lists, reviews.
    static func suite(_ api: BookshelfClient, token: String) async -> SuiteRun {
        var run = SuiteRun()
        func record(_ label: String, _ e: Exchange) {
            run.exchanges[label] = e
            var body = e.json ?? .string(e.reply?.text ?? "")
            body = blankTimestamps(body)
            run.answers.append(
                Answer(
                    request: "\(e.method) \(e.path)", status: e.status.map(String.init) ?? e.failure ?? "none",
                    location: e.reply?.header("Location") ?? "", body: body.text))
        }
        let a = await api.createAuthor("Italo Calvino \(token)")
        record("author", a)
        let b = await api.createAuthor("Jorge Luis Borges \(token)")
        record("other author", b)
        run.authorID = a.id
        let titles = [
            "Invisible Cities \(token.uppercased())", "If on a winter's night \(token)", "Cosmicomics",
            "Ficciones \(token)", "The Baron in the Trees \(token.capitalized)", "Mr Palomar",
        ]
        var created: [(id: Int, byA: Bool, hasToken: Bool)] = []
        for (i, title) in titles.enumerated() {
            let byA = i != 3
            let e = await api.createBook(title, author: byA ? a.id : b.id, year: 1957 + i, isbn: BookshelfContract.isbns[i % 6])
            record(i == 0 ? "create" : "book \(i)", e)
            if let id = e.id { created.append((id, byA, title.lowercased().contains(token))) }
        }
        let first = run.exchanges["create"]?.id ?? 0
        record("read", await api.call("GET", "/books/\(first)", shape: .book))
        record(
            "put",
            await api.call(
                "PUT", "/books/\(first)",
                json: [
                    "title": .string("Le città invisibili \(token)"), "author_id": .int(a.id ?? 0), "year": 1972,
                    "isbn": .string(BookshelfContract.isbns[0]),
                ], shape: .book))
        record("read after put", await api.call("GET", "/books/\(first)", shape: .book))
        let victim = created.last?.id ?? 0
        record("delete", await api.call("DELETE", "/books/\(victim)"))
        record("read after delete", await api.call("GET", "/books/\(victim)", shape: .book))
        let survivors = created.filter { $0.id != victim }
        run.tokenMatches = survivors.filter { $0.byA && ($0.hasToken || $0.id == first) }.map(\.id)
        record("query", await api.call("GET", "/books?author_id=\(a.id ?? 0)&q=\(token.uppercased())&limit=100", shape: .page))
        record("page", await api.call("GET", "/books?author_id=\(a.id ?? 0)&limit=2&offset=1", shape: .page))
        record("review", await api.call("POST", "/books/\(first)/reviews", json: ["rating": 4, "text": "dense"], shape: .review))
        record("reviews", await api.call("GET", "/books/\(first)/reviews", shape: .reviews))
        record("invalid", await api.call("POST", "/books", json: ["title": "", "author_id": .int(a.id ?? 0), "year": 1200], shape: .book))
        return run
    }

    static func blankTimestamps(_ value: JSONValue) -> JSONValue {
        switch value {
        case let .object(o):
            return .object(
                Dictionary(
                    uniqueKeysWithValues: o.map { k, v in
                        (k, k.hasSuffix("_at") && v.string != nil ? "<time>" : blankTimestamps(v))
                    }))
        case let .array(a): return .array(a.map(blankTimestamps))
        default: return value
        }
    }

    func run(_ lab: LabContext) async throws {
        let fault = BookshelfFault(rawValue: lab[Self.breaker]) ?? .none
        let audit = RepositoryAudit()
        let (service, api) = try await startBookshelf(lab, BookshelfConfiguration(storage: .memory, fault: fault, audit: audit))
        let token = BookshelfContract.runToken()
        let run = await Self.suite(api, token: token)
        lab.step("Ran the suite against \(service.subject)", "\(run.answers.count) requests, e.g. \(run.answers.first?.description ?? "none")")
        func e(_ label: String) -> Exchange { run.exchanges[label] ?? Exchange(method: "?", path: label, failure: "not sent") }

        let created = e("create"), read = e("read")
        let fields = ["title", "author_id", "year", "isbn"]
        lab.check(
            Self.roundTrip.name,
            created.status == 201 && read.status == 200 && fields.allSatisfy { created.json?[$0] != nil && read.json?[$0] == created.json?[$0] },
            expected: Self.roundTrip.asserts, observed: observed([created, read]))
        let put = e("put"), reread = e("read after put")
        lab.check(
            Self.replace.name,
            put.status == 200 && reread.status == 200 && reread.json?["title"]?.string == "Le città invisibili \(token)" && reread.json?["year"]?.int == 1972,
            expected: Self.replace.asserts, observed: observed([put, reread]))
        let delete = e("delete"), gone = e("read after delete")
        lab.check(Self.remove.name, delete.status == 204 && gone.status == 404, expected: Self.remove.asserts, observed: observed([delete, gone]))
        let query = e("query")
        let ids = query.json?["items"]?.array?.compactMap { $0["id"]?.int } ?? []
        lab.check(
            Self.query.name, query.status == 200 && ids == run.tokenMatches, expected: Self.query.asserts,
            observed: "\(query.path) → \(statusText(query.status)) ids \(ids) (want \(run.tokenMatches))")

        // The same suite against the same service over SQLite.
        let file = lab.scratch.appendingPathComponent("bookshelf.sqlite").path
        var sqliteRun: SuiteRun?
        var sqliteTotal: Int?
        if service.isReference {
            let sqlite = try await BookshelfServer.start(BookshelfConfiguration(storage: .sqlite(path: file), fault: fault))
            let client = BookshelfClient(lab, baseURL: "http://127.0.0.1:\(sqlite.port)")
            sqliteRun = await Self.suite(client, token: token)
            sqliteTotal = await client.call("GET", "/books?limit=1", shape: .page).json?["total"]?.int
            await sqlite.stop()
            lab.step("Ran the same suite against the reference wired to SQLite", file)
        }
        await lab.referenceOnlyCheck(Self.identical.name, isReference: service.isReference, expected: Self.identical.asserts) {
            let other = sqliteRun?.answers ?? []
            let diffs = zip(run.answers, other).filter { $0 != $1 }
            let sameCount = run.answers.count == other.count
            return (
                sameCount && diffs.isEmpty,
                diffs.first.map { "\(diffs.count) answers differ, first: in memory \($0.0); SQLite \($0.1)" }
                    ?? (sameCount ? "\(other.count) answers, all identical" : "\(run.answers.count) answers in memory, \(other.count) with SQLite")
            )
        }
        await lab.referenceOnlyCheck(Self.throughService.name, isReference: service.isReference, expected: Self.throughService.asserts) {
            let calls = audit.all
            let direct = calls.filter { $0.useCase == nil }
            let useCases = Set(calls.compactMap(\.useCase)).sorted()
            return (
                !calls.isEmpty && direct.isEmpty,
                direct.isEmpty
                    ? "\(calls.count) repository calls, all inside use cases (\(useCases.joined(separator: ", ")))"
                    : "\(direct.count) of \(calls.count) repository calls came from outside the service: \(Set(direct.map(\.method)).sorted().joined(separator: ", "))"
            )
        }
        await lab.referenceOnlyCheck(Self.realSQLite.name, isReference: service.isReference, expected: Self.realSQLite.asserts) {
            let want = sqliteTotal ?? 0
            guard FileManager.default.fileExists(atPath: file) else { return (false, "there is no database file at \(file)") }
            var configuration = Configuration()
            configuration.readonly = true
            let db = try DatabaseQueue(path: file, configuration: configuration)
            let count = try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM books") ?? 0 }
            try db.close()
            return (want > 0 && count == want, "the file holds \(count) books; the SQLite-backed server lists \(want)")
        }
    }
}
