import Foundation
import LabKit

/// What docs/bookshelf.md (phase 1) says, as data the checks use: the routes, the
/// fields each answer may carry, valid sample values. The checks rely on this and on
/// nothing of the reference, so they judge a learner's server the same way.
enum BookshelfContract {
    struct Route: Hashable, Sendable, CustomStringConvertible {
        var method: String
        /// With `{id}` for a path parameter.
        var path: String
        var description: String { "\(method) \(path)" }
    }

    static let routes: [Route] = [
        Route(method: "POST", path: "/authors"), Route(method: "GET", path: "/authors/{id}"),
        Route(method: "POST", path: "/books"), Route(method: "GET", path: "/books"),
        Route(method: "GET", path: "/books/{id}"), Route(method: "PUT", path: "/books/{id}"),
        Route(method: "DELETE", path: "/books/{id}"),
        Route(method: "GET", path: "/books/{id}/reviews"), Route(method: "POST", path: "/books/{id}/reviews"),
        Route(method: "GET", path: "/health"), Route(method: "GET", path: "/openapi.json"),
    ]

    /// The answer shapes of the contract and the fields each may carry.
    enum Shape: String, Sendable {
        case author, book, page, review, reviews, problem, health

        var fields: Set<String> {
            switch self {
            case .author: return ["id", "name", "created_at"]
            case .book: return ["id", "title", "author_id", "year", "isbn", "created_at", "updated_at"]
            case .page: return ["items", "total", "limit", "offset"]
            case .review: return ["id", "book_id", "rating", "text", "created_at"]
            case .reviews: return []
            case .problem: return ["type", "title", "status", "detail", "errors", "instance"]
            case .health: return ["status"]
            }
        }
    }

    /// Fields of `value` that `shape` does not have, with where they were ("items[0].storage_key").
    static func unexpectedFields(in value: JSONValue, as shape: Shape, at prefix: String = "") -> [String] {
        switch shape {
        case .reviews:
            return (value.array ?? []).enumerated().flatMap { unexpectedFields(in: $1, as: .review, at: "\(prefix)[\($0)].") }
        default:
            guard let object = value.object else { return [] }
            var extra = object.keys.filter { !shape.fields.contains($0) }.sorted().map { prefix + $0 }
            if shape == .page, let items = object["items"]?.array {
                extra += items.enumerated().flatMap { unexpectedFields(in: $1, as: .book, at: "\(prefix)items[\($0)].") }
            }
            if shape == .problem, let errors = object["errors"]?.array {
                for (i, e) in errors.enumerated() {
                    extra += (e.object?.keys.filter { !["field", "message"].contains($0) } ?? []).sorted().map { "\(prefix)errors[\(i)].\($0)" }
                }
            }
            return extra
        }
    }

    /// ISBN-13s with correct check digits, and one with a wrong one.
    static let isbns = ["9780306406157", "9780060512750", "9780140449136", "9781558608320", "9780262033848", "9780596517984"]
    static let badISBN = "9780306406158"

    /// The latest year a book may have: next year, UTC.
    static var latestYear: Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.component(.year, from: Date()) + 1
    }

    /// Whether a timestamp is RFC 3339 in UTC (`…Z` or `…+00:00`).
    static func isRFC3339UTC(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$"#
        return text.range(of: pattern, options: .regularExpression) != nil
    }

    /// A short token unique to this run, so checks find their own data on a server that
    /// already holds some (a learner's `--url`).
    /// Letters only, so its upper case differs from it (the case-insensitive search checks need that).
    static func runToken() -> String {
        let letters = Array("abcdefghjkmnpqrstuvwxyz")
        return String((0..<6).map { _ in letters[Int.random(in: 0..<letters.count)] })
    }
}
