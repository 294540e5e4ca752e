import Foundation
import Hummingbird

/// How the reference bookshelf is built for one run: where it keeps its data, and which
/// fault (if any) a lab's breaker knob asked for. Every fault breaks the reference on
/// purpose in one visible way, so that the check about it can be seen to fail
/// (LABS.md, "A breaker for every check").
public struct BookshelfConfiguration: Sendable {
    public enum Storage: Sendable, Equatable {
        case memory
        /// A GRDB SQLite database at this file path.
        case sqlite(path: String)
    }

    public var host = "127.0.0.1"
    /// 0: any free port (read the bound one back through `onServerRunning`).
    public var port = 0
    public var storage: Storage = .memory
    public var fault: BookshelfFault = .none
    /// Where the one-line-per-request log goes; nil: nowhere.
    public var log: RequestLogSink?
    /// Wraps the repository to count which calls came through the service layer.
    public var audit: RepositoryAudit?
    /// A book title that makes the storage fail with a low-level error, so a lab can see
    /// what a 500 looks like from outside. nil (the default): storage never fails on purpose.
    public var failingTitle: String?
    /// What later phases add to the same service (phase 3's users, logins and roles come
    /// from AuthLabs this way): each registers its middleware and routes after the
    /// bookshelf's own middleware and before its routes. Empty: the phase-1 service.
    public var extensions: [any BookshelfExtension] = []

    public init(
        storage: Storage = .memory, fault: BookshelfFault = .none, log: RequestLogSink? = nil,
        audit: RepositoryAudit? = nil, failingTitle: String? = nil
    ) {
        self.storage = storage; self.fault = fault; self.log = log; self.audit = audit; self.failingTitle = failingTitle
    }
}

/// Something a later phase adds to the bookshelf (docs/bookshelf.md "Phase 3"): it
/// registers middleware (which then guards the phase-1 routes too) and its own routes.
public protocol BookshelfExtension: Sendable {
    func register(on router: Router<BasicRequestContext>)
}

/// The ways a lab can break the reference on purpose, one per check.
public enum BookshelfFault: String, CaseIterable, Sendable {
    case none
    // rest-api
    case skipLocation = "skip-location"
    case dropISBN = "drop-isbn"
    case putIgnored = "put-ignored"
    case deleteKeeps = "delete-keeps"
    case plainErrors = "plain-errors"
    case noAllowHeader = "no-allow-header"
    case ignoreLimit = "ignore-limit"
    case caseSensitiveSearch = "case-sensitive-q"
    case clampLimit = "clamp-limit"
    // dtos
    case leakInternal = "leak-internal"
    case acceptUnknownFields = "accept-unknown-fields"
    case malformedAs422 = "malformed-as-422"
    case skipISBNCheck = "skip-isbn-check"
    case yearOffByOne = "year-off-by-one"
    case ratingUnchecked = "rating-unchecked"
    case localTimestamps = "local-timestamps"
    // logging-errors
    case errorsAs500 = "errors-as-500"
    case noRequestID = "no-request-id"
    case echoAnyRequestID = "echo-any-request-id"
    case stackTraces = "stack-traces"
    case logSkipErrors = "log-skip-errors"
    case logNoLatency = "log-no-latency"
    // layered-architecture
    case bypassService = "bypass-service"
    case sqliteDrift = "sqlite-drift"
    case sqliteInMemory = "sqlite-in-memory"
    // openapi-docs
    case docInvalid = "doc-invalid"
    case undocumentedRoute = "undocumented-route"
    case phantomRoute = "phantom-route"
    case docDrift = "doc-drift"
    case problemNoTitle = "problem-no-title"
    case openSchemas = "open-schemas"
    // input-validation (AuthLabs)
    case searchConcatenated = "search-concatenated"

    /// What the fault does, for a knob's help text.
    public var effect: String {
        switch self {
        case .none: return "nothing is broken"
        case .skipLocation: return "201 answers carry no Location header"
        case .dropISBN: return "GET /books/{id} leaves out the isbn field"
        case .putIgnored: return "PUT answers 200 but stores nothing"
        case .deleteKeeps: return "DELETE answers 204 but keeps the book"
        case .plainErrors: return "errors are text/plain, not problem+json"
        case .noAllowHeader: return "405 answers carry no Allow header"
        case .ignoreLimit: return "the list ignores limit and offset"
        case .caseSensitiveSearch: return "q matches titles case-sensitively"
        case .clampLimit: return "an out-of-range limit or offset is clamped instead of refused with 400"
        case .leakInternal: return "book answers include the entity's internal_notes and storage_key"
        case .acceptUnknownFields: return "unknown request fields are ignored instead of refused with 422"
        case .malformedAs422: return "malformed JSON is answered 422 instead of 400"
        case .skipISBNCheck: return "an ISBN-13 with a wrong check digit is accepted"
        case .yearOffByOne: return "year 1449 is accepted"
        case .ratingUnchecked: return "a review rating outside 1–5 is accepted"
        case .localTimestamps: return "timestamps are written in a local, non-RFC 3339 form"
        case .errorsAs500: return "domain errors (404, 400, 422) all become 500"
        case .noRequestID: return "a request's own X-Request-Id is not echoed (a new one is sent)"
        case .echoAnyRequestID: return "any X-Request-Id is echoed, even over 128 characters"
        case .stackTraces: return "500 answers carry the error, the SQL and a stack trace"
        case .logSkipErrors: return "requests answered with an error are not logged"
        case .logNoLatency: return "log lines leave out the latency"
        case .bypassService: return "GET /books/{id} reads the repository directly, skipping the service"
        case .sqliteDrift: return "the SQLite repository's q search is case-sensitive"
        case .sqliteInMemory: return "the SQLite repository keeps its data in memory, not in its file"
        case .docInvalid: return "two operations of /openapi.json share the operationId listBooks (invalid OpenAPI)"
        case .undocumentedRoute: return "DELETE /books/{id} is missing from the document"
        case .phantomRoute: return "the document lists GET /books/{id}/cover, which the server does not have"
        case .docDrift: return "the documented Book schema calls year published_year"
        case .problemNoTitle: return "problem documents leave out title"
        case .openSchemas: return "the document's schemas allow additional properties"
        case .searchConcatenated: return "the SQLite repository pastes q into its SQL instead of binding it"
        }
    }
}
