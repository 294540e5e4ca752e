// The bookshelf's OpenAPI 3.1 document, built with OpenAPIKit's types and served as JSON
// at /openapi.json (and written into every starter folder by `lab init`).
//
// Decision: a hand-written Hummingbird router plus this OpenAPIKit-built document, rather
// than swift-openapi-generator spec-first. (1) The labs break the reference on purpose
// through knobs (drop a Location header, leak an internal field, answer 422 for malformed
// JSON, document a route that does not exist); generated server stubs would encode the
// contract's types and statuses and fight every such fault, while a hand-written handler
// can be wrong in exactly one way on request. (2) The generator runs as a build plugin that
// compiles itself and its dependencies (swift-openapi-runtime, the Hummingbird transport),
// minutes on this two-core machine for every clean build, for eleven routes. (3) A document
// built in Swift is checked by the compiler, can vary with a fault like everything else,
// and OpenAPIKit is needed anyway: the openapi-docs lab parses and validates the learner's
// document with it. The cost: the document and the router are two descriptions of one API;
// the openapi-docs lab's checks (every contract route documented, every documented route
// answered, sampled answers valid against their schemas) are what hold them together.
import Foundation
import LabKit
import OpenAPIKit

enum BookshelfOpenAPI {
    static let problemJSON = OpenAPI.ContentType(rawValue: "application/problem+json") ?? .json

