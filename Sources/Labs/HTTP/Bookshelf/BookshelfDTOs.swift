import Foundation
import LabKit

// DTOs: the shapes that cross the wire, distinct from the entities. Requests are closed
// shapes (an unknown field is a 422, not silently dropped), read field by field so each
// wrong field gets its own error; responses are built from the entity's public fields
// only, so adding an internal field to an entity cannot leak it.

/// Reads a request body's JSON object field by field, collecting every problem.
struct RequestObject {
    private let fields: [String: JSONValue]
    private(set) var errors: [FieldError] = []
    private var known: Set<String> = []

    /// Throws `.malformed` (400) when the body is not a JSON object.
    init(_ body: [UInt8]) throws {
        guard let value = JSONValue.parse(body) else { throw BookshelfError.malformed("The body is not valid JSON.") }
        guard let object = value.object else { throw BookshelfError.malformed("The body must be a JSON object.") }
        fields = object
    }

    mutating func string(_ name: String) -> String? {
        known.insert(name)
        switch fields[name] {
        case let .string(s)?: return s
        case nil: errors.append(FieldError(field: name, message: "is required")); return nil
        case let v?: errors.append(FieldError(field: name, message: "must be a string, not \(v.typeName)")); return nil
        }
    }

    mutating func optionalString(_ name: String) -> String? {
        known.insert(name)
        switch fields[name] {
        case let .string(s)?: return s
        case nil, .null?: return nil
        case let v?: errors.append(FieldError(field: name, message: "must be a string or null, not \(v.typeName)")); return nil
        }
    }

    mutating func int(_ name: String) -> Int? {
        known.insert(name)
        switch fields[name] {
        case let .int(i)?: return i
        case nil: errors.append(FieldError(field: name, message: "is required")); return nil
        case let v?: errors.append(FieldError(field: name, message: "must be a whole number, not \(v.typeName)")); return nil
        }
    }

    /// Ends reading: unknown fields are errors unless `closed` is false; throws `.invalid` (422) on any error.
    func finish(closed: Bool = true) throws {
        var all = errors
        if closed {
            for name in fields.keys.sorted() where !known.contains(name) {
                all.append(FieldError(field: name, message: "is not a field of this request"))
            }
        }
        if !all.isEmpty { throw BookshelfError.invalid(all) }
    }
}

struct AuthorInput: Sendable {
    var name: String

    static func parse(_ body: [UInt8], closed: Bool) throws -> AuthorInput {
        var o = try RequestObject(body)
        let name = o.string("name")
        try o.finish(closed: closed)
        return AuthorInput(name: name ?? "")
    }
}

struct BookInput: Sendable {
    var title: String
    var authorID: Int
    var year: Int
    var isbn: String?

    static func parse(_ body: [UInt8], closed: Bool) throws -> BookInput {
        var o = try RequestObject(body)
        let title = o.string("title"), author = o.int("author_id"), year = o.int("year"), isbn = o.optionalString("isbn")
        try o.finish(closed: closed)
        return BookInput(title: title ?? "", authorID: author ?? 0, year: year ?? 0, isbn: isbn)
    }
}

struct ReviewInput: Sendable {
    var rating: Int
    var text: String

    static func parse(_ body: [UInt8], closed: Bool) throws -> ReviewInput {
        var o = try RequestObject(body)
        let rating = o.int("rating"), text = o.string("text")
        try o.finish(closed: closed)
        return ReviewInput(rating: rating ?? 0, text: text ?? "")
    }
}

/// The list's query parameters; a parameter that is not a whole number is a 400.
struct BookListInput: Sendable {
    var limit: Int?
    var offset: Int?
    var authorID: Int?
    var q: String?

    init(query: [String: String]) throws {
        func int(_ name: String) throws -> Int? {
            guard let text = query[name] else { return nil }
            guard let v = Int(text) else { throw BookshelfError.malformed("\(name) must be a whole number; it was \"\(text)\".") }
            return v
        }
        limit = try int("limit"); offset = try int("offset"); authorID = try int("author_id"); q = query["q"]
    }
}

// MARK: Responses

/// How timestamps are written: RFC 3339 in UTC, whole seconds.
func timestamp(_ date: Date, fault: BookshelfFault) -> JSONValue {
    if fault == .localTimestamps {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.dateFormat = "dd/MM/yyyy HH:mm:ss"
        return .string(f.string(from: date))
    }
    return .string(date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))
}

struct AuthorDTO {
    var json: JSONValue
    init(_ a: Author, fault: BookshelfFault) {
        json = ["id": .int(a.id), "name": .string(a.name), "created_at": timestamp(a.createdAt, fault: fault)]
    }
}

struct BookDTO {
    var json: JSONValue
    init(_ b: Book, fault: BookshelfFault, single: Bool = false) {
        var o: [String: JSONValue] = [
            "id": .int(b.id), "title": .string(b.title), "author_id": .int(b.authorID), "year": .int(b.year),
            "isbn": b.isbn.map(JSONValue.string) ?? .null,
            "created_at": timestamp(b.createdAt, fault: fault), "updated_at": timestamp(b.updatedAt, fault: fault),
        ]
        if fault == .leakInternal {
            o["internal_notes"] = .string(b.internalNotes); o["storage_key"] = .string(b.storageKey)
        }
        if fault == .dropISBN, single { o["isbn"] = nil }
        json = .object(o)
    }
}

struct BookPageDTO {
    var json: JSONValue
    init(_ page: Page<Book>, limit: Int, offset: Int, fault: BookshelfFault) {
        json = [
            "items": .array(page.items.map { BookDTO($0, fault: fault).json }), "total": .int(page.total),
            "limit": .int(limit), "offset": .int(offset),
        ]
    }
}

struct ReviewDTO {
    var json: JSONValue
    init(_ r: Review, fault: BookshelfFault) {
        json = [
            "id": .int(r.id), "book_id": .int(r.bookID), "rating": .int(r.rating), "text": .string(r.text),
            "created_at": timestamp(r.createdAt, fault: fault),
        ]
    }
}
