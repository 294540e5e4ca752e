// Injection happens when data is pasted into code: a title pasted into SQL text
// (`... WHERE title = '` + q + `'`) lets `' OR '1'='1` rewrite the query, and a name pasted
// into HTML lets `<script>` run in a reader's browser. The cure is to keep data out of the
// code: bound parameters (`WHERE title = ?`, the value sent apart from the SQL) and
// escaping on output (`<` becomes `&lt;`). Inputs are also limited and parsed strictly: a
// body too large is 413, one that is not valid JSON is 400, never a 500. This lab builds a
// search both ways on SQLite and on a throwaway PostgreSQL and sends the classic payloads;
// then it probes the bookshelf's `q` search and review text: the reference's, or your
// server's (--url/--against).
import Foundation
import GRDB
import HTTPLabs
import Hummingbird
import LabKit
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

enum InjectionFault: String, CaseIterable, Sendable {
    case unsafeBinds = "unsafe-binds"
    case safeConcatenates = "safe-concatenates"
    case noEscape = "no-escape"
    case noSizeLimit = "no-size-limit"
    case malformed500 = "malformed-500"

    var effect: String {
        switch self {
        case .unsafeBinds: return "the string-built search binds its parameter after all (so it cannot be shown leaking)"
        case .safeConcatenates: return "the bound-parameter search pastes the title into the SQL"
        case .noEscape: return "the safe page pastes the query into its HTML unescaped"
        case .noSizeLimit: return "the notes endpoint reads bodies of any size"
        case .malformed500: return "a body that is not JSON is answered 500"
        }
    }
}

/// Where the searches run: SQLite (GRDB) or PostgreSQL.
protocol SearchStore: Sendable {
    var name: String { get }
    /// Titles of public books whose title equals `title`, by string-built SQL (`unsafe`) or a bound parameter.
    func search(_ title: String, unsafe: Bool) async throws -> [String]
}

enum SearchData {
    static let books: [(title: String, isPrivate: Bool)] = [
        ("Dune", false), ("Emma", false), ("Ulysses", false), ("Beloved", false),
        ("Draft: my memoir", true), ("Draft: tax notes", true),
    ]
    static let secret = "sk_live_4f9a1c"
    static let setup = [
        "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, private INTEGER NOT NULL)",
        "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, secret TEXT NOT NULL)",
    ]
    static func unsafeSQL(_ title: String) -> String {
        "SELECT title FROM books WHERE private = 0 AND title = '" + title + "'"
    }
}

struct SQLiteSearch: SearchStore {
    let db: DatabaseQueue
    let fault: InjectionFault?
    var name: String { "SQLite" }

    init(folder: URL, fault: InjectionFault?) throws {
        db = try SQLiteLab.open(in: folder, name: "search.sqlite")
        self.fault = fault
        try db.write { db in
            for sql in SearchData.setup { try db.execute(sql: sql) }
            for (i, b) in SearchData.books.enumerated() {
                try db.execute(sql: "INSERT INTO books VALUES (?, ?, ?)", arguments: [i + 1, b.title, b.isPrivate ? 1 : 0])
            }
            try db.execute(sql: "INSERT INTO api_keys VALUES (1, ?)", arguments: [SearchData.secret])
        }
    }

    func search(_ title: String, unsafe: Bool) async throws -> [String] {
        let concatenate = unsafe ? fault != .unsafeBinds : fault == .safeConcatenates
        return try await db.read { db in
            if concatenate { return try String.fetchAll(db, sql: SearchData.unsafeSQL(title)) }
            return try String.fetchAll(db, sql: "SELECT title FROM books WHERE private = 0 AND title = ?", arguments: [title])
        }
    }
}

struct PostgresSearch: SearchStore {
    let session: PGSession
    let fault: InjectionFault?
    var name: String { "PostgreSQL" }

