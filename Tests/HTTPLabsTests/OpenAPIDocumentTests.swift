import Foundation
import LabKit
import Testing

@testable import HTTPLabs

/// The openapi-docs lab's reading of a document: the structural rules (each broken once
/// and seen to be reported), the schema validator (each keyword seen to fail a value), and
/// the document we serve judged by someone else: openapi-spec-validator (PyPI), against the
/// OpenAPI 3.1 specification's own schema.
struct OpenAPIDocumentTests {
    static func served(_ fault: BookshelfFault = .none) throws -> OpenAPIDocument {
        try #require(OpenAPIDocument(BookshelfOpenAPI.document(fault: fault)))
    }

    /// `document` with the value at `path` (object keys) replaced; nil removes it.
    static func edit(_ document: JSONValue, _ path: [String], _ value: JSONValue?) -> JSONValue {
        guard let key = path.first, var object = document.object else { return value ?? .null }
        if path.count == 1 {
            object[key] = value
        } else {
            object[key] = edit(object[key] ?? [:], Array(path.dropFirst()), value)
        }
        return .object(object)
    }

    static func problems(_ path: [String], _ value: JSONValue?) throws -> [String] {
        let doc = try #require(OpenAPIDocument(edit(BookshelfOpenAPI.document(), path, value)))
        return doc.problems()
    }

    @Test func theServedDocumentHasNoProblemsUnderEveryFaultButDocInvalid() throws {
        for fault in BookshelfFault.allCases where fault != .docInvalid {
            #expect(try Self.served(fault).problems() == [], "\(fault)")
        }
        let invalid = try Self.served(.docInvalid).problems()
        #expect(invalid.count == 1)
        #expect(invalid.first?.contains("listBooks is also the operationId of") == true, "\(invalid)")
    }

    @Test func theServedDocumentListsTheContractsOperations() throws {
        let doc = try Self.served()
        let routes = Set(doc.operations.map { OpenAPIDocsLab.routeKey($0.method, $0.path) })
        #expect(routes == Set(BookshelfContract.routes.map { OpenAPIDocsLab.routeKey($0.method, $0.path) }))
        #expect(doc.version == "3.1.1")
        #expect(doc.schemaCount == 10)
    }

    /// One broken rule each, and the sentence that names it.
    @Test(
        arguments: [
            (["openapi"], JSONValue.string("3.0.3"), "is not 3.1 or later"),
            (["openapi"], nil, "openapi: missing"),
            (["openapi"], "three", "is not a version"),
            (["info", "title"], nil, "info.title: missing"),
            (["info"], nil, "info: missing"),
            (["paths", "books"], ["get": ["responses": ["200": ["description": "x"]]]], "a path must start with /"),
            (["paths", "/authors/{id}", "parameters"], [], "{id} in the path has no path parameter"),
            (
                ["paths", "/health", "get", "parameters"], [["name": "id", "in": "path", "required": true, "schema": ["type": "integer"]]],
                "path parameter id is not in the path"
            ),
            (["paths", "/authors/{id}", "parameters"], [["name": "id", "in": "path", "schema": ["type": "integer"]]], "must be required: true"),
            (
                ["paths", "/health", "get", "parameters"], [["name": "a", "in": "query", "schema": [:]], ["name": "a", "in": "query", "schema": [:]]],
                "is listed twice"
            ),
            (["paths", "/health", "get", "parameters"], [["name": "a", "in": "body", "schema": [:]]], "not query, header, path or cookie"),
            (["paths", "/health", "get", "responses"], [:], "no responses"),
            (["paths", "/health", "get", "responses", "20x"], ["description": "x"], "not a status code"),
            (["paths", "/health", "get", "responses", "200", "description"], nil, "description: missing"),
            (
                ["paths", "/health", "get", "responses", "200", "content", "application/json", "schema"], ["$ref": "#/components/schemas/Nope"],
                "does not resolve"
            ),
            (
                ["paths", "/health", "get", "responses", "200", "content", "application/json", "schema"], ["$ref": "other.yaml#/Health"],
                "points outside the document"
            ),
            (["paths", "/books", "post", "requestBody"], ["required": true], "requestBody: no content"),
        ] as [([String], JSONValue?, String)])
    func eachBrokenRuleIsReported(_ path: [String], _ value: JSONValue?, _ sentence: String) throws {
        let problems = try Self.problems(path, value)
        #expect(problems.contains { $0.contains(sentence) }, "\(path): \(problems)")
    }

    @Test func referencesAreFollowedThroughPathItemsParametersAndResponses() throws {
        var doc = BookshelfOpenAPI.document()
        // Move the 404 answer and the id parameter into components, reached by $ref.
        doc = Self.edit(doc, ["components", "responses"], ["NotFound": ["description": "No such author"]])
        doc = Self.edit(doc, ["components", "parameters"], ["Id": ["name": "id", "in": "path", "required": true, "schema": ["type": "integer"]]])
        doc = Self.edit(doc, ["paths", "/authors/{id}", "parameters"], [["$ref": "#/components/parameters/Id"]])
        doc = Self.edit(doc, ["paths", "/authors/{id}", "get", "responses", "404"], ["$ref": "#/components/responses/NotFound"])
        let document = try #require(OpenAPIDocument(doc))
        #expect(document.problems() == [])
        let op = try #require(document.operations.first { $0.method == "GET" && $0.path == "/authors/{id}" })
        #expect(document.response(op, status: 404)?["description"] == "No such author")
        #expect(document.response(op, status: 200)?["description"] == "The author")
        #expect(document.response(op, status: 500) == nil)
        // A JSON Pointer escapes / as ~1.
        #expect(document.pointer("#/paths/~1authors~1{id}/get/operationId") == "getAuthor")
    }

