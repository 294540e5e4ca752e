// Phase 1, REST APIs with production structure: the bookshelf labs (Sources/Labs/HTTP).
// A copy of each lab's own declaration (its `static let info`), which the tracker links
// without the lab code; HTTPLabsTests holds every entry equal to its lab's.
extension LabCatalog {
    static let http: [LabInfo] = [
        LabInfo(
            id: "rest-api",
            title: "A REST API: resources, verbs, status codes, pagination",
            phase: 1,
            teaches: "Create, read, replace, delete and list over real HTTP: 201 with Location, 200, 204 then 404, 405 with Allow, problem+json 404s, and limit/offset pages ordered by id with case-insensitive search.",
            parameters: [
                LabParameter("break", .choice(["none", "skip-location", "drop-isbn", "put-ignored", "delete-keeps", "plain-errors", "no-allow-header", "ignore-limit", "case-sensitive-q", "clamp-limit"]), default: "none",
                             help: "Breaks the reference on purpose so one check can be seen to fail: skip-location (201 answers carry no Location header); drop-isbn (GET /books/{id} leaves out the isbn field); put-ignored (PUT answers 200 but stores nothing); delete-keeps (DELETE answers 204 but keeps the book); plain-errors (errors are text/plain, not problem+json); no-allow-header (405 answers carry no Allow header); ignore-limit (the list ignores limit and offset); case-sensitive-q (q matches titles case-sensitively); clamp-limit (an out-of-range limit or offset is clamped instead of refused with 400)."),
                LabParameter("books", .int(min: 21, max: 300), default: "45", quick: "23",
                             help: "Books created for the list checks (more than 20, so the default page of 20 is full)."),
            ],
            subjects: [.url, .against],
            source: "Sources/Labs/HTTP/Phase01/RESTAPI.swift"
        ),
        LabInfo(
            id: "layered-architecture",
            title: "Layered architecture: handlers, service, two repositories",
            phase: 1,
            teaches: "Handlers reach storage only through the service layer, and swapping the in-memory repository for SQLite changes no answer: the same suite, run against both, gives identical results.",
            parameters: [
                LabParameter("break", .choice(["none", "drop-isbn", "put-ignored", "delete-keeps", "case-sensitive-q", "sqlite-drift", "bypass-service", "sqlite-in-memory"]), default: "none",
                             help: "Breaks the reference on purpose so one check can be seen to fail: drop-isbn (GET /books/{id} leaves out the isbn field); put-ignored (PUT answers 200 but stores nothing); delete-keeps (DELETE answers 204 but keeps the book); case-sensitive-q (q matches titles case-sensitively); sqlite-drift (the SQLite repository's q search is case-sensitive); bypass-service (GET /books/{id} reads the repository directly, skipping the service); sqlite-in-memory (the SQLite repository keeps its data in memory, not in its file)."),
            ],
            subjects: [.url, .against],
            source: "Sources/Labs/HTTP/Phase01/LayeredArchitecture.swift"
        ),
        LabInfo(
            id: "dtos",
            title: "DTOs: closed shapes in, contract fields out",
            phase: 1,
            teaches: "Response DTOs show only the contract's fields (a book's internal notes and storage key never leave the service); requests are closed shapes: unknown fields 422, malformed JSON 400, invalid fields 422 with one error per field.",
            parameters: [
                LabParameter("break", .choice(["none", "leak-internal", "accept-unknown-fields", "malformed-as-422", "skip-isbn-check", "year-off-by-one", "rating-unchecked", "local-timestamps"]), default: "none",
                             help: "Breaks the reference on purpose so one check can be seen to fail: leak-internal (book answers include the entity's internal_notes and storage_key); accept-unknown-fields (unknown request fields are ignored instead of refused with 422); malformed-as-422 (malformed JSON is answered 422 instead of 400); skip-isbn-check (an ISBN-13 with a wrong check digit is accepted); year-off-by-one (year 1449 is accepted); rating-unchecked (a review rating outside 1–5 is accepted); local-timestamps (timestamps are written in a local, non-RFC 3339 form)."),
            ],
            subjects: [.url, .against],
            source: "Sources/Labs/HTTP/Phase01/DTOs.swift"
        ),
        LabInfo(
            id: "logging-errors",
            title: "Logging and errors: problem+json, request ids, one line per request",
            phase: 1,
            teaches: "An error middleware maps domain errors to 400/404/405/422/500 problem documents, a 500 leaks no internals, X-Request-Id is echoed or generated, and every request leaves one structured log line with its status and latency.",
            parameters: [
                LabParameter("break", .choice(["none", "plain-errors", "errors-as-500", "no-request-id", "echo-any-request-id", "stack-traces", "log-skip-errors", "log-no-latency"]), default: "none",
                             help: "Breaks the reference on purpose so one check can be seen to fail: plain-errors (errors are text/plain, not problem+json); errors-as-500 (domain errors (404, 400, 422) all become 500); no-request-id (a request's own X-Request-Id is not echoed (a new one is sent)); echo-any-request-id (any X-Request-Id is echoed, even over 128 characters); stack-traces (500 answers carry the error, the SQL and a stack trace); log-skip-errors (requests answered with an error are not logged); log-no-latency (log lines leave out the latency)."),
            ],
            subjects: [.url, .against],
            source: "Sources/Labs/HTTP/Phase01/LoggingErrors.swift"
        ),
        LabInfo(
            id: "openapi-docs",
            title: "OpenAPI: a document that tells the truth",
            phase: 1,
            teaches: "Serve /openapi.json (OpenAPI 3.1) describing every route; the lab checks it is valid, that it and the server agree route by route, and that real answers validate against its schemas.",
            parameters: [
                LabParameter("break", .choice(["none", "doc-invalid", "undocumented-route", "phantom-route", "doc-drift", "problem-no-title", "open-schemas"]), default: "none",
                             help: "Breaks the reference on purpose so one check can be seen to fail: doc-invalid (two operations of /openapi.json share the operationId listBooks (invalid OpenAPI)); undocumented-route (DELETE /books/{id} is missing from the document); phantom-route (the document lists GET /books/{id}/cover, which the server does not have); doc-drift (the documented Book schema calls year published_year); problem-no-title (problem documents leave out title); open-schemas (the document's schemas allow additional properties)."),
            ],
            subjects: [.url, .against],
            source: "Sources/Labs/HTTP/Phase01/OpenAPIDocs.swift"
        ),
    ]
}
