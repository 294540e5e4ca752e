// The reference gRPC bookshelf of phase 9, from the code generated from bookshelf.proto
// (Generated/): a service that implements the generated protocol, served by grpc-swift-2 over
// its NIO HTTP/2 transport on 127.0.0.1 port 0, plaintext or TLS. Breakers (`GRPCFaults`)
// make it wrong on purpose in one visible way each.
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LabKit
import SwiftProtobuf
import Synchronization

typealias Book = Bookshelf_V1_Book
typealias BookshelfRPC = Bookshelf_V1_Bookshelf

/// What a breaker makes the reference service do wrong.
struct GRPCFaults: Sendable {
    /// AddBook forgets the tags.
    var dropTags = false
    /// GetBook answers INTERNAL instead of NOT_FOUND for an unknown id.
    var missingInternal = false
    /// GetBook answers a title that is not the stored one for every other book.
    var staleTitle = false
    /// Every answer carries 1 KiB of an unknown field (the client keeps it, unread).
    var padding = false
    /// GetBook fails (UNAVAILABLE) on every 10th call after this many.
    var failAfter: Int?
    /// The ticker skips sequence 3 (and goes one further, so the count is still right).
    var tickerSkip = false
    /// The ticker sends sequences 2 and 3 swapped.
    var tickerShuffle = false
    /// Chat holds every reply until the client closes its side.
    var chatBuffer = false
    /// Chat never answers the third message.
    var chatDrop = false
    /// The ticker ignores cancellation and keeps producing (up to 3 s more: longer than the lab
    /// waits for it to stop).
    var ignoreCancel = false
}

/// The service: authors and books in memory, the ticker and the chat.
final class BookshelfGRPCService: BookshelfRPC.SimpleServiceProtocol {
    struct State {
        var nextAuthor: Int64 = 1
        var nextBook: Int64 = 1
        var authors: [Int64: Bookshelf_V1_Author] = [:]
        var books: [Int64: Book] = [:]
        var order: [Int64] = []
        var tickers: [String: Bookshelf_V1_TickerStats] = [:]
        /// RPCs answered, per method name (the TLS lab asks which calls reached the service).
        var calls: [String: Int] = [:]
        /// The server is shutting down (the ignore-cancel breaker's ticker stops then).
        var closing = false
    }
    let faults: GRPCFaults
    private let state = Mutex(State())

    init(faults: GRPCFaults = GRPCFaults()) { self.faults = faults }

    var callsServed: Int { state.withLock { $0.calls.values.reduce(0, +) } }
    func tickerStats(_ id: String) -> Bookshelf_V1_TickerStats? { state.withLock { $0.tickers[id] } }

    /// Says the server is shutting down, before it waits for its handlers.
    func close() { state.withLock { $0.closing = true } }

    private func count(_ method: String) { state.withLock { $0.calls[method, default: 0] += 1 } }

    /// The message with field 99 (length-delimited, 1 KiB) appended to its bytes: a field this
    /// schema does not know, which the client keeps as unknown (the proto-padding breaker).
    private func padded<M: SwiftProtobuf.Message>(_ message: M) throws -> M {
        guard faults.padding else { return message }
        // Key 99 << 3 | 2 as a varint (9A 06), length 1024 as a varint (80 08), then the bytes.
        var bytes: [UInt8] = try message.serializedBytes()
        bytes += [0x9A, 0x06, 0x80, 0x08] + [UInt8](repeating: 0x2A, count: 1024)
        return try M(serializedBytes: bytes)
    }

    func addAuthor(request: Bookshelf_V1_AddAuthorRequest, context: ServerContext) async throws -> Bookshelf_V1_Author {
        count("AddAuthor")
        return state.withLock { s in
            let author = Bookshelf_V1_Author.with {
                $0.id = s.nextAuthor; $0.name = request.name
            }
            s.nextAuthor += 1
            s.authors[author.id] = author
            return author
        }
    }

    func addBook(request: Bookshelf_V1_AddBookRequest, context: ServerContext) async throws -> Book {
        count("AddBook")
        let book: Book? = state.withLock { s in
            guard s.authors[request.authorID] != nil else { return nil }
            let book = Book.with {
                $0.id = s.nextBook; $0.title = request.title; $0.authorID = request.authorID; $0.year = request.year
                $0.tags = faults.dropTags ? [] : request.tags; $0.priceCents = request.priceCents
            }
            s.nextBook += 1
            s.books[book.id] = book
            s.order.append(book.id)
            return book
        }
        guard let book else { throw RPCError(code: .notFound, message: "no author \(request.authorID)") }
        return try padded(book)
    }

