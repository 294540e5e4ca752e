import Foundation
import LabKit
import Synchronization

/// One request and what came back, or the sentence saying why nothing did.
struct Exchange: Sendable {
    var method: String
    var path: String
    var reply: HTTPReply?
    var failure: String?
    /// The contract shape a success (2xx) answer to it has; an error answer is judged as a
    /// problem document whatever this says (the closed-shape check).
    var shape: BookshelfContract.Shape?

    var status: Int? { reply?.status }
    var json: JSONValue? { reply?.json }

    /// The id of a created resource, from its body.
    var id: Int? { json?["id"]?.int }

    /// The path a `Location` header names (an absolute URL counts by its path).
    var locationPath: String? {
        guard let l = reply?.header("Location") else { return nil }
        if l.hasPrefix("/") { return l }
        return URLComponents(string: l)?.path
    }

    /// "POST /books → 201 application/json {…}", or "… → no answer within 5 s".
    var summary: String {
        "\(method) \(path) → " + (reply.map { $0.summary() } ?? failure ?? "nothing")
    }
}

/// The labs' view of the bookshelf: sends requests through the kit's loopback client and
/// keeps every exchange, so checks can be judged on what really crossed the wire. It never
/// throws: a request that gets no answer is an exchange with a failure sentence, and the
/// check that reads it fails saying so.
final class BookshelfClient: Sendable {
    let http: LoopbackHTTP
    private let log = Mutex<[Exchange]>([])

    init(_ lab: LabContext, baseURL: String) {
        http = LoopbackHTTP.open(for: lab, baseURL: baseURL)
    }

    var exchanges: [Exchange] { log.withLock { $0 } }

    @discardableResult
    func call(
        _ method: String, _ path: String, json: JSONValue? = nil, raw: String? = nil,
        headers: [(String, String)] = [], shape: BookshelfContract.Shape? = nil
    ) async -> Exchange {
        var exchange = Exchange(method: method, path: path, shape: shape)
        do {
            let body = raw.map { Array($0.utf8) } ?? json?.bytes
            exchange.reply = try await http.request(method, path, headers: headers, body: body)
        } catch {
            exchange.failure = String(describing: error)
        }
        log.withLock { $0.append(exchange) }
        return exchange
    }

    func createAuthor(_ name: String) async -> Exchange {
        await call("POST", "/authors", json: ["name": .string(name)], shape: .author)
    }

    func createBook(_ title: String, author: Int?, year: Int, isbn: String? = nil) async -> Exchange {
        var body: [String: JSONValue] = ["title": .string(title), "author_id": .int(author ?? 0), "year": .int(year)]
        if let isbn { body["isbn"] = .string(isbn) }
        return await call("POST", "/books", json: .object(body), shape: .book)
    }
}

/// "201, 201 and 404" style observations: the summaries of the exchanges that disagree.
func observed(_ exchanges: [Exchange], limit: Int = 3) -> String {
    exchanges.prefix(limit).map(\.summary).joined(separator: "; ")
}

/// A status for a report line: the number, or "no answer".
func statusText(_ status: Int?) -> String { status.map(String.init) ?? "no answer" }
