// The bookshelf's OpenAPI 3.1 document, built as JSON and served at /openapi.json (and
// written into every starter folder by `lab init`).
//
// Decision: a hand-written Hummingbird router plus this hand-built document, rather
// than swift-openapi-generator spec-first. (1) The labs break the reference on purpose
// through knobs (drop a Location header, leak an internal field, answer 422 for malformed
// JSON, document a route that does not exist); generated server stubs would encode the
// contract's types and statuses and fight every such fault, while a hand-written handler
// can be wrong in exactly one way on request. (2) The generator runs as a build plugin that
// compiles itself and its dependencies (swift-openapi-runtime, the Hummingbird transport),
// minutes on this two-core machine for every clean build, for eleven routes. (3) A document
// built here can vary with a fault like everything else. The cost: the document and the
// router are two descriptions of one API; the openapi-docs lab's checks (every contract
// route documented, every documented route answered, sampled answers valid against their
// schemas) are what hold them together, and HTTPLabsTests has openapi-spec-validator (PyPI)
// judge the document against the OpenAPI 3.1 specification's own schema.
import Foundation
import LabKit

enum BookshelfOpenAPI {
    static let problemJSON = "application/problem+json"

    /// The document as served, for a fault (most faults leave it alone).
    static func json(fault: BookshelfFault) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(document(fault: fault)))
    }

    static func document(fault: BookshelfFault = .none) -> JSONValue {
        let closed: JSONValue? = fault == .openSchemas ? nil : false
        func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
        /// An object schema; every property is required but those named in `optional`.
        func object(_ title: String, _ properties: [String: JSONValue], optional: Set<String> = []) -> JSONValue {
            var o: [String: JSONValue] = ["type": "object", "title": .string(title), "properties": .object(properties)]
            o["required"] = .array(properties.keys.filter { !optional.contains($0) }.sorted().map(JSONValue.string))
            if let closed { o["additionalProperties"] = closed }
            return .object(o)
        }
        let string: JSONValue = ["type": "string"]
        let id: JSONValue = ["type": "integer", "minimum": 1]
        let time: JSONValue = ["type": "string", "format": "date-time"]
        let year: JSONValue = ["type": "integer", "description": "1450 to next year", "minimum": 1450]
        let isbn: JSONValue = [
            "type": ["string", "null"], "description": "ISBN-13 with a valid check digit", "pattern": "^[0-9-]{13,17}$",
        ]
        let rating: JSONValue = ["type": "integer", "minimum": 1, "maximum": 5]
        let limit: JSONValue = ["type": "integer", "minimum": 1, "maximum": 100]
        let count: JSONValue = ["type": "integer", "minimum": 0]

        let schemas: [String: JSONValue] = [
            "Health": object("Health", ["status": ["type": "string", "enum": ["ok"]]]),
            "AuthorInput": object("AuthorInput", ["name": ["type": "string", "minLength": 1]]),
            "Author": object("Author", ["id": id, "name": string, "created_at": time]),
            "BookInput": object(
                "BookInput", ["title": ["type": "string", "minLength": 1], "author_id": id, "year": year, "isbn": isbn], optional: ["isbn"]),
            "Book": object(
                "Book",
                [
                    "id": id, "title": string, "author_id": id, (fault == .docDrift ? "published_year" : "year"): year,
                    "isbn": ["type": ["string", "null"]], "created_at": time, "updated_at": time,
                ]),
            "BookPage": object("BookPage", ["items": ["type": "array", "items": ref("Book")], "total": count, "limit": limit, "offset": count]),
            "ReviewInput": object("ReviewInput", ["rating": rating, "text": string]),
            "Review": object("Review", ["id": id, "book_id": id, "rating": rating, "text": string, "created_at": time]),
            "FieldError": object("FieldError", ["field": string, "message": string]),
            "Problem": object(
                "Problem",
                [
                    "type": string, "title": string, "status": ["type": "integer"], "detail": string,
                    "errors": ["type": "array", "items": ref("FieldError")],
                ],
                optional: ["errors"]),
        ]

        func content(_ schema: JSONValue, _ mediaType: String = "application/json") -> JSONValue {
            .object([mediaType: ["schema": schema]])
        }
        func requestBody(_ schema: String) -> JSONValue { ["content": content(ref(schema)), "required": true] }
        func ok(_ description: String, _ schema: String, location: Bool = false) -> JSONValue {
            var r: [String: JSONValue] = ["description": .string(description), "content": content(ref(schema))]
            if location {
                r["headers"] = ["Location": ["description": "the new resource's path", "required": true, "schema": string]]
            }
            return .object(r)
        }
        func problem(_ description: String) -> JSONValue {
            ["description": .string(description), "content": content(ref("Problem"), problemJSON)]
        }
        func operation(_ id: String, body: String? = nil, parameters: [JSONValue]? = nil, _ responses: [String: JSONValue]) -> JSONValue {
            var o: [String: JSONValue] = ["operationId": .string(id), "responses": .object(responses)]
            if let body { o["requestBody"] = requestBody(body) }
            if let parameters { o["parameters"] = .array(parameters) }
            return .object(o)
        }
        func query(_ name: String, _ schema: JSONValue, _ description: String) -> JSONValue {
            ["name": .string(name), "in": "query", "schema": schema, "description": .string(description)]
        }
        let idParameter: JSONValue = [["name": "id", "in": "path", "required": true, "schema": id]]
        let listParameters: [JSONValue] = [
            query("limit", limit, "page size, 1 to 100 (default 20)"),
            query("offset", count, "items to skip (default 0)"),
            query("author_id", id, "only this author's books"),
            query("q", string, "titles containing this, ignoring case"),
        ]
        let invalid = problem("Invalid or unknown fields")

        var bookItem: [String: JSONValue] = [
            "parameters": idParameter,
            // The doc-invalid breaker: two operations with one operationId, which OpenAPI forbids.
            "get": operation(fault == .docInvalid ? "listBooks" : "getBook", ["200": ok("The book", "Book"), "404": problem("No such book")]),
            "put": operation(
                "replaceBook", body: "BookInput",
                [
                    "200": ok("The book as replaced", "Book"), "400": problem("Malformed JSON"), "404": problem("No such book"),
                    "422": invalid,
                ]),
            "delete": operation("deleteBook", ["204": ["description": "Deleted"], "404": problem("No such book")]),
        ]
        if fault == .undocumentedRoute { bookItem["delete"] = nil }

        var paths: [String: JSONValue] = [
            "/health": ["get": operation("health", ["200": ok("The service is up", "Health")])],
            "/openapi.json": [
                "get": operation("openAPI", ["200": ["description": "This document", "content": content(["type": "object"])]])
            ],
            "/authors": [
                "post": operation(
                    "createAuthor", body: "AuthorInput",
                    ["201": ok("The author, created", "Author", location: true), "400": problem("Malformed JSON"), "422": invalid])
            ],
            "/authors/{id}": [
                "parameters": idParameter,
                "get": operation("getAuthor", ["200": ok("The author", "Author"), "404": problem("No such author")]),
            ],
            "/books": [
                "get": operation(
                    "listBooks", parameters: listParameters,
                    ["200": ok("A page of books, ordered by id", "BookPage"), "400": problem("limit or offset out of range")]),
                "post": operation(
                    "createBook", body: "BookInput",
                    [
                        "201": ok("The book, created", "Book", location: true), "400": problem("Malformed JSON"),
                        "422": problem("Invalid fields: empty title, year out of range, unknown author, bad ISBN-13, unknown fields"),
                    ]),
            ],
            "/books/{id}": .object(bookItem),
            "/books/{id}/reviews": [
                "parameters": idParameter,
                "get": operation(
                    "listReviews",
                    [
                        "200": [
                            "description": "The book's reviews, ordered by id", "content": content(["type": "array", "items": ref("Review")]),
                        ],
                        "404": problem("No such book"),
                    ]),
                "post": operation(
                    "addReview", body: "ReviewInput",
                    [
                        "201": ok("The review, created", "Review"), "400": problem("Malformed JSON"), "404": problem("No such book"),
                        "422": invalid,
                    ]),
            ],
        ]
        if fault == .phantomRoute {
            paths["/books/{id}/cover"] = [
                "parameters": idParameter,
                "get": operation("getCover", ["200": ["description": "The cover image"]]),
            ]
        }

        return [
            "openapi": "3.1.1",
            "info": [
                "title": "Bookshelf", "description": "The bookshelf API of the curriculum's HTTP labs (phase 1).", "version": "1.0.0",
            ],
            "paths": .object(paths),
            "components": ["schemas": .object(schemas)],
        ]
    }
}
