// What the phase-7 labs share: a Hummingbird service started in-process on 127.0.0.1
// port 0 (stopped by the run's clean-up), a small bookshelf in SQLite (authors and books,
// every statement traced), and gzip through the system zlib.
import CZlib
import Foundation
import GRDB
import HTTPTypes
import Histogram
import Hummingbird
import LabKit
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A lab's in-process web service.
struct LabService: Sendable {
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts `router` on 127.0.0.1, a free port; the run's clean-up stops it gracefully.
    static func start(_ lab: LabContext, router: Router<BasicRequestContext>, name: String) async throws -> LabService {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            server: .http1(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: quietLogger(name)
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quietLogger(name)))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        lab.onCleanup {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            throw LabError("the \(name) service did not start")
        }
        return LabService(port: port)
    }
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

/// A JSON answer from bytes already encoded.
func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

func encodeJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(value))
}

// MARK: The bookshelf in SQLite

struct ShelfAuthor: Codable, Equatable, Sendable {
    var id: Int
    var name: String
}

struct ShelfBook: Codable, Equatable, Sendable {
    var id: Int
    var title: String
    var year: Int
    var authorID: Int?
}

/// A book as the listing shows it: with its author's name (nil when the author is missing).
struct ListedBook: Codable, Equatable, Sendable {
    var id: Int
    var title: String
    var year: Int
    var author: String?
}

enum Shelf {
    /// `books` books by `authors` authors; every `orphanEvery`-th book has no author (0: none).
    static func create(_ db: Database, books: Int, authors: Int, orphanEvery: Int = 0) throws {
        try db.execute(
            sql: """
                CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL, year INTEGER NOT NULL,
                                   author_id INTEGER REFERENCES author(id));
                CREATE INDEX book_author ON book(author_id);
                """)
        for a in 1...max(1, authors) {
            try db.execute(sql: "INSERT INTO author (id, name) VALUES (?, ?)", arguments: [a, "Author \(a)"])
        }
        for b in 1...max(1, books) {
            let author: Int? = orphanEvery > 0 && b % orphanEvery == 0 ? nil : 1 + (b * 7) % max(1, authors)
            try db.execute(
                sql: "INSERT INTO book (id, title, year, author_id) VALUES (?, ?, ?, ?)",
                arguments: [b, "Book \(b)", 1900 + b % 120, author])
        }
    }

    static func book(_ db: Database, id: Int) throws -> ShelfBook? {
        try Row.fetchOne(db, sql: "SELECT id, title, year, author_id FROM book WHERE id = ?", arguments: [id]).map {
            ShelfBook(id: $0[0], title: $0[1], year: $0[2], authorID: $0[3])
        }
    }
}

// MARK: gzip through zlib

enum Gzip {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// gzip-wrapped deflate (windowBits 15 + 16), default level.
    static func compress(_ input: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        var stream = z_stream()
        guard
            deflateInit2_(
                &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw Failure(description: "deflateInit2 failed") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var input = input
        let rc = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { throw Failure(description: "deflate returned \(rc)") }
        return Array(output[0..<Int(stream.total_out)])
    }

    /// Inflates a gzip stream; throws on a corrupt or truncated one.
    static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var input = input
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        try input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(inp.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, out.count - Int(stream.avail_out))
                }
                result += chunk[0..<produced]
                if rc == Z_STREAM_END { return }
                guard rc == Z_OK else { throw Failure(description: "inflate returned \(rc) (corrupt data)") }
                if stream.avail_in == 0 && produced == 0 { throw Failure(description: "the gzip stream is truncated") }
            }
        }
        return result
    }
}

extension LabContext {
    /// The throwaway Redis and a client on it.
    func startRedis() async throws -> (ThrowawayRedis, RedisClient) {
        let redis = try await ThrowawayRedis.start(for: self)
        return (redis, try await redis.connect())
    }
}

/// The median of some durations in seconds (0 when there are none), read from an
/// HdrHistogram of nanoseconds at three significant digits, as every percentile these labs
/// report is.
func median(_ seconds: [Double]) -> Double {
    guard !seconds.isEmpty else { return 0 }
    var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    for s in seconds { _ = histogram.record(UInt64(min(max(s, 0), 3_600) * 1e9)) }
    return Double(histogram.valueAtPercentile(50)) / 1e9
}

/// A book the lab added to a learner's bookshelf, with the author it gave it.
struct SeededBook: Sendable, Equatable {
    var id: Int
    var authorID: Int
    var authorName: String
}

/// Fills a learner's bookshelf (exercise mode) through its own API: `authors` authors, then
/// `books` books, book k by author k mod `authors`. Anything but 201 stops the lab with the
/// answer quoted, since the checks need these books.
func seedBookshelf(_ lab: LabContext, _ http: LoopbackHTTP, authors: Int, books: Int) async throws -> [SeededBook] {
    struct Created: Decodable { var id: Int }
    func create(_ path: String, _ body: [String: JSONValue]) async throws -> Int {
        let reply = try await http.send("POST", path, json: .object(body))
        guard reply.status == 201, let created = try? reply.json(Created.self) else {
            throw LabError("POST \(path) answered \(reply.summary()), not 201 with the new id; these checks need the books the lab adds")
        }
        return created.id
    }
    let names = (1...authors).map { "Author \($0) \(["Le Guin", "Okri", "Ishiguro", "Morrison", "Calvino"][$0 % 5])" }
    var authorIDs: [Int] = []
    for name in names { authorIDs.append(try await create("/authors", ["name": .string(name)])) }
    var seeded: [SeededBook] = []
    for k in 0..<books {
        let topic = ["caching", "latency", "queues", "indexes"][k % 4]
        let id = try await create(
            "/books",
            [
                "title": .string("Notes on \(topic), volume \(k + 1)"),
                "author_id": .int(authorIDs[k % authors]), "year": .int(1950 + k % 70),
            ])
        seeded.append(SeededBook(id: id, authorID: authorIDs[k % authors], authorName: names[k % authors]))
    }
    lab.step("Added \(authors) authors and \(books) books to your bookshelf through POST /authors and POST /books")
    return seeded
}
