import Foundation
import GRDB

/// The bookshelf in an SQLite file through GRDB: one type owns the database and migrates
/// it on open; one method per use, one transaction each (GRDB's recommended practices).
final class SQLiteBookshelfRepository: BookshelfRepository {
    private let db: DatabaseQueue
    /// A deliberate drift from the in-memory repository (the sqlite-drift breaker).
    private let caseSensitiveSearch: Bool
    /// The search-concatenated breaker (input-validation): q pasted into the SQL text.
    private let concatenatedSearch: Bool

    /// - Parameter path: the database file; nil keeps it in memory (the sqlite-in-memory breaker).
    init(path: String?, caseSensitiveSearch: Bool = false, concatenatedSearch: Bool = false) throws {
        self.concatenatedSearch = concatenatedSearch
        if let path { db = try DatabaseQueue(path: path) } else { db = try DatabaseQueue() }
        self.caseSensitiveSearch = caseSensitiveSearch
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE authors (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created_at DOUBLE NOT NULL);
                    CREATE TABLE books (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
                        author_id INTEGER NOT NULL REFERENCES authors(id), year INTEGER NOT NULL, isbn TEXT,
                        created_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL,
                        internal_notes TEXT NOT NULL, storage_key TEXT NOT NULL);
                    CREATE TABLE reviews (id INTEGER PRIMARY KEY AUTOINCREMENT,
                        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
                        rating INTEGER NOT NULL, text TEXT NOT NULL, created_at DOUBLE NOT NULL);
                    """)
        }
        try migrator.migrate(db)
    }

    private static func author(_ row: Row) -> Author {
        Author(id: row["id"], name: row["name"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    private static func book(_ row: Row) -> Book {
        Book(
            id: row["id"], title: row["title"], authorID: row["author_id"], year: row["year"], isbn: row["isbn"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
            internalNotes: row["internal_notes"], storageKey: row["storage_key"])
    }

    private static func review(_ row: Row) -> Review {
        Review(
            id: row["id"], bookID: row["book_id"], rating: row["rating"], text: row["text"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    func insertAuthor(name: String, at: Date) async throws -> Author {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO authors (name, created_at) VALUES (?, ?)", arguments: [name, at.timeIntervalSince1970])
            return Author(id: Int(db.lastInsertedRowID), name: name, createdAt: at)
        }
    }

    func author(id: Int) async throws -> Author? {
        try await db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM authors WHERE id = ?", arguments: [id]).map(Self.author) }
    }

    func insertBook(_ d: BookDraft, at: Date) async throws -> Book {
        try await db.write { db in
            // The id is known only after the insert; the internal fields depend on it.
            try db.execute(
                sql: """
                    INSERT INTO books (title, author_id, year, isbn, created_at, updated_at, internal_notes, storage_key)
                    VALUES (?, ?, ?, ?, ?, ?, '', '')
                    """, arguments: [d.title, d.authorID, d.year, d.isbn, at.timeIntervalSince1970, at.timeIntervalSince1970])
            let id = Int(db.lastInsertedRowID)
            let (notes, key) = internalFields(forBookID: id)
            try db.execute(sql: "UPDATE books SET internal_notes = ?, storage_key = ? WHERE id = ?", arguments: [notes, key, id])
            return Book(
                id: id, title: d.title, authorID: d.authorID, year: d.year, isbn: d.isbn, createdAt: at, updatedAt: at,
                internalNotes: notes, storageKey: key)
        }
    }

    func book(id: Int) async throws -> Book? {
        try await db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM books WHERE id = ?", arguments: [id]).map(Self.book) }
    }

    func replaceBook(id: Int, with d: BookDraft, at: Date) async throws -> Book? {
        try await db.write { db in
            try db.execute(
                sql: "UPDATE books SET title = ?, author_id = ?, year = ?, isbn = ?, updated_at = ? WHERE id = ?",
                arguments: [d.title, d.authorID, d.year, d.isbn, at.timeIntervalSince1970, id])
            guard db.changesCount > 0 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM books WHERE id = ?", arguments: [id]).map(Self.book)
        }
    }

    func deleteBook(id: Int) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM reviews WHERE book_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM books WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    func books(_ q: BookQuery) async throws -> Page<Book> {
        // lower() folds ASCII only; the in-memory repository folds all of Unicode. The labs'
        // titles are ASCII, where the two agree.
        var search = (q.caseSensitive || caseSensitiveSearch) ? "instr(title, :q) > 0" : "instr(lower(title), lower(:q)) > 0"
        if concatenatedSearch, let text = q.titleContains { search = "instr(lower(title), lower('\(text)')) > 0" }
        let condition = "(:author IS NULL OR author_id = :author) AND (:q IS NULL OR :q = '' OR \(search))"
        return try await db.read { db in
            let args: StatementArguments = ["author": q.authorID, "q": q.titleContains, "limit": q.limit, "offset": q.offset]
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM books WHERE \(condition)", arguments: args) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM books WHERE \(condition) ORDER BY id LIMIT :limit OFFSET :offset",
                arguments: args)
            return Page(items: rows.map(Self.book), total: total)
        }
    }

    func insertReview(bookID: Int, rating: Int, text: String, at: Date) async throws -> Review {
        try await db.write { db in
            try db.execute(
                sql: "INSERT INTO reviews (book_id, rating, text, created_at) VALUES (?, ?, ?, ?)",
                arguments: [bookID, rating, text, at.timeIntervalSince1970])
            return Review(id: Int(db.lastInsertedRowID), bookID: bookID, rating: rating, text: text, createdAt: at)
        }
    }

    func reviews(bookID: Int) async throws -> [Review] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM reviews WHERE book_id = ? ORDER BY id", arguments: [bookID]).map(Self.review)
        }
    }
}