    func getBook(request: Bookshelf_V1_GetBookRequest, context: ServerContext) async throws -> Book {
        count("GetBook")
        if let after = faults.failAfter {
            let n = state.withLock { $0.calls["GetBook", default: 0] }
            if n > after, n % 10 == 0 { throw RPCError(code: .unavailable, message: "failing on purpose (grpc-fail-late)") }
        }
        guard var book = state.withLock({ $0.books[request.id] }) else {
            throw RPCError(code: faults.missingInternal ? .internalError : .notFound, message: "no book \(request.id)")
        }
        if faults.staleTitle, book.id % 2 == 0 { book.title += " (2nd edition)" }
        return try padded(book)
    }

    func listBooks(request: Bookshelf_V1_ListBooksRequest, context: ServerContext) async throws -> Bookshelf_V1_ListBooksResponse {
        count("ListBooks")
        return state.withLock { s in
            .with { $0.books = s.order.compactMap { s.books[$0] }.filter { $0.authorID == request.authorID } }
        }
    }

    func getTickerStats(request: Bookshelf_V1_TickerStatsRequest, context: ServerContext) async throws -> Bookshelf_V1_TickerStats {
        count("GetTickerStats")
        guard let stats = tickerStats(request.streamID) else { throw RPCError(code: .notFound, message: "no ticker stream \(request.streamID)") }
        return stats
    }

    /// The price of a symbol at a sequence number: a deterministic walk, so runs repeat.
    static func price(symbol: String, sequence: Int64) -> Int64 {
        let seed = symbol.utf8.reduce(Int64(7)) { ($0 * 31 + Int64($1)) % 10_007 }
        return 10_000 + (seed * 13 + sequence * 37) % 2_000
    }

    func priceTicker(request: Bookshelf_V1_TickerRequest, response: RPCWriter<Bookshelf_V1_PriceTick>, context: ServerContext) async throws {
        count("PriceTicker")
        let id = request.streamID
        state.withLock { $0.tickers[id] = .with { $0.active = true } }
        defer { state.withLock { $0.tickers[id]?.active = false } }
        // count 0: "until the client cancels" (100 000 ticks at most).
        var order = Array(Int64(1)...Int64(request.count <= 0 ? 100_000 : Int(request.count)))
        if faults.tickerSkip { order = order.map { $0 >= 3 ? $0 + 1 : $0 } }
        if faults.tickerShuffle, order.count >= 3 { order.swapAt(1, 2) }
        let interval = Duration.milliseconds(Int(max(0, request.intervalMs)))
        var clientLeft: ContinuousClock.Instant?
        for sequence in order {
            if Task.isCancelled {
                guard faults.ignoreCancel else { throw CancellationError() }
                clientLeft = clientLeft ?? .now
            }
            // The broken server keeps producing after the client left, until the server
            // shuts down (a minute at most). It once stopped after 3 s: a loaded run asked
            // for its stats later than that and saw a stream that had stopped.
            if let left = clientLeft, state.withLock({ $0.closing }) || ContinuousClock.now - left > .seconds(60) { return }
            let tick = Bookshelf_V1_PriceTick.with {
                $0.symbol = request.symbol; $0.sequence = sequence
                $0.priceCents = Self.price(symbol: request.symbol, sequence: sequence)
            }
            do {
                try await response.write(tick)
            } catch {
                if !faults.ignoreCancel { throw error }
                clientLeft = clientLeft ?? .now
            }
            state.withLock { $0.tickers[id]?.sent += 1 }
            if interval > .zero {
                if faults.ignoreCancel {
                    // A sleep the cancellation does not cut short.
                    await Task.detached { try? await Task.sleep(for: interval) }.value
                } else {
                    try await Task.sleep(for: interval)
                }
            }
        }
    }

    func chat(
        request: RPCAsyncSequence<Bookshelf_V1_ChatMessage, any Error>, response: RPCWriter<Bookshelf_V1_ChatMessage>,
        context: ServerContext
    ) async throws {
        count("Chat")
        var sequence: Int64 = 0
        var held: [Bookshelf_V1_ChatMessage] = []
        for try await message in request {
            sequence += 1
            if faults.chatDrop, sequence == 3 { continue }
            var reply = message
            reply.sequence = sequence
            if faults.chatBuffer { held.append(reply) } else { try await response.write(reply) }
        }
        try await response.write(contentsOf: held)
    }
}

/// A gRPC server of the lab's own on 127.0.0.1, a free port; stopped by the run's clean-up
/// (graceful shutdown: in-flight calls finish, then the listener closes).
struct GRPCReference: Sendable {
    let port: Int
    let service: BookshelfGRPCService

    static func start(
        _ lab: LabContext, service: BookshelfGRPCService,
        security: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext
    ) async throws -> GRPCReference {
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: security),
            services: [service])
        let task = Task { try await server.serve() }
        lab.onCleanup {
            service.close()
            server.beginGracefulShutdown()
            _ = try? await task.value
        }
        guard let address = try await server.listeningAddress?.ipv4, address.port > 0 else {
            throw LabError("the reference gRPC server did not start")
        }
        return GRPCReference(port: address.port, service: service)
    }
}
