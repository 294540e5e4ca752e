import Foundation
import Synchronization

/// Storage behind the service: one method per thing the service needs, nothing about HTTP
/// or validation. Two implementations (in memory, SQLite) must be indistinguishable from
/// outside; the layered-architecture lab runs the same requests against both.
protocol BookshelfRepository: Sendable {
    func insertAuthor(name: String, at: Date) async throws -> Author
    func author(id: Int) async throws -> Author?
    func insertBook(_ draft: BookDraft, at: Date) async throws -> Book
    func book(id: Int) async throws -> Book?
    /// nil when there is no such book.
    func replaceBook(id: Int, with draft: BookDraft, at: Date) async throws -> Book?
    /// false when there was no such book.
    func deleteBook(id: Int) async throws -> Bool
    /// Ordered by id.
    func books(_ query: BookQuery) async throws -> Page<Book>
    func insertReview(bookID: Int, rating: Int, text: String, at: Date) async throws -> Review
    /// Ordered by id.
    func reviews(bookID: Int) async throws -> [Review]
}

/// The internal fields a new book gets: a shelf note and a back-office key.
func internalFields(forBookID id: Int) -> (notes: String, key: String) {
    ("shelf \(["A", "B", "C", "D"][id % 4])\(id % 9 + 1), do not lend", "bk/\(String(format: "%08d", id)).rec")
}

/// Everything in a few arrays behind a lock.
final class InMemoryBookshelfRepository: BookshelfRepository {
    private struct State {
        var authors: [Int: Author] = [:]
        var books: [Int: Book] = [:]
        var reviews: [Review] = []
        var nextAuthor = 1, nextBook = 1, nextReview = 1
    }
    private let state = Mutex(State())

    func insertAuthor(name: String, at: Date) async throws -> Author {
        state.withLock { s in
            let a = Author(id: s.nextAuthor, name: name, createdAt: at)
            s.authors[a.id] = a; s.nextAuthor += 1
            return a
        }
    }

    func author(id: Int) async throws -> Author? { state.withLock { $0.authors[id] } }

    func insertBook(_ draft: BookDraft, at: Date) async throws -> Book {
        state.withLock { s in
            let id = s.nextBook
            let (notes, key) = internalFields(forBookID: id)
            let b = Book(
                id: id, title: draft.title, authorID: draft.authorID, year: draft.year, isbn: draft.isbn,
                createdAt: at, updatedAt: at, internalNotes: notes, storageKey: key)
            s.books[id] = b; s.nextBook += 1
            return b
        }
    }

    func book(id: Int) async throws -> Book? { state.withLock { $0.books[id] } }

    func replaceBook(id: Int, with draft: BookDraft, at: Date) async throws -> Book? {
        state.withLock { s in
            guard var b = s.books[id] else { return nil }
            b.title = draft.title; b.authorID = draft.authorID; b.year = draft.year; b.isbn = draft.isbn
            b.updatedAt = at
            s.books[id] = b
            return b
        }
    }

    func deleteBook(id: Int) async throws -> Bool {
        state.withLock { s in
            guard s.books.removeValue(forKey: id) != nil else { return false }
            s.reviews.removeAll { $0.bookID == id }
            return true
        }
    }

    func books(_ query: BookQuery) async throws -> Page<Book> {
        state.withLock { s in
            let matching = s.books.values.sorted { $0.id < $1.id }.filter { b in
                if let a = query.authorID, b.authorID != a { return false }
                if let q = query.titleContains, !q.isEmpty {
                    return query.caseSensitive ? b.title.contains(q) : b.title.lowercased().contains(q.lowercased())
                }
                return true
            }
            return Page(items: Array(matching.dropFirst(query.offset).prefix(query.limit)), total: matching.count)
        }
    }

    func insertReview(bookID: Int, rating: Int, text: String, at: Date) async throws -> Review {
        state.withLock { s in
            let r = Review(id: s.nextReview, bookID: bookID, rating: rating, text: text, createdAt: at)
            s.reviews.append(r); s.nextReview += 1
            return r
        }
    }

