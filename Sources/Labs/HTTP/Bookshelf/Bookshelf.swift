import Foundation
import Hummingbird
import LabKit
import Logging
import NIOCore
import ServiceLifecycle

// The bookshelf reference service (docs/bookshelf.md, phase 1): handlers → service →
// repository. Built the way Hummingbird's template builds an app: one function,
// `buildBookshelf`, that the labs and the tests both call, on 127.0.0.1 port 0.

/// Builds the application; `onServerRunning` receives the port it bound.
func buildBookshelf(
    _ configuration: BookshelfConfiguration,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    var repository: any BookshelfRepository
    switch configuration.storage {
    case .memory:
        repository = InMemoryBookshelfRepository()
    case let .sqlite(path):
        repository = try SQLiteBookshelfRepository(
            path: configuration.fault == .sqliteInMemory ? nil : path,
            caseSensitiveSearch: configuration.fault == .sqliteDrift,
            concatenatedSearch: configuration.fault == .searchConcatenated)
    }
    if let title = configuration.failingTitle { repository = FailingRepository(base: repository, title: title) }
    if let audit = configuration.audit { repository = AuditedRepository(base: repository, audit: audit) }
    let service = BookshelfService(repository: repository, fault: configuration.fault)

    let logger = configuration.log?.logger(label: "bookshelf") ?? silentLogger("bookshelf")
    let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: BookshelfMiddleware(fault: configuration.fault, log: logger))
    for e in configuration.extensions { e.register(on: router) }
    let document = try BookshelfOpenAPI.json(fault: configuration.fault)
    BookshelfRoutes(service: service, repository: repository, fault: configuration.fault, openAPI: document)
        .register(on: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "bookshelf"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: silentLogger("bookshelf.server")
    )
}

/// Starts the bookshelf in a ServiceGroup and returns once it listens; `stop` shuts it
/// down gracefully (ServiceGroup.triggerGracefulShutdown, not a cancelled task).
public enum BookshelfServer {
    public static func start(_ configuration: BookshelfConfiguration) async throws -> RunningReference {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try buildBookshelf(configuration) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [app], gracefulShutdownSignals: [],
                logger: silentLogger("bookshelf.services")))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            let reason: String
            do { try await task.value; reason = "it stopped before listening" } catch { reason = "\(error)" }
            throw LabError("the bookshelf reference did not start: \(reason)")
        }
        return RunningReference(port: port) {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }
}

/// The routes of the contract, each a thin handler: read the request into a DTO, call one
/// use case of the service, write the answer's DTO. A path's other methods answer 405
/// with `Allow` (registered after the real ones, from the same table).
struct BookshelfRoutes {
    let service: BookshelfService
    /// Only for the bypass-service breaker: a handler that reaches storage directly.
    let repository: any BookshelfRepository
    let fault: BookshelfFault
    let openAPI: [UInt8]

    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    func register(on router: Router<BasicRequestContext>) {
        var table: [(path: String, methods: [HTTPRequest.Method])] = []
        func add(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
            router.on(RouterPath(path), method: method, use: handler)
            if let i = table.firstIndex(where: { $0.path == path }) { table[i].methods.append(method) } else { table.append((path, [method])) }
        }
        let service = service, fault = fault, repository = repository, openAPI = openAPI
        let closed = fault != .acceptUnknownFields

        add(.get, "/health") { _, _ in json(.ok, ["status": "ok"]) }
        add(.get, "/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
        add(.post, "/authors") { request, _ in
            let input = try AuthorInput.parse(try await body(request, fault), closed: closed)
            let author = try await service.createAuthor(input)
            return json(.created, AuthorDTO(author, fault: fault).json, location: "/authors/\(author.id)", fault: fault)
        }
        add(.get, "/authors/:id") { _, context in
            json(.ok, AuthorDTO(try await service.author(id: try id(context, "author")), fault: fault).json)
        }
        add(.post, "/books") { request, _ in
            let input = try BookInput.parse(try await body(request, fault), closed: closed)
            let book = try await service.createBook(input)
            return json(.created, BookDTO(book, fault: fault).json, location: "/books/\(book.id)", fault: fault)
        }
        add(.get, "/books") { request, _ in
            var query: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
            let (page, limit, offset) = try await service.books(try BookListInput(query: query))
            return json(.ok, BookPageDTO(page, limit: limit, offset: offset, fault: fault).json)
        }
        add(.get, "/books/:id") { _, context in
            let bookID = try id(context, "book")
            let book: Book
            if fault == .bypassService {
                // The breaker: storage reached from a handler, around the service.
                guard let b = try await repository.book(id: bookID) else { throw BookshelfError.notFound("There is no book \(bookID).") }
                book = b
            } else {
                book = try await service.book(id: bookID)
            }
            return json(.ok, BookDTO(book, fault: fault, single: true).json)
        }
        add(.put, "/books/:id") { request, context in
            let bookID = try id(context, "book")
            let input = try BookInput.parse(try await body(request, fault), closed: closed)
            return json(.ok, BookDTO(try await service.replaceBook(id: bookID, with: input), fault: fault).json)
        }
        add(.delete, "/books/:id") { _, context in
            try await service.deleteBook(id: try id(context, "book"))
            return Response(status: .noContent)
        }
        add(.get, "/books/:id/reviews") { _, context in
            let reviews = try await service.reviews(bookID: try id(context, "book"))
            return json(.ok, .array(reviews.map { ReviewDTO($0, fault: fault).json }))
        }
        add(.post, "/books/:id/reviews") { request, context in
            let bookID = try id(context, "book")
            let input = try ReviewInput.parse(try await body(request, fault), closed: closed)
            let review = try await service.addReview(bookID: bookID, input)
            return json(.created, ReviewDTO(review, fault: fault).json)
        }

        let every: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]
        for (path, methods) in table {
            let allow = methods.map(\.rawValue) + (methods.contains(.get) ? ["HEAD"] : [])
            for method in every where !methods.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in throw MethodNotAllowed(allow: allow) }
            }
        }
    }
}

/// A path's numeric id; anything else names no resource (404).
private func id(_ context: BasicRequestContext, _ kind: String) throws -> Int {
    let text = context.parameters.get("id") ?? ""
    guard let v = Int(text), v > 0 else { throw BookshelfError.notFound("There is no \(kind) \(text).") }
    return v
}

/// The request body (up to 1 MiB).
private func body(_ request: Request, _ fault: BookshelfFault) async throws -> [UInt8] {
    let buffer = try await request.body.collect(upTo: 1 << 20)
    let bytes = Array(buffer.readableBytesView)
    if fault == .malformedAs422, JSONValue.parse(bytes) == nil {
        throw BookshelfError.invalid([FieldError(field: "body", message: "is not valid JSON")])
    }
    return bytes
}

private func json(_ status: HTTPResponse.Status, _ value: JSONValue, location: String? = nil, fault: BookshelfFault = .none) -> Response {
    var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    if let location, fault != .skipLocation { headers[.location] = location }
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
}
