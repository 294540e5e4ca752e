// DTOs (data transfer objects) are the shapes that cross the wire, kept apart from the
// entities a service stores. The entity may carry what no client should see (a password
// hash, a storage key, a librarian's note); the response DTO is built field by field from
// what the contract allows, so a new internal field cannot leak by accident. Requests are
// closed shapes too: an unknown field is refused (422) instead of silently dropped, which
// catches typos and mass-assignment (`"role": "admin"`). And the two kinds of bad input are
// told apart: JSON that cannot be parsed is 400, well-formed JSON that breaks the rules is
// 422 with one `{field, message}` per problem.
import Foundation
import LabKit

struct DTOsLab: Lab {
    static let breaker = breakerKnob([
        .leakInternal, .acceptUnknownFields, .malformedAs422, .skipISBNCheck,
        .yearOffByOne, .ratingUnchecked, .localTimestamps,
    ])

    static let info = LabInfo(
        id: "dtos", title: "DTOs: closed shapes in, contract fields out", phase: 1,
        teaches:
            "Response DTOs show only the contract's fields (a book's internal notes and storage key never leave the service); requests are closed shapes: unknown fields 422, malformed JSON 400, invalid fields 422 with one error per field.",
        parameters: [breaker.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/HTTP/Phase01/DTOs.swift")

    static let closedAnswers = CheckSpec(
        "No answer carries a field outside the contract",
        "every JSON body of the run (authors, books, pages, reviews, problems) has only the contract's fields: no internal_notes, storage_key, password_hash or anything else"
    )
    static let unknownFields = CheckSpec(
        "Unknown request fields are refused with 422",
        "POST /authors with \"role\" and POST /books with \"storage_key\" answer 422, and errors[] names the unknown field")
    static let malformed = CheckSpec(
        "Malformed JSON is 400",
        "a body cut off mid-object and a body that is not JSON answer 400 (not 422, not 500)")
    static let invalid = CheckSpec(
        "Invalid fields are 422 with errors[{field, message}]",
        "empty title, a wrong ISBN-13 check digit, an unknown author_id and year given as a string each answer 422 with errors[] naming that field")
    static let years = CheckSpec(
        "A book's year runs from 1450 to next year",
        "year 1450 and next year answer 201; 1449 and the year after next answer 422")
    static let reviews = CheckSpec(
        "Reviews take a rating from 1 to 5",
        "ratings 1 and 5 answer 201; 0 and 6 answer 422; a review of an unknown book answers 404; GET /books/{id}/reviews lists the two")
    static let timestamps = CheckSpec(
        "Timestamps are RFC 3339 in UTC",
        "created_at and updated_at of authors, books and reviews read like 2026-01-31T12:00:00Z")

    static let checks = [closedAnswers, unknownFields, malformed, invalid, years, reviews, timestamps]

    static func starter() -> [StarterFile] {
        bookshelfStarter(
            info,
            task:
                "Give the bookshelf request and response DTOs distinct from its entities: store something internal with every book (a shelf note, a storage key) and never show it; refuse unknown and malformed input with the right status.",
            checks: checks)
    }

    func run(_ lab: LabContext) async throws {
        let fault = BookshelfFault(rawValue: lab[Self.breaker]) ?? .none
        let (_, api) = try await startBookshelf(lab, BookshelfConfiguration(fault: fault))
        let token = BookshelfContract.runToken()
        let latest = BookshelfContract.latestYear

        let author = await api.createAuthor("Ada Lovelace \(token)")
        let book = await api.createBook(
            "Notes on the Analytical Engine \(token)", author: author.id, year: 1843,
            isbn: BookshelfContract.isbns[0])
        await api.call("GET", "/books/\(book.id ?? 0)", shape: .book)
        await api.call("GET", "/authors/\(author.id ?? 0)", shape: .author)
        await api.call("GET", "/books?q=\(token)", shape: .page)
        lab.step("Created an author and a book and read them back", observed([author, book]))

        func errorFields(_ e: Exchange) -> [String] { e.json?["errors"]?.array?.compactMap { $0["field"]?.string } ?? [] }
        func statuses(_ es: [Exchange]) -> String {
            es.map { "\($0.method) \($0.path) → \($0.status.map(String.init) ?? $0.failure ?? "no answer") errors \(errorFields($0))" }
                .joined(separator: "; ")
        }

        // Unknown fields.
        let extraAuthor = await api.call("POST", "/authors", json: ["name": "Grace Hopper", "role": "admin"], shape: .author)
        let extraBook = await api.call(
            "POST", "/books",
            json: [
                "title": .string("COBOL \(token)"), "author_id": .int(author.id ?? 0), "year": 1959, "storage_key": "x",
            ], shape: .book)
        lab.check(
            Self.unknownFields.name,
            extraAuthor.status == 422 && errorFields(extraAuthor).contains("role")
                && extraBook.status == 422 && errorFields(extraBook).contains("storage_key"),
            expected: Self.unknownFields.asserts, observed: statuses([extraAuthor, extraBook]))

        // Malformed bodies.
        let cut = await api.call("POST", "/books", raw: #"{"title": "Half a bo"#, shape: .book)
        let prose = await api.call("POST", "/authors", raw: "name=Ada", shape: .author)
        lab.check(
            Self.malformed.name, cut.status == 400 && prose.status == 400, expected: Self.malformed.asserts,
            observed: statuses([cut, prose]))

        // Invalid fields, one at a time.
        let good: [String: JSONValue] = ["title": .string("Sketch \(token)"), "author_id": .int(author.id ?? 0), "year": 1843]
        func with(_ key: String, _ value: JSONValue) -> JSONValue { var o = good; o[key] = value; return .object(o) }
        let cases: [(field: String, body: JSONValue)] = [
            ("title", with("title", "  ")), ("isbn", with("isbn", .string(BookshelfContract.badISBN))),
            ("author_id", with("author_id", .int((author.id ?? 0) + 1_000_000))), ("year", with("year", "1843")),
        ]
        var invalid: [Exchange] = []
        for c in cases { invalid.append(await api.call("POST", "/books", json: c.body, shape: .book)) }
        let invalidOK = zip(cases, invalid).allSatisfy { c, e in
            e.status == 422 && errorFields(e).contains(c.field)
                && (e.json?["errors"]?.array ?? []).allSatisfy { $0["message"]?.string?.isEmpty == false }
        }
        lab.check(Self.invalid.name, invalidOK, expected: Self.invalid.asserts, observed: statuses(invalid))

        // Year bounds.
        var yearExchanges: [Exchange] = []
        for year in [1450, latest, 1449, latest + 1] {
            yearExchanges.append(await api.call("POST", "/books", json: with("year", .int(year)), shape: .book))
        }
        let yearStatuses = yearExchanges.map(\.status)
        lab.check(
            Self.years.name, yearStatuses == [201, 201, 422, 422], expected: Self.years.asserts,
            observed:
                "1450 → \(statusText(yearStatuses[0])), \(latest) → \(statusText(yearStatuses[1])), 1449 → \(statusText(yearStatuses[2])), \(latest + 1) → \(statusText(yearStatuses[3]))"
        )

        // Reviews.
        let bookPath = "/books/\(book.id ?? 0)/reviews"
        var ratings: [Exchange] = []
        for rating in [1, 5, 0, 6] {
            ratings.append(
                await api.call(
                    "POST", bookPath, json: ["rating": .int(rating), "text": .string("rated \(rating)")],
                    shape: .review))
        }
        let nobody = await api.call("POST", "/books/\((book.id ?? 0) + 1_000_000)/reviews", json: ["rating": 3, "text": "?"], shape: .review)
        let listed = await api.call("GET", bookPath, shape: .reviews)
        let listedRatings = listed.json?.array?.compactMap { $0["rating"]?.int } ?? []
        lab.check(
            Self.reviews.name,
            ratings.map(\.status) == [201, 201, 422, 422] && nobody.status == 404 && listed.status == 200 && listedRatings == [1, 5],
            expected: Self.reviews.asserts,
            observed:
                "ratings 1, 5, 0, 6 → \(ratings.map { statusText($0.status) }.joined(separator: ", ")); unknown book → \(statusText(nobody.status)); list → \(statusText(listed.status)) ratings \(listedRatings)"
        )

        // Timestamps, from every created or read resource.
        var stamps: [String] = []
        for e in api.exchanges where e.status.map({ (200..<300).contains($0) }) ?? false {
            let objects = e.json?["items"]?.array ?? e.json?.array ?? [e.json].compactMap { $0 }
            for o in objects { stamps += ["created_at", "updated_at"].compactMap { o[$0]?.string } }
        }
        let badStamps = stamps.filter { !BookshelfContract.isRFC3339UTC($0) }
        lab.check(
            Self.timestamps.name, !stamps.isEmpty && badStamps.isEmpty, expected: Self.timestamps.asserts,
            observed: badStamps.isEmpty
                ? "\(stamps.count) timestamps, e.g. \(stamps.first ?? "none")" : "\(badStamps.count) of \(stamps.count) are not, e.g. \(badStamps[0])")

        // Every JSON answer of the run, against its contract shape.
        var leaks: [String] = []
        var judged = 0
        for e in api.exchanges {
            guard let json = e.json, let reply = e.reply else { continue }
            let shape: BookshelfContract.Shape? = reply.status >= 400 ? .problem : e.shape
            guard let shape else { continue }
            judged += 1
            leaks += BookshelfContract.unexpectedFields(in: json, as: shape).map { "\($0) in \(e.method) \(e.path)" }
        }
        lab.check(
            Self.closedAnswers.name, judged > 0 && leaks.isEmpty, expected: Self.closedAnswers.asserts,
            observed: leaks.isEmpty
                ? "\(judged) JSON answers, none with a field outside the contract" : "\(leaks.count) stray fields: \(leaks.prefix(4).joined(separator: ", "))")
    }
}
