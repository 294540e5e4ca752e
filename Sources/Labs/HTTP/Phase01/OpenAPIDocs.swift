// An OpenAPI document is a machine-readable contract: every path, method, parameter,
// request body and answer, with JSON Schemas for the bodies. Clients, mocks, tests and
// docs are generated from it, so it is only worth having if it is true: every route the
// server has is in it, every route in it exists, and what the server really answers fits
// the schemas it publishes. Closed schemas (`additionalProperties: false`) make the last
// point sharp: an answer with a stray field does not fit.
// This lab fetches /openapi.json from the service, checks its structure (the rules of
// OpenAPIDocument.problems: version, info, paths, operations, parameters, answers, $refs),
// compares its routes with the contract's and with what the server answers, and validates
// sampled answers against the schemas the document gives for them.
import Foundation
import LabKit

struct OpenAPIDocsLab: Lab {
    static let breaker = breakerKnob([.docInvalid, .undocumentedRoute, .phantomRoute, .docDrift, .problemNoTitle, .openSchemas])

    static let info = LabInfo(
        id: "openapi-docs", title: "OpenAPI: a document that tells the truth", phase: 1,
        teaches:
            "Serve /openapi.json (OpenAPI 3.1) describing every route; the lab checks it is valid, that it and the server agree route by route, and that real answers validate against its schemas.",
        parameters: [breaker.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/HTTP/Phase01/OpenAPIDocs.swift")

    static let valid = CheckSpec(
        "GET /openapi.json is a valid OpenAPI 3.1 document",
        "200 with a JSON object declaring OpenAPI 3.1 or later (a 3.0 document is refused: emit 3.1) whose structure holds: info with a title and a version; paths starting with /; every operation with answers, each with a description; operationIds unique; parameters named, placed (query, header, path or cookie) and not listed twice; every {variable} of a path declared as a required path parameter, and no other; every $ref resolving inside the document"
    )
    static let documented = CheckSpec(
        "Every route of the contract is documented",
        "each of the contract's 11 method+path pairs (path parameters matched by position, whatever their names) has an operation in the document")
    static let served = CheckSpec(
        "Every documented route exists",
        "each documented operation, sent to the server with real ids (and {} as the body of POST and PUT), answers something other than 404 or 405")
    static let conforming = CheckSpec(
        "Answers match their documented schemas",
        "the bodies of POST /authors (201), POST /books (201), GET /books/{id} (200) and GET /books (200) validate against the schemas the document gives for those statuses (type, required, properties, additionalProperties, items, enum, bounds, date-time)"
    )
    static let problemConforms = CheckSpec(
        "A 404 matches its documented problem schema",
        "GET /books/{an unknown id} answers 404 and the body validates against the schema documented for that 404")
    static let closed = CheckSpec(
        "The documented body schemas are closed",
        "every object schema (with properties) reachable from the request bodies and 2xx/4xx answers of the contract's routes has additionalProperties: false")

    static let checks = [valid, documented, served, conforming, problemConforms, closed]

    static func starter() -> [StarterFile] {
        bookshelfStarter(
            info,
            task:
                "Serve an OpenAPI 3.1 document of the bookshelf at /openapi.json: every route, its parameters, request bodies and answers, with closed JSON Schemas (additionalProperties: false). openapi.json here is one such document; yours must match your server.",
            checks: checks)
    }

    /// "/books/{bookId}" and "/books/{id}" name the same route.
    static func routeKey(_ method: String, _ path: String) -> String {
        method.uppercased() + " " + path.replacingOccurrences(of: #"\{[^}]*\}"#, with: "{}", options: .regularExpression)
    }

    func run(_ lab: LabContext) async throws {
        let fault = BookshelfFault(rawValue: lab[Self.breaker]) ?? .none
        let (_, api) = try await startBookshelf(lab, BookshelfConfiguration(fault: fault))
        let token = BookshelfContract.runToken()

        // 1. Fetch, parse, check the structure.
        let fetched = await api.call("GET", "/openapi.json")
        var document: OpenAPIDocument?
        var validity = fetched.summary
        if let reply = fetched.reply, reply.status == 200 {
            if let doc = reply.json.flatMap(OpenAPIDocument.init) {
                // A document with structural problems is still read for the other checks.
                document = doc
                let problems = doc.problems()
                let shape = "OpenAPI \(doc.version), \(doc.paths.count) paths, \(doc.schemaCount) schemas"
                validity =
                    problems.isEmpty
                    ? shape : "\(shape); \(problems.count) problem\(problems.count == 1 ? "" : "s"): " + problems.prefix(4).joined(separator: "; ")
                lab.check(Self.valid.name, problems.isEmpty, expected: Self.valid.asserts, observed: validity)
            } else {
                validity = "the body is not a JSON object: \(fetched.summary.prefix(200))"
                lab.check(Self.valid.name, false, expected: Self.valid.asserts, observed: validity)
            }
        } else {
            lab.check(Self.valid.name, false, expected: Self.valid.asserts, observed: validity)
        }
        lab.step("Fetched /openapi.json", validity)
        guard let document else {
            for spec in [Self.documented, Self.served, Self.conforming, Self.problemConforms, Self.closed] {
                lab.check(spec.name, false, expected: spec.asserts, observed: "there is no document to check (see the first check)")
            }
            return
        }

        // The document's operations, by normalised route.
        var operations: [String: OpenAPIDocument.Operation] = [:]
        for operation in document.operations { operations[Self.routeKey(operation.method, operation.path)] = operation }

        // 2. The contract's routes in the document.
        let missing = BookshelfContract.routes.filter { operations[Self.routeKey($0.method, $0.path)] == nil }
        lab.check(
            Self.documented.name, missing.isEmpty, expected: Self.documented.asserts,
            observed: missing.isEmpty
                ? "all \(BookshelfContract.routes.count) documented" : "not documented: \(missing.map(\.description).joined(separator: ", "))")

        // Real data to fill path parameters with.
        let author = await api.createAuthor("Edsger Dijkstra \(token)")
        let book = await api.createBook("A Discipline of Programming \(token)", author: author.id, year: 1976, isbn: BookshelfContract.isbns[3])
        let spare = await api.createBook("Structured Programming \(token)", author: author.id, year: 1972)
        lab.step("Created an author and two books to fill path parameters", observed([author, book, spare]))

        // 3. Every documented operation answers.
        var absent: [String] = []
        let ordered = operations.sorted { a, b in
            // DELETE last, on its own book, so the other operations still find theirs.
            (a.key.hasPrefix("DELETE") ? 1 : 0, a.key) < (b.key.hasPrefix("DELETE") ? 1 : 0, b.key)
        }
        for (key, entry) in ordered {
            let method = String(key.split(separator: " ")[0])
            let id = entry.path.hasPrefix("/authors") ? author.id : (method == "DELETE" ? spare.id : book.id)
            let concrete = entry.path.replacingOccurrences(of: #"\{[^}]*\}"#, with: String(id ?? 0), options: .regularExpression)
            let e = await api.call(method, concrete, json: ["POST", "PUT", "PATCH"].contains(method) ? .object([:]) : nil)
            if e.status == nil || e.status == 404 || e.status == 405 {
                absent.append("\(method) \(entry.path) → \(e.status.map(String.init) ?? e.failure ?? "")")
            }
        }
        lab.check(
            Self.served.name, absent.isEmpty, expected: Self.served.asserts,
            observed: absent.isEmpty ? "all \(operations.count) documented operations answered" : absent.joined(separator: "; "))

        // 4, 5. Sampled answers against their documented schemas.
        let validator = SchemaValidator(document: document)
        func judge(_ e: Exchange, route: String, path: String) -> String? {
            guard let reply = e.reply else { return "\(route): \(e.failure ?? "no answer")" }
            guard let op = operations[Self.routeKey(route, path)] else { return "\(route) \(path) is not documented" }
            guard let response = document.response(op, status: reply.status) else {
                return "\(route) \(path): status \(reply.status) is not documented"
            }
            guard let schema = document.schema(response, mediaType: reply.mediaType) else {
                return "\(route) \(path) \(reply.status): no JSON schema documented"
            }
            guard let json = reply.json else { return "\(route) \(path) \(reply.status): the body is not JSON" }
            let errors = validator.errors(json, schema)
            return errors.isEmpty ? nil : "\(route) \(path) \(reply.status): " + errors.prefix(3).joined(separator: "; ")
        }
        let list = await api.call("GET", "/books?q=\(token)", shape: .page)
        let read = await api.call("GET", "/books/\(book.id ?? 0)", shape: .book)
        let samples: [(Exchange, String, String)] = [
            (author, "POST", "/authors"), (book, "POST", "/books"), (read, "GET", "/books/{id}"), (list, "GET", "/books"),
        ]
        let sampleErrors = samples.compactMap { judge($0.0, route: $0.1, path: $0.2) }
        lab.check(
            Self.conforming.name, sampleErrors.isEmpty && samples.allSatisfy { ($0.0.status ?? 0) < 300 },
            expected: Self.conforming.asserts,
            observed: sampleErrors.isEmpty
                ? "4 answers (\(samples.map { statusText($0.0.status) }.joined(separator: ", "))) valid" : sampleErrors.joined(separator: " | "))
        let notFound = await api.call("GET", "/books/\((book.id ?? 0) + 1_000_000)", shape: .book)
        let problemError = judge(notFound, route: "GET", path: "/books/{id}")
        lab.check(
            Self.problemConforms.name, notFound.status == 404 && problemError == nil, expected: Self.problemConforms.asserts,
            observed: problemError ?? "\(notFound.summary) is valid")

        // 6. Closed schemas.
        var open: [String] = []
        var seen = Set<String>()
        for route in BookshelfContract.routes where route.path != "/openapi.json" {
            guard let op = operations[Self.routeKey(route.method, route.path)] else { continue }
            for schema in document.bodySchemas(op) { open += validator.openObjects(schema, at: route.description, seen: &seen) }
        }
        lab.check(
            Self.closed.name, open.isEmpty && !operations.isEmpty, expected: Self.closed.asserts,
            observed: open.isEmpty ? "every object schema is closed" : "open: \(Array(Set(open)).sorted().joined(separator: ", "))")
    }
}
