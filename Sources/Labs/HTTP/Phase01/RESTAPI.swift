// REST: resources are nouns with URLs (/books, /books/42), and HTTP's methods are the verbs.
// POST to a collection creates (201 Created, with a Location header naming the new
// resource), GET reads (200), PUT replaces the whole resource (200), DELETE removes it (204
// No Content, and the resource is then 404). A path that exists but does not take the
// method answers 405 with `Allow`, so a client learns what it may do. Collections are
// paged (limit/offset, a total, a stable order) so no request returns everything.
// This lab drives all of it over real HTTP against the bookshelf (docs/bookshelf.md):
// the reference, or your own server with --url / --against.
import Foundation
import LabKit

struct RESTAPILab: Lab {
    static let breaker = breakerKnob([
        .skipLocation, .dropISBN, .putIgnored, .deleteKeeps, .plainErrors,
        .noAllowHeader, .ignoreLimit, .caseSensitiveSearch, .clampLimit,
    ])
    static let books = Knob.int(
        "books", 21...300, default: 45, quick: 23,
        help: "Books created for the list checks (more than 20, so the default page of 20 is full).")

    static let info = LabInfo(
        id: "rest-api", title: "A REST API: resources, verbs, status codes, pagination", phase: 1,
        teaches:
            "Create, read, replace, delete and list over real HTTP: 201 with Location, 200, 204 then 404, 405 with Allow, problem+json 404s, and limit/offset pages ordered by id with case-insensitive search.",
        parameters: [breaker.parameter, books.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/HTTP/Phase01/RESTAPI.swift")

    static let created = CheckSpec(
        "POST creates: 201 with Location and the resource",
        "POST /authors and POST /books answer 201, a Location header naming /authors/{id} and /books/{id}, and a JSON body with that id and the fields sent")
    static let read = CheckSpec(
        "GET /books/{id} reads the book back",
        "200 with id, title, author_id, year, isbn as created, and created_at/updated_at strings")
    static let replaced = CheckSpec(
        "PUT /books/{id} replaces the book",
        "200 with the new title, year and isbn, and a later GET shows the new title and year")
    static let paged = CheckSpec(
        "GET /books pages by limit and offset, ordered by id",
        "without parameters: limit 20, offset 0, 20 items (the first 20 ids of the whole list), total = every book; limit=5&offset=3: the 4th to 8th ids")
    static let filtered = CheckSpec(
        "GET /books filters by author_id and q",
        "author_id=A gives exactly A's books; q matches titles case-insensitively (q=TOKEN in upper case finds the lower- and mixed-case titles), ordered by id"
    )
    static let badPage = CheckSpec(
        "GET /books refuses a bad page with 400",
        "limit=0, limit=101, offset=-1 and limit=ten each answer 400")
    static let missing = CheckSpec(
        "Unknown resources and paths are 404 problem+json",
        "GET /books/{an id never created} and GET /no-such-path answer 404 with Content-Type application/problem+json")
    static let notAllowed = CheckSpec(
        "A known path with another method is 405 with Allow",
        "PATCH /books/{id} answers 405 with Allow listing GET, PUT and DELETE; DELETE /books answers 405 with Allow listing GET and POST")
    static let deleted = CheckSpec(
        "DELETE /books/{id} answers 204, then the book is gone",
        "DELETE answers 204 with no body, a GET of the same book then answers 404, and a second DELETE answers 404")

    static let checks = [created, read, replaced, paged, filtered, badPage, missing, notAllowed, deleted]

    static func starter() -> [StarterFile] {
        bookshelfStarter(
            info,
            task:
                "Build the bookshelf API's phase-1 resources: authors, books with pagination and search, and reviews, with the status codes, headers and bodies of the contract.",
            checks: checks)
    }

    func run(_ lab: LabContext) async throws {
        let fault = BookshelfFault(rawValue: lab[Self.breaker]) ?? .none
        let (_, api) = try await startBookshelf(lab, BookshelfConfiguration(fault: fault))
        await Self.judge(lab, api, books: lab[Self.books])
    }

    /// The checks, over HTTP only: also what cpp-rest-api runs (`BookshelfChecks.restAPI`).
    static func judge(_ lab: LabContext, _ api: BookshelfClient, books count: Int) async {
        let token = BookshelfContract.runToken()

        // Create: an author, then a book of theirs.
        let author = await api.createAuthor("Ursula K. Le Guin \(token)")
        let authorID = author.id
        let book = await api.createBook("The Dispossessed \(token)", author: authorID, year: 1974, isbn: BookshelfContract.isbns[1])
        let bookID = book.id
        lab.step("Created an author and a book", observed([author, book]))
        let authorOK =
            author.status == 201 && authorID != nil && author.locationPath == "/authors/\(authorID ?? 0)"
            && author.json?["name"]?.string == "Ursula K. Le Guin \(token)"
        let bookOK =
            book.status == 201 && bookID != nil && book.locationPath == "/books/\(bookID ?? 0)"
            && book.json?["title"]?.string == "The Dispossessed \(token)" && book.json?["author_id"]?.int == authorID
            && book.json?["year"]?.int == 1974
        lab.check(
            Self.created.name, authorOK && bookOK, expected: Self.created.asserts,
            observed:
                "\(author.summary) Location: \(author.reply?.header("Location") ?? "none"); \(book.summary) Location: \(book.reply?.header("Location") ?? "none")"
        )

        // Read it back.
        let got = await api.call("GET", "/books/\(bookID ?? 0)", shape: .book)
        let g = got.json
        let readOK =
            got.status == 200 && g?["id"]?.int == bookID && g?["title"]?.string == "The Dispossessed \(token)"
            && g?["author_id"]?.int == authorID && g?["year"]?.int == 1974 && g?["isbn"]?.string == BookshelfContract.isbns[1]
            && g?["created_at"]?.string != nil && g?["updated_at"]?.string != nil
        lab.check(Self.read.name, readOK, expected: Self.read.asserts, observed: got.summary)

        // Replace it.
        let put = await api.call(
            "PUT", "/books/\(bookID ?? 0)",
            json: [
                "title": .string("The Dispossessed: An Ambiguous Utopia \(token)"), "author_id": .int(authorID ?? 0),
                "year": 1975, "isbn": .string(BookshelfContract.isbns[2]),
            ], shape: .book)
        let after = await api.call("GET", "/books/\(bookID ?? 0)", shape: .book)
        // The later GET is judged on title and year: whether a GET shows every field is the read check's business.
        let replacedOK =
            [put, after].allSatisfy { e in
                e.status == 200 && e.json?["title"]?.string == "The Dispossessed: An Ambiguous Utopia \(token)" && e.json?["year"]?.int == 1975
            } && put.json?["isbn"]?.string == BookshelfContract.isbns[2]
        lab.check(Self.replaced.name, replacedOK, expected: Self.replaced.asserts, observed: observed([put, after]))

        // Fill a list: books by two new authors, titles carrying the token in three cases.
        let second = await api.createAuthor("Octavia E. Butler \(token)")
        var mine: [Int] = [], butlers: [Int] = [], tokenTitles: [Int] = []
        var failures: [Exchange] = []
        for i in 0..<count {
            let byButler = i % 3 == 0
            let title: String
            switch i % 5 {
            case 0: title = "Kindred \(token.uppercased()) \(i)"
            case 1: title = "Notes on \(token) \(i)"
            default: title = "Volume \(i)"
            }
            let e = await api.createBook(title, author: byButler ? second.id : authorID, year: 1950 + i % 70)
            guard let id = e.id, e.status == 201 else { failures.append(e); continue }
            mine.append(id)
            if byButler { butlers.append(id) }
            if i % 5 < 2 { tokenTitles.append(id) }
        }
        lab.step("Created \(mine.count) more books for the list", failures.isEmpty ? "ids \(mine.first ?? 0)…\(mine.last ?? 0)" : observed(failures))

        // A whole listing, read 100 at a time (at most 50 pages): what the pages must agree with.
        func everything(_ query: String) async -> (ids: [Int], total: Int?, last: Exchange?) {
            var ids: [Int] = [], total: Int?, last: Exchange?
            for _ in 0..<50 {
                let page = await api.call("GET", "/books?\(query)limit=100&offset=\(ids.count)", shape: .page)
                last = page
                guard page.status == 200, let items = page.json?["items"]?.array else { break }
                total = page.json?["total"]?.int
                ids += items.compactMap { $0["id"]?.int }
                if items.isEmpty || ids.count >= (total ?? 0) { break }
            }
            return (ids, total, last)
        }
        let (all, total, _) = await everything("")
        let first = await api.call("GET", "/books", shape: .page)
        let window = await api.call("GET", "/books?limit=5&offset=3", shape: .page)
        func ids(_ e: Exchange) -> [Int] { e.json?["items"]?.array?.compactMap { $0["id"]?.int } ?? [] }
        let pagedOK =
            all == all.sorted() && Set(mine).isSubset(of: all) && total == all.count
            && first.status == 200 && first.json?["limit"]?.int == 20 && first.json?["offset"]?.int == 0
            && ids(first) == Array(all.prefix(20)) && first.json?["total"]?.int == all.count
            && window.status == 200 && window.json?["limit"]?.int == 5 && window.json?["offset"]?.int == 3
            && ids(window) == Array(all.dropFirst(3).prefix(5))
        lab.check(
            Self.paged.name, pagedOK, expected: Self.paged.asserts,
            observed:
                "whole list \(all.count) ids (total \(total.map(String.init) ?? "none")); GET /books → \(first.status.map(String.init) ?? first.failure ?? "") limit \(first.json?["limit"]?.description ?? "none") with \(ids(first).count) items; limit=5&offset=3 → \(ids(window))"
        )

        // Filters.
        let byAuthor = await everything("author_id=\(second.id ?? 0)&")
        let search = await everything("q=\(token.uppercased())&")
        // The first book's title carries the token too.
        let wantSearch = ([bookID].compactMap { $0 } + tokenTitles).sorted()
        let filteredOK = byAuthor.ids == butlers && byAuthor.total == butlers.count && search.ids == wantSearch && search.total == wantSearch.count
        lab.check(
            Self.filtered.name, filteredOK, expected: Self.filtered.asserts,
            observed:
                "author_id → \(byAuthor.ids.count) books (want \(butlers.count)); q=\(token.uppercased()) → \(search.ids.count) books (want \(wantSearch.count))\(filteredOK ? "" : ": " + observed([byAuthor.last, search.last].compactMap { $0 }))"
        )

        // Bad pages.
        var bad: [Exchange] = []
        for query in ["limit=0", "limit=101", "offset=-1", "limit=ten"] {
            bad.append(await api.call("GET", "/books?\(query)", shape: .page))
        }
        lab.check(
            Self.badPage.name, bad.allSatisfy { $0.status == 400 }, expected: Self.badPage.asserts,
            observed: bad.map { "\($0.path) → \($0.status.map(String.init) ?? $0.failure ?? "")" }.joined(separator: ", "))

        // Unknown things.
        let unknownBook = await api.call("GET", "/books/\((all.max() ?? 0) + 100_000)", shape: .book)
        let unknownPath = await api.call("GET", "/no-such-path-\(token)")
        let missingOK = [unknownBook, unknownPath].allSatisfy { $0.status == 404 && $0.reply?.mediaType == "application/problem+json" }
        lab.check(Self.missing.name, missingOK, expected: Self.missing.asserts, observed: observed([unknownBook, unknownPath]))

        // Methods a path does not take.
        let patch = await api.call("PATCH", "/books/\(bookID ?? 0)", json: ["title": "x"], shape: .book)
        let deleteAll = await api.call("DELETE", "/books", shape: .page)
        func allow(_ e: Exchange) -> Set<String> {
            Set((e.reply?.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() })
        }
        let allowOK =
            patch.status == 405 && allow(patch).isSuperset(of: ["GET", "PUT", "DELETE"]) && !allow(patch).contains("PATCH")
            && deleteAll.status == 405 && allow(deleteAll).isSuperset(of: ["GET", "POST"]) && !allow(deleteAll).contains("DELETE")
        lab.check(
            Self.notAllowed.name, allowOK, expected: Self.notAllowed.asserts,
            observed:
                "\(patch.summary) Allow: \(patch.reply?.header("Allow") ?? "none"); \(deleteAll.summary) Allow: \(deleteAll.reply?.header("Allow") ?? "none")")

        // Delete, last: the list checks above counted on every book being there.
        let victim = mine.last ?? bookID ?? 0
        let delete = await api.call("DELETE", "/books/\(victim)")
        let gone = await api.call("GET", "/books/\(victim)", shape: .book)
        let again = await api.call("DELETE", "/books/\(victim)", shape: .book)
        lab.check(
            Self.deleted.name, delete.status == 204 && (delete.reply?.body.isEmpty ?? false) && gone.status == 404 && again.status == 404,
            expected: Self.deleted.asserts, observed: observed([delete, gone, again]))
        lab.figure("requests sent", Double(api.exchanges.count), "requests")
    }
}