    static func make(_ server: ThrowawayPostgres, fault: InjectionFault?) async throws -> PostgresSearch {
        let session = try await server.createDatabase("injection")
        for sql in SearchData.setup { try await session.execute(sql) }
        for (i, b) in SearchData.books.enumerated() {
            try await session.query("INSERT INTO books VALUES (\(i + 1), \(b.title), \(b.isPrivate ? 1 : 0))")
        }
        try await session.query("INSERT INTO api_keys VALUES (1, \(SearchData.secret))")
        return PostgresSearch(session: session, fault: fault)
    }

    func search(_ title: String, unsafe: Bool) async throws -> [String] {
        let concatenate = unsafe ? fault != .unsafeBinds : fault == .safeConcatenates
        let rows =
            concatenate
            ? try await session.query(PostgresQuery(unsafeSQL: SearchData.unsafeSQL(title)))
            : try await session.query("SELECT title FROM books WHERE private = 0 AND title = \(title)")
        return try rows.map { try $0.decode(String.self) }
    }
}

/// HTML escaping of the five characters that matter.
func escapeHTML(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

struct InputValidationLab: Lab {
    static let breaker: Knob<String> = {
        let mine = InjectionFault.allCases.map { "\($0.rawValue) (\($0.effect))" }
        let shelf =
            ["search-concatenated (\(BookshelfFault.searchConcatenated.effect))"]
            + [AuthFault.reviewsAsHTML, .clientErrorsAs500].map { "\($0.rawValue) (\($0.effect))" }
        return Knob.choice(
            "break", ["none"] + InjectionFault.allCases.map(\.rawValue) + ["search-concatenated", "reviews-as-html", "client-errors-as-500"],
            default: "none", help: "Breaks the reference on purpose so one check can be seen to fail: " + (mine + shelf).joined(separator: "; ") + ".")
    }()
    static let postgres = Knob.bool(
        "postgres", default: true, quick: false,
        help: "Also build the search on a throwaway PostgreSQL (slower to start than SQLite).")

    static let info = LabInfo(
        id: "input-validation", title: "Injection and validation: bound parameters, escaping, size limits", phase: 3,
        teaches:
            "A search built two ways (string-built SQL and bound parameters) on SQLite and PostgreSQL: the classic payloads leak rows only in the unsafe build; HTML output escaped; oversized bodies 413 and malformed ones 400; and the bookshelf's q search and review text probed with injection and script payloads.",
        parameters: [breaker.parameter, postgres.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/Auth/Phase03/InputValidation.swift")

    static let leaks = AuthCheck(
        "String-built SQL leaks rows",
        "on the string-built search, title=' OR '1'='1 returns every book, the private drafts included, and a UNION payload returns the API key (SQLite, and PostgreSQL when enabled)",
        referenceOnly: true)
    static let bound = AuthCheck(
        "Bound parameters leak nothing",
        "on the bound-parameter search the same payloads answer 200 with no titles, and title=Dune finds exactly Dune", referenceOnly: true)
    static let escaped = AuthCheck(
        "HTML output is escaped",
        "the safe page for q=<script>alert(1)</script> contains &lt;script&gt; and no <script> tag; the unsafe page contains the raw tag (the contrast)",
        referenceOnly: true)
    static let oversized = AuthCheck(
        "An oversized body is 413",
        "POST /notes with a 2 MiB body (limit 64 KiB) is 413, and a small one is 201", referenceOnly: true)
    static let malformed = AuthCheck(
        "A malformed body is 400",
        "POST /notes with {\"text\": (cut short) and with a JSON array are each 400", referenceOnly: true)
    static let shelfSearch = AuthCheck(
        "The bookshelf's q search is not injectable",
        "GET /books?q= with ' OR '1'='1, %' OR 1=1 --, ') OR ('1'='1 and \"; DROP TABLE books; -- each answers 200 with only titles containing the payload (none); the probe book is still there and q=its token finds it"
    )
    static let shelfMarkup = AuthCheck(
        "Review text with markup is data, not HTML",
        "a review whose text is <script>alert(1)</script> is 201; GET /books/{id}/reviews answers a JSON content type (never text/html) with the text exactly as sent"
    )
    static let shelfBodies = AuthCheck(
        "The bookshelf answers bad bodies with 4xx, not 500",
        "POST /books with a 2 MiB body is 413 and with a body that is not JSON is 400; the server still answers GET /health afterwards")

    static let checks = [leaks, bound, escaped, oversized, malformed, shelfSearch, shelfMarkup, shelfBodies]

    static func starter() -> [StarterFile] {
        authStarter(
            info, task: "Make the bookshelf's q search, review text and request bodies safe against hostile input.", checks: checks,
            extra:
                "\nThe first five checks judge the lab's own two-way search; against your server the last three run, as a user the lab creates (it must be the first user, so admin, to add books).\n"
        )
    }

    func run(_ lab: LabContext) async throws {
        let choice = lab[Self.breaker]
        let fault = InjectionFault(rawValue: choice)
        if lab.subject.kind == .reference {
            try await twoWays(lab, fault: fault)
        } else {
            for c in [Self.leaks, Self.bound, Self.escaped, Self.oversized, Self.malformed] { lab.record(c, isReference: false, false, observed: "") }
        }
        try await bookshelf(lab, choice: choice)
    }

    // MARK: The search built two ways

    func twoWays(_ lab: LabContext, fault: InjectionFault?) async throws {
        let folder = lab.scratch.appendingPathComponent("search")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var stores: [any SearchStore] = [try SQLiteSearch(folder: folder, fault: fault)]
        if lab[Self.postgres] {
            let server = try await ThrowawayPostgres.start(for: lab)
            stores.append(try await PostgresSearch.make(server, fault: fault))
        }
        let app = try await Self.serveTwoWays(lab, stores: stores, fault: fault)
        let http = LoopbackHTTP.open(for: lab, baseURL: "http://127.0.0.1:\(app)")
        lab.step(
            "Serving the two-way search on 127.0.0.1:\(app)",
            "engines: \(stores.map(\.name).joined(separator: ", "))\(fault.map { "; broken on purpose: \($0.effect)" } ?? "")")

        func search(_ engine: Int, _ way: String, _ title: String) async -> (status: Int?, titles: [String]) {
            let q = title.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            guard let r = try? await http.get("/\(way)/search?engine=\(engine)&title=\(q)") else { return (nil, []) }
            return (r.status, r.json?["titles"]?.array?.compactMap(\.string) ?? [])
        }
        let orPayload = "' OR '1'='1"
        let unionPayload = "x' UNION SELECT secret FROM api_keys --"
        var leakNotes: [String] = [], boundNotes: [String] = []
        var leakOK = true, boundOK = true
        for (i, store) in stores.enumerated() {
            let everything = await search(i, "unsafe", orPayload)
            let union = await search(i, "unsafe", unionPayload)
            let leaked = everything.titles.count == SearchData.books.count && union.titles.contains(SearchData.secret)
            leakOK = leakOK && leaked
            leakNotes.append(
                "\(store.name): ' OR '1'='1 → \(everything.status.map(String.init) ?? "no answer") with \(everything.titles.count) of \(SearchData.books.count) titles (\(everything.titles.filter { $0.hasPrefix("Draft") }.count) private); UNION → \(union.titles.contains(SearchData.secret) ? "the API key" : "no key")"
            )
            let safeOr = await search(i, "safe", orPayload), safeUnion = await search(i, "safe", unionPayload)
            let dune = await search(i, "safe", "Dune")
            let clean = [safeOr, safeUnion].allSatisfy { $0.status == 200 && $0.titles.isEmpty } && dune.titles == ["Dune"]
            boundOK = boundOK && clean
            boundNotes.append(
                "\(store.name): ' OR '1'='1 → \(safeOr.status.map(String.init) ?? "no answer") \(safeOr.titles.count) titles; UNION → \(safeUnion.titles.count); Dune → \(dune.titles)"
            )
        }
        lab.record(Self.leaks, isReference: true, leakOK, observed: leakNotes.joined(separator: "; "))
        lab.record(Self.bound, isReference: true, boundOK, observed: boundNotes.joined(separator: "; "))

        let script = "<script>alert(1)</script>"
        let q = script.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let safePage = try? await http.get("/safe/page?q=\(q)"), unsafePage = try? await http.get("/unsafe/page?q=\(q)")
        let escapedOK =
            (safePage?.text.contains("&lt;script&gt;") ?? false) && !(safePage?.text.contains("<script>") ?? true)
            && (unsafePage?.text.contains(script) ?? false)
        lab.record(
            Self.escaped, isReference: true, escapedOK,
            observed:
                "safe page: \(safePage.map { $0.summary(limit: 140) } ?? "no answer"); unsafe page contains the raw tag: \(unsafePage?.text.contains(script) ?? false)"
        )

        let big = JSONValue.object(["text": .string(String(repeating: "a", count: 2 << 20))]).bytes
        let tooBig = await Self.status(http, "POST", "/notes", big),
            small = await Self.status(http, "POST", "/notes", JSONValue.object(["text": "hello"]).bytes)
        lab.record(Self.oversized, isReference: true, tooBig == "413" && small == "201", observed: "2 MiB → \(tooBig); small → \(small)")
        let cut = await Self.status(http, "POST", "/notes", Array(#"{"text": "#.utf8)), array = await Self.status(http, "POST", "/notes", Array("[1, 2]".utf8))
        lab.record(Self.malformed, isReference: true, cut == "400" && array == "400", observed: "cut short → \(cut); array → \(array)")
    }

    static func status(_ http: LoopbackHTTP, _ method: String, _ path: String, _ body: [UInt8]) async -> String {
        do { return String(try await http.request(method, path, body: body).status) } catch { return "\(error)" }
    }

    /// The two-way app: /unsafe/search and /safe/search (JSON), /unsafe/page and /safe/page
    /// (HTML), POST /notes (a 64 KiB body limit, strict JSON). Returns its port.
    static func serveTwoWays(_ lab: LabContext, stores: [any SearchStore], fault: InjectionFault?) async throws -> Int {
        let router = Router()
        for way in ["unsafe", "safe"] {
            router.get("/\(way)/search") { request, _ -> Response in
                let engine = Int(request.uri.queryParameters["engine"].map(String.init) ?? "0") ?? 0
                let title = request.uri.queryParameters["title"].map(String.init) ?? ""
                guard stores.indices.contains(engine) else { return problemResponse(.badRequest, "Bad request", "no such engine") }
                do {
                    let titles = try await stores[engine].search(title, unsafe: way == "unsafe")
                    return authJSON(.ok, ["titles": .array(titles.map { .string($0) })])
                } catch {
                    return problemResponse(.internalServerError, "Internal error", "the query failed")
                }
            }
            router.get("/\(way)/page") { request, _ -> Response in
                let q = request.uri.queryParameters["q"].map(String.init) ?? ""
                let shown = way == "safe" && fault != .noEscape ? escapeHTML(q) : q
                let html = "<!doctype html><html><body><h1>Results for \(shown)</h1></body></html>"
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
            }
        }
        router.post("/notes") { request, _ -> Response in
            let limit = fault == .noSizeLimit ? 64 << 20 : 64 << 10
            let buffer: ByteBuffer
            do { buffer = try await request.body.collect(upTo: limit) } catch {
                return problemResponse(.contentTooLarge, "Content too large", "bodies are limited to \(limit) bytes")
            }
            guard let value = JSONValue.parse(Array(buffer.readableBytesView)), let text = value["text"]?.string else {
                if fault == .malformed500 { return problemResponse(.internalServerError, "Internal error", "could not decode") }
                return problemResponse(.badRequest, "Malformed request", "the body must be a JSON object with a text string")
            }
            return authJSON(.created, ["text": .string(String(text.prefix(20)))])
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let quiet = Logger(label: "two-ways", factory: { _ in SwiftLogNoOpLogHandler() })
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "two-ways"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0); continuation.finish()
            },
            logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quiet))
        let task = Task { try await group.run() }
        lab.onCleanup {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw LabError("the two-way search did not start") }
        return port
    }

    // MARK: The bookshelf (reference or yours)

    func bookshelf(_ lab: LabContext, choice: String) async throws {
        let authFault = AuthFault(rawValue: choice) ?? .none
        let shelfFault: BookshelfFault = choice == BookshelfFault.searchConcatenated.rawValue ? .searchConcatenated : .none
        let path = lab.scratch.appendingPathComponent("bookshelf.sqlite").path
        let service = try await lab.startService { env in
            let (running, _) = try await startAuthReference(lab, AuthOptions(fault: authFault), algorithm: .hs256, port: env.port) { c in
                c.storage = .sqlite(path: path)
                c.fault = shelfFault
            }
            return running
        }
        lab.step("Started \(service.subject) at \(service.baseURL)", nil)
        let api = AuthClient(lab, baseURL: service.baseURL)
        let token = runToken()
        let (admin, setup) = await api.account("validator", run: token)
        let author = await api.call("POST", "/authors", json: ["name": .string("Probe author \(token)")], token: admin.access)
        let probe = await api.call(
            "POST", "/books", json: ["title": .string("Injection probe \(token)"), "author_id": .int(author.id ?? 0), "year": 1999],
            token: admin.access)
        lab.step("Signed up, logged in and created a probe book", observed(setup + [author, probe]))

        var searches: [Call] = []
        let payloads = ["' OR '1'='1", "%' OR 1=1 --", "') OR ('1'='1", "\"; DROP TABLE books; --"]
        for p in payloads {
            let q = p.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            searches.append(await api.call("GET", "/books?q=\(q)"))
        }
        let honest = zip(payloads, searches).allSatisfy { p, c in
            c.status == 200 && (c.json?["items"]?.array ?? [JSONValue.null]).allSatisfy { ($0["title"]?.string ?? "").lowercased().contains(p.lowercased()) }
        }
        let still = await api.call("GET", "/books/\(probe.id ?? 0)")
        let found = await api.call("GET", "/books?q=\(token)")
        lab.record(
            Self.shelfSearch, isReference: service.isReference,
            honest && still.status == 200 && (found.json?["total"]?.int ?? 0) >= 1,
            observed: searches.map { "\($0.path) → \(statusText($0)) \($0.json?["total"]?.int.map { "total \($0)" } ?? "")" }.joined(separator: "; ")
                + "; probe → \(statusText(still)); q=token → total \(found.json?["total"]?.int.map(String.init) ?? "none")")

        let script = "<script>alert(1)</script>"
        let review = await api.call("POST", "/books/\(probe.id ?? 0)/reviews", json: ["rating": 3, "text": .string(script)], token: admin.access)
        let reviews = await api.call("GET", "/books/\(probe.id ?? 0)/reviews")
        let type = reviews.reply?.mediaType ?? ""
        let texts = reviews.json?.array?.compactMap { $0["text"]?.string } ?? []
        lab.record(
            Self.shelfMarkup, isReference: service.isReference,
            review.status == 201 && reviews.status == 200 && type.contains("json") && texts.contains(script),
            observed: "\(review.summary); GET reviews → \(statusText(reviews)) \(type.isEmpty ? "no content type" : type), texts \(texts)")

        var big = Array(#"{"title": ""#.utf8)
        big += Array(repeating: UInt8(ascii: "a"), count: 2 << 20)
        big += Array(#"", "author_id": 1, "year": 2000}"#.utf8)
        let tooBig = await api.call("POST", "/books", raw: big, token: admin.access)
        let notJSON = await api.call("POST", "/books", raw: Array("title=Dune&year=1965".utf8), token: admin.access)
        let health = await api.call("GET", "/health")
        var bodiesObserved = "2 MiB → \(statusText(tooBig)); not JSON → \(statusText(notJSON)); then /health → \(statusText(health))"
        if let exit = service.exitDescription { bodiesObserved += "; your server stopped: \(exit); its output: \(service.outputTail(lines: 8) ?? "")" }
        lab.record(
            Self.shelfBodies, isReference: service.isReference, tooBig.status == 413 && notJSON.status == 400 && health.status == 200,
            observed: bodiesObserved)
    }
}
