// An OpenAPI document is a machine-readable contract: every path, method, parameter,
// request body and answer, with JSON Schemas for the bodies. Clients, mocks, tests and
// docs are generated from it, so it is only worth having if it is true: every route the
// server has is in it, every route in it exists, and what the server really answers fits
// the schemas it publishes. Closed schemas (`additionalProperties: false`) make the last
// point sharp: an answer with a stray field does not fit.
// This lab fetches /openapi.json from the service, parses and validates it with
// OpenAPIKit, compares its routes with the contract's and with what the server answers,
// and validates sampled answers against the schemas the document gives for them.
import Foundation
import LabKit
import OpenAPIKit

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
        "200 with JSON that OpenAPIKit decodes as OpenAPI 3.1 or later and whose validation (OpenAPIKit's defaults: unique operationIds, unique parameters, resolvable references, …) passes; a 3.0 document is refused: emit 3.1"
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

        // 1. Fetch, decode, validate.
        let fetched = await api.call("GET", "/openapi.json")
        var document: OpenAPI.Document?
        var validity = fetched.summary
        if let reply = fetched.reply, reply.status == 200 {
            do {
                let doc = try JSONDecoder().decode(OpenAPI.Document.self, from: Data(reply.body))
                document = doc
                let warnings = try doc.validate(strict: false)
                validity =
                    "OpenAPI \(doc.openAPIVersion.rawValue), \(doc.paths.count) paths, \(doc.components.schemas.count) schemas"
                    + (warnings.isEmpty ? "" : "; \(warnings.count) warnings, e.g. \(warnings[0])")
                lab.check(Self.valid.name, true, expected: Self.valid.asserts, observed: validity)
            } catch {
                let sentence = OpenAPI.Error(from: error).localizedDescription
                validity = sentence.count > 400 ? String(sentence.prefix(400)) + "…" : sentence
                lab.check(Self.valid.name, false, expected: Self.valid.asserts, observed: validity)
                // A document that decodes but fails validation is still read for the other checks.
                if document == nil { document = try? JSONDecoder().decode(OpenAPI.Document.self, from: Data(reply.body)) }
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
        var operations: [String: (path: String, operation: OpenAPI.Operation)] = [:]
        for (path, item) in document.paths {
            guard let item = document.components[item] else { continue }
            for endpoint in item.endpoints {
                operations[Self.routeKey(endpoint.method.rawValue, path.rawValue)] = (path.rawValue, endpoint.operation)
            }
        }

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
        let validator = SchemaValidator(components: document.components)
        func judge(_ e: Exchange, route: String, path: String) -> String? {
            guard let reply = e.reply else { return "\(route): \(e.failure ?? "no answer")" }
            guard let op = operations[Self.routeKey(route, path)]?.operation else { return "\(route) \(path) is not documented" }
            let range: OpenAPI.Response.StatusCode.Range? = [2: .success, 4: .clientError, 5: .serverError][reply.status / 100]
            let documented =
                op.responses[status: .status(code: reply.status)]
                ?? range.flatMap { op.responses[status: .range($0)] } ?? op.responses[status: .default]
            guard let response = documented.flatMap({ document.components[$0] }) else {
                return "\(route) \(path): status \(reply.status) is not documented"
            }
            let content =
                response.content.first { $0.key.typeAndSubtype == reply.mediaType }?.value
                ?? response.content.first { $0.key.typeAndSubtype.hasSuffix("json") }?.value
            guard let content = content.flatMap({ document.components[$0] }), let schema = content.schema else {
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
            guard let op = operations[Self.routeKey(route.method, route.path)]?.operation else { continue }
            var schemas: [JSONSchema] = []
            if let body = op.requestBody.flatMap({ document.components[$0] }) {
                schemas += body.content.values.compactMap { document.components[$0]?.schema }
            }
            for (status, response) in op.responses {
                guard let first = status.rawValue.first, "234".contains(first), let r = document.components[response] else { continue }
                schemas += r.content.values.compactMap { document.components[$0]?.schema }
            }
            for schema in schemas { open += validator.openObjects(schema, at: route.description, seen: &seen) }
        }
        lab.check(
            Self.closed.name, open.isEmpty && !operations.isEmpty, expected: Self.closed.asserts,
            observed: open.isEmpty ? "every object schema is closed" : "open: \(Array(Set(open)).sorted().joined(separator: ", "))")
    }
}