    func reviews(bookID: Int) async throws -> [Review] { state.withLock { s in s.reviews.filter { $0.bookID == bookID } } }
}

/// Counts repository calls, and which of them were made from inside a service use case
/// (`BookshelfService.useCase` is set): the layered-architecture lab's evidence that
/// handlers reach storage only through the service layer.
public final class RepositoryAudit: Sendable {
    public struct Call: Sendable, Equatable {
        public var method: String
        /// The service use case it ran under; nil when a handler called the repository itself.
        public var useCase: String?
    }
    private let calls = Mutex<[Call]>([])
    public init() {}

    func record(_ method: String) {
        let call = Call(method: method, useCase: BookshelfService.useCase)
        calls.withLock { $0.append(call) }
    }

    public var all: [Call] { calls.withLock { $0 } }
}

/// A repository that reports every call to an audit, then passes it on.
struct AuditedRepository: BookshelfRepository {
    let base: any BookshelfRepository
    let audit: RepositoryAudit

    func insertAuthor(name: String, at: Date) async throws -> Author {
        audit.record("insertAuthor"); return try await base.insertAuthor(name: name, at: at)
    }
    func author(id: Int) async throws -> Author? { audit.record("author"); return try await base.author(id: id) }
    func insertBook(_ draft: BookDraft, at: Date) async throws -> Book {
        audit.record("insertBook"); return try await base.insertBook(draft, at: at)
    }
    func book(id: Int) async throws -> Book? { audit.record("book"); return try await base.book(id: id) }
    func replaceBook(id: Int, with draft: BookDraft, at: Date) async throws -> Book? {
        audit.record("replaceBook"); return try await base.replaceBook(id: id, with: draft, at: at)
    }
    func deleteBook(id: Int) async throws -> Bool { audit.record("deleteBook"); return try await base.deleteBook(id: id) }
    func books(_ query: BookQuery) async throws -> Page<Book> { audit.record("books"); return try await base.books(query) }
    func insertReview(bookID: Int, rating: Int, text: String, at: Date) async throws -> Review {
        audit.record("insertReview"); return try await base.insertReview(bookID: bookID, rating: rating, text: text, at: at)
    }
    func reviews(bookID: Int) async throws -> [Review] { audit.record("reviews"); return try await base.reviews(bookID: bookID) }
}

/// A low-level storage failure, worded the way a database driver words one (SQL, a file
/// path): what a 500 must never show.
struct StorageFailure: Error, CustomStringConvertible {
    var description: String
}

/// Fails the insert of one chosen title with a driver-like error (BookshelfConfiguration.failingTitle).
struct FailingRepository: BookshelfRepository {
    let base: any BookshelfRepository
    let title: String

    func insertAuthor(name: String, at: Date) async throws -> Author { try await base.insertAuthor(name: name, at: at) }
    func author(id: Int) async throws -> Author? { try await base.author(id: id) }
    func insertBook(_ draft: BookDraft, at: Date) async throws -> Book {
        if draft.title == title {
            throw StorageFailure(
                description: "SQLITE_IOERR: disk I/O error in INSERT INTO books (title, author_id, year) VALUES (?, ?, ?) at /var/lib/bookshelf/books.sqlite")
        }
        return try await base.insertBook(draft, at: at)
    }
    func book(id: Int) async throws -> Book? { try await base.book(id: id) }
    func replaceBook(id: Int, with draft: BookDraft, at: Date) async throws -> Book? { try await base.replaceBook(id: id, with: draft, at: at) }
    func deleteBook(id: Int) async throws -> Bool { try await base.deleteBook(id: id) }
    func books(_ query: BookQuery) async throws -> Page<Book> { try await base.books(query) }
    func insertReview(bookID: Int, rating: Int, text: String, at: Date) async throws -> Review {
        try await base.insertReview(bookID: bookID, rating: rating, text: text, at: at)
    }
    func reviews(bookID: Int) async throws -> [Review] { try await base.reviews(bookID: bookID) }
}