    /// The document as served, for a fault (most faults leave it alone).
    static func json(fault: BookshelfFault) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try encoder.encode(document(fault: fault))
        return Array(data)
    }

    static func document(fault: BookshelfFault = .none) -> OpenAPI.Document {
        let closed: Either<Bool, JSONSchema>? = fault == .openSchemas ? nil : .a(false)
        func ref(_ name: String) -> JSONSchema { .reference(.component(named: name)) }
        func object(_ title: String, _ properties: OrderedDictionary<String, JSONSchema>) -> JSONSchema {
            .object(title: title, properties: properties, additionalProperties: closed)
        }
        let id = JSONSchema.integer(minimum: (1, exclusive: false))
        let time = JSONSchema.string(format: .dateTime)
        let year = JSONSchema.integer(description: "1450 to next year", minimum: (1450, exclusive: false))
        let isbn = JSONSchema.string(
            required: false, nullable: true, description: "ISBN-13 with a valid check digit",
            pattern: "^[0-9-]{13,17}$")

        let schemas: OpenAPI.ComponentDictionary<JSONSchema> = [
            "Health": object("Health", ["status": .string(allowedValues: "ok")]),
            "AuthorInput": object("AuthorInput", ["name": .string(minLength: 1)]),
            "Author": object("Author", ["id": id, "name": .string, "created_at": time]),
            "BookInput": object("BookInput", ["title": .string(minLength: 1), "author_id": id, "year": year, "isbn": isbn]),
            "Book": object(
                "Book",
                [
                    "id": id, "title": .string, "author_id": id, (fault == .docDrift ? "published_year" : "year"): year,
                    "isbn": .string(nullable: true), "created_at": time, "updated_at": time,
                ]),
            "BookPage": object(
                "BookPage",
                [
                    "items": .array(items: ref("Book")), "total": .integer(minimum: (0, exclusive: false)),
                    "limit": .integer(maximum: (100, exclusive: false), minimum: (1, exclusive: false)),
                    "offset": .integer(minimum: (0, exclusive: false)),
                ]),
            "ReviewInput": object(
                "ReviewInput",
                [
                    "rating": .integer(maximum: (5, exclusive: false), minimum: (1, exclusive: false)), "text": .string,
                ]),
            "Review": object(
                "Review",
                [
                    "id": id, "book_id": id, "rating": .integer(maximum: (5, exclusive: false), minimum: (1, exclusive: false)),
                    "text": .string, "created_at": time,
                ]),
            "FieldError": object("FieldError", ["field": .string, "message": .string]),
            "Problem": object(
                "Problem",
                [
                    "type": .string, "title": .string, "status": .integer, "detail": .string,
                    "errors": .array(required: false, items: ref("FieldError")),
                ]),
        ]

        func body(_ schema: String) -> OpenAPI.Request {
            OpenAPI.Request(content: [.json: .content(.init(schema: ref(schema)))], required: true)
        }
        func ok(_ description: String, _ schema: String, location: Bool = false) -> Either<OpenAPI.Reference<OpenAPI.Response>, OpenAPI.Response> {
            let headers: OpenAPI.Header.Map? =
                location
                ? ["Location": .b(OpenAPI.Header(schema: .string, description: "the new resource's path", required: true))] : nil
            return .response(
                OpenAPI.Response(
                    description: description, headers: headers,
                    content: [.json: .content(.init(schema: ref(schema)))]))
        }
        func problem(_ description: String) -> Either<OpenAPI.Reference<OpenAPI.Response>, OpenAPI.Response> {
            .response(OpenAPI.Response(description: description, content: [problemJSON: .content(.init(schema: ref("Problem")))]))
        }
        let idParameter: OpenAPI.Parameter.Array = [.parameter(name: "id", context: .path(schema: id))]
        let listParameters: OpenAPI.Parameter.Array = [
            .parameter(
                name: "limit", context: .query(schema: .integer(maximum: (100, exclusive: false), minimum: (1, exclusive: false))),
                description: "page size, 1 to 100 (default 20)"),
            .parameter(name: "offset", context: .query(schema: .integer(minimum: (0, exclusive: false))), description: "items to skip (default 0)"),
            .parameter(name: "author_id", context: .query(schema: id), description: "only this author's books"),
            .parameter(name: "q", context: .query(schema: .string), description: "titles containing this, ignoring case"),
        ]

        var bookItem = OpenAPI.PathItem(
            parameters: idParameter,
            // The doc-invalid breaker: two operations with one operationId, which OpenAPI forbids.
            get: .init(operationId: fault == .docInvalid ? "listBooks" : "getBook", responses: [200: ok("The book", "Book"), 404: problem("No such book")]),
            put: .init(
                operationId: "replaceBook", requestBody: body("BookInput"),
                responses: [
                    200: ok("The book as replaced", "Book"), 400: problem("Malformed JSON"), 404: problem("No such book"),
                    422: problem("Invalid or unknown fields"),
                ]),
            delete: .init(
                operationId: "deleteBook",
                responses: [
                    204: .response(OpenAPI.Response(description: "Deleted")), 404: problem("No such book"),
                ])
        )
        if fault == .undocumentedRoute { bookItem.delete = nil }

        var paths: OpenAPI.PathItem.Map = [
            "/health": .b(OpenAPI.PathItem(get: .init(operationId: "health", responses: [200: ok("The service is up", "Health")]))),
            "/openapi.json": .b(
                OpenAPI.PathItem(
                    get: .init(
                        operationId: "openAPI",
                        responses: [
                            200: .response(OpenAPI.Response(description: "This document", content: [.json: .content(.init(schema: .object))]))
                        ]))),
            "/authors": .b(
                OpenAPI.PathItem(
                    post: .init(
                        operationId: "createAuthor", requestBody: body("AuthorInput"),
                        responses: [
                            201: ok("The author, created", "Author", location: true), 400: problem("Malformed JSON"),
                            422: problem("Invalid or unknown fields"),
                        ]))),
            "/authors/{id}": .b(
                OpenAPI.PathItem(
                    parameters: idParameter,
                    get: .init(
                        operationId: "getAuthor",
                        responses: [
                            200: ok("The author", "Author"), 404: problem("No such author"),
                        ]))),
            "/books": .b(
                OpenAPI.PathItem(
                    get: .init(
                        operationId: "listBooks", parameters: listParameters,
                        responses: [
                            200: ok("A page of books, ordered by id", "BookPage"), 400: problem("limit or offset out of range"),
                        ]),
                    post: .init(
                        operationId: "createBook", requestBody: body("BookInput"),
                        responses: [
                            201: ok("The book, created", "Book", location: true), 400: problem("Malformed JSON"),
                            422: problem("Invalid fields: empty title, year out of range, unknown author, bad ISBN-13, unknown fields"),
                        ])
                )),
            "/books/{id}": .b(bookItem),
            "/books/{id}/reviews": .b(
                OpenAPI.PathItem(
                    parameters: idParameter,
                    get: .init(
                        operationId: "listReviews",
                        responses: [
                            200: .response(
                                OpenAPI.Response(
                                    description: "The book's reviews, ordered by id",
                                    content: [.json: .content(.init(schema: .array(items: ref("Review"))))])),
                            404: problem("No such book"),
                        ]),
                    post: .init(
                        operationId: "addReview", requestBody: body("ReviewInput"),
                        responses: [
                            201: ok("The review, created", "Review"), 400: problem("Malformed JSON"), 404: problem("No such book"),
                            422: problem("Invalid or unknown fields"),
                        ])
                )),
        ]
        if fault == .phantomRoute {
            paths["/books/{id}/cover"] = .b(
                OpenAPI.PathItem(
                    parameters: idParameter,
                    get: .init(
                        operationId: "getCover",
                        responses: [
                            200: .response(OpenAPI.Response(description: "The cover image"))
                        ])))
        }

        return OpenAPI.Document(
            openAPIVersion: .v3_1_1,
            info: .init(title: "Bookshelf", description: "The bookshelf API of the curriculum's HTTP labs (phase 1).", version: "1.0.0"),
            servers: [],
            paths: paths,
            components: .direct(schemas: schemas)
        )
    }
}