    // MARK: The schema validator

    static func errors(_ value: JSONValue, _ schema: JSONValue) throws -> [String] {
        SchemaValidator(document: try served()).errors(value, schema)
    }

    static let book: JSONValue = [
        "id": 1, "title": "SICP", "author_id": 2, "year": 1985, "isbn": nil,
        "created_at": "2026-12-02T10:00:00Z", "updated_at": "2026-12-02T10:00:00.123+01:00",
    ]

    @Test func aBookValidatesAgainstTheBookSchemaAndEachFaultIsNamed() throws {
        let schema: JSONValue = ["$ref": "#/components/schemas/Book"]
        #expect(try Self.errors(Self.book, schema) == [])
        #expect(try Self.errors(Self.edit(Self.book, ["isbn"], "978-0262510875"), schema) == [])
        let cases: [(JSONValue, String)] = [
            (Self.edit(Self.book, ["internal"], 1), "$: internal is not allowed (additionalProperties: false)"),
            (Self.edit(Self.book, ["title"], nil), "$: missing required title"),
            (Self.edit(Self.book, ["year"], "1985"), "$.year: expected integer, got a string"),
            (Self.edit(Self.book, ["year"], 1200), "$.year: 1200 is below the minimum 1450"),
            (Self.edit(Self.book, ["isbn"], 978), "$.isbn: expected string or null, got a whole number"),
            (Self.edit(Self.book, ["created_at"], "yesterday"), "$.created_at: \"yesterday\" is not an RFC 3339 date-time"),
            (Self.edit(Self.book, ["id"], 0), "$.id: 0 is below the minimum 1"),
            ("a book", "$: expected object, got a string"),
        ]
        for (value, error) in cases {
            #expect(try Self.errors(value, schema) == [error])
        }
        let page: JSONValue = ["items": [Self.book, Self.edit(Self.book, ["id"], "2")], "total": 2, "limit": 101, "offset": 0]
        #expect(
            try Self.errors(page, ["$ref": "#/components/schemas/BookPage"]) == [
                "$.items[1].id: expected integer, got a string", "$.limit: 101 is above the maximum 100",
            ])
    }

    @Test func eachKeywordCanFailAValue() throws {
        let cases: [(JSONValue, JSONValue, Bool)] = [
            (["type": "integer"], .double(2.0), true),
            (["type": "integer"], .double(2.5), false),
            (["type": "number", "exclusiveMinimum": 0], 0, false),
            (["type": "number", "exclusiveMaximum": 10], .double(9.5), true),
            (["type": "number", "minimum": 0, "exclusiveMinimum": true], 0, false),  // OpenAPI 3.0's form
            (["type": "string", "nullable": true], nil, true),  // OpenAPI 3.0's form
            (["type": "string"], nil, false),
            (["enum": ["a", "b"]], "c", false),
            (["const": 3], .double(3.0), true),
            (["type": "string", "maxLength": 2], "abc", false),
            (["type": "string", "pattern": "^[0-9]+$"], "12a", false),
            (["type": "array", "minItems": 1], [], false),
            (["type": "array", "items": ["type": "string"]], ["a", 1], false),
            (["type": "object", "additionalProperties": ["type": "integer"]], ["a": 1, "b": "x"], false),
            (["anyOf": [["type": "string"], ["type": "integer"]]], true, false),
            (["oneOf": [["type": "number"], ["type": "integer"]]], 1, false),
            (["oneOf": [["type": "number"], ["type": "integer"]]], .double(1.5), true),
            (["not": ["type": "null"]], nil, false),
            (["allOf": [["required": ["a"]], ["required": ["b"]]]], ["a": 1], false),
            (false, 1, false),
            (true, 1, true),
        ]
        for (schema, value, valid) in cases {
            #expect(try Self.errors(value, schema).isEmpty == valid, "\(schema.text) with \(value.text)")
        }
    }

    @Test func openObjectsAreFoundThroughReferencesAndItems() throws {
        let closed = try Self.served()
        let open = try Self.served(.openSchemas)
        let page: JSONValue = ["$ref": "#/components/schemas/BookPage"]
        var seen = Set<String>()
        #expect(SchemaValidator(document: closed).openObjects(page, at: "GET /books", seen: &seen) == [])
        seen = []
        #expect(SchemaValidator(document: open).openObjects(page, at: "GET /books", seen: &seen).sorted() == ["Book", "BookPage"])
    }

    // MARK: An independent judge

    /// openapi-spec-validator 0.9 (scripts/install-deps.sh installs it) checks the document
    /// against the OpenAPI 3.1 schema; it refuses the doc-invalid breaker's duplicate operationId.
    @Test func openAPISpecValidatorAcceptsTheServedDocumentAndRefusesTheBrokenOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func validate(_ fault: BookshelfFault) throws -> (status: Int32, output: String) {
            let file = folder.appendingPathComponent("\(fault.rawValue).json")
            try Data(try BookshelfOpenAPI.json(fault: fault)).write(to: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "openapi_spec_validator", "--schema", "3.1", file.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        let good = try validate(.none)
        try #require(!good.output.contains("No module named"), "openapi-spec-validator is missing: run scripts/install-deps.sh")
        #expect(good.status == 0, "\(good.output)")
        for fault in [BookshelfFault.openSchemas, .docDrift, .phantomRoute, .undocumentedRoute] {
            let r = try validate(fault)
            #expect(r.status == 0, "\(fault): \(r.output)")
        }
        let broken = try validate(.docInvalid)
        #expect(broken.status != 0)
        #expect(broken.output.contains("Operation ID 'listBooks'"), "\(broken.output)")
    }
}
