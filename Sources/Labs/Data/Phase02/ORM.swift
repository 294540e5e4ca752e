// ORM: records, associations and the N+1 problem.
//
// An ORM maps rows to values (`Author`, `Book`, `Review` are plain structs; GRDB's
// `FetchableRecord`/`PersistableRecord` read and write them) and relations to
// associations (`Author.books = hasMany(Book.self)`). Following an association one record
// at a time is the classic trap: listing A authors with their books and reviews "lazily"
// runs 1 query for the authors, 1 per author for the books and 1 per book for the
// reviews — N+1 queries. Eager loading (`including(all:)`) fetches each level in one
// query (`WHERE authorId IN (…)`), so the number of statements does not grow with the
// data. SQLite's statement tracer counts what really ran, not what we think ran.
//
// The last part shows why a unit of work belongs in a transaction: when one statement of
// it fails, the whole transaction rolls back and no half-written rows remain.
//
// `break=` plants a classic mistake (an extra query per row, an inner join that drops
// authors without books, an error swallowed inside the transaction…); each is caught by the
// check named in its help.
import Foundation
import GRDB
import LabCatalog
import LabKit

// MARK: The bookshelf records

struct Author: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    var id: Int64
    var name: String
    static let books = hasMany(Book.self)
}

struct Book: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    var id: Int64
    var authorId: Int64
    var title: String
    var year: Int
    static let author = belongsTo(Author.self)
    static let reviews = hasMany(Review.self)
}

struct Review: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    var id: Int64
    var bookId: Int64
    var rating: Int
    var text: String
    static let book = belongsTo(Book.self)
}

/// One author with their books, each with its reviews: what the shelf page shows.
/// The property names are the association keys (`books`, `reviews`), which is how GRDB
/// decodes an eager-loaded request into nested values.
struct ShelfEntry: Decodable, Equatable, FetchableRecord {
    struct ShelfBook: Decodable, Equatable, FetchableRecord {
        var book: Book
        var reviews: [Review]
    }
    var author: Author
    var books: [ShelfBook]
}

/// An application rule broken inside a unit of work.
struct ShelfRuleViolation: Error {
    var rule: String
}

struct ORMLab: Lab {
    static let authors = Knob.int("authors", 1...1000, default: 60, quick: 20, help: "How many authors the bookshelf holds.")
    static let booksPerAuthor = Knob.int("books-per-author", 0...10, default: 4, quick: 3, help: "Average books per author (each has 0 to twice this).")
    static let reviewsPerBook = Knob.int("reviews-per-book", 0...10, default: 3, quick: 2, help: "Average reviews per book (each has 0 to twice this).")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: lazy-refetch-author (an extra query per author: the lazy count check), \
            eager-n-plus-one (reviews fetched per book: the eager statement checks), eager-inner-join (authors \
            without books vanish: the same-shelves check), both-skip-one-star (both loaders drop 1-star reviews: \
            the every-review check), no-check-constraint (the rating is not constrained: the raised-error check), \
            swallow-error (the failed INSERT is caught inside the transaction, which commits: the unchanged-counts \
            check), commit-on-app-error (the rule is checked after commit: the Swift-error check), \
            autocommit-in-transaction (the "autocommit" part runs in a transaction: the half-done-work check).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case lazyRefetchAuthor = "lazy-refetch-author"
        case eagerNPlusOne = "eager-n-plus-one"
        case eagerInnerJoin = "eager-inner-join"
        case bothSkipOneStar = "both-skip-one-star"
        case noCheckConstraint = "no-check-constraint"
        case swallowError = "swallow-error"
        case commitOnAppError = "commit-on-app-error"
        case autocommitInTransaction = "autocommit-in-transaction"
    }

    static let info = LabInfo(
        id: "orm", title: "ORM records, eager loading and transactions", phase: 2,
        teaches:
            "Following associations one record at a time issues N+1 queries while eager loading issues one per level, counted by SQLite's statement tracer; a failed unit of work rolls back whole inside a transaction.",
        parameters: [authors.parameter, booksPerAuthor.parameter, reviewsPerBook.parameter, breaker.parameter],
        source: "Sources/Labs/Data/Phase02/ORM.swift")

    static func createSchema(_ db: Database, ratingCheck: Bool = true) throws {
        try db.create(table: "author") { t in
            t.primaryKey("id", .integer)
            t.column("name", .text).notNull()
        }
        try db.create(table: "book") { t in
            t.primaryKey("id", .integer)
            t.belongsTo("author", onDelete: .cascade).notNull()
            t.column("title", .text).notNull()
            t.column("year", .integer).notNull()
        }
        try db.create(table: "review") { t in
            t.primaryKey("id", .integer)
            t.belongsTo("book", onDelete: .cascade).notNull()
            if ratingCheck {
                t.column("rating", .integer).notNull().check { $0 >= 1 && $0 <= 5 }
            } else {
                t.column("rating", .integer).notNull()
            }
            t.column("text", .text).notNull()
        }
    }

    /// A bookshelf of `authors` authors, with a (seeded) varying number of books and reviews.
    static func seed(_ db: Database, authors: Int, booksPerAuthor: Int, reviewsPerBook: Int, seed: UInt64) throws {
        var rng = SQLiteLab.Random(seed: seed)
        var bookID: Int64 = 0, reviewID: Int64 = 0
        for a in 1...authors {
            try Author(id: Int64(a), name: "Author \(a)").insert(db)
            // Between 0 and 2×booksPerAuthor books: some authors have none, which eager
            // loading must still represent (as an empty list).
            for _ in 0..<Int.random(in: 0...(2 * booksPerAuthor), using: &rng) {
                bookID += 1
                try Book(id: bookID, authorId: Int64(a), title: "Book \(bookID)", year: 1950 + Int(bookID % 70)).insert(db)
                for _ in 0..<Int.random(in: 0...(2 * reviewsPerBook), using: &rng) {
                    reviewID += 1
                    try Review(id: reviewID, bookId: bookID, rating: Int.random(in: 1...5, using: &rng), text: "Review \(reviewID)").insert(db)
                }
            }
        }
    }

    /// The naive way: follow each association one record at a time (N+1 queries).
    static func loadLazily(_ db: Database, limit: Int? = nil, breaker: Breaker = .none) throws -> [ShelfEntry] {
        var request = Author.order(Column("id"))
        if let limit { request = request.limit(limit) }
        let authors = try request.fetchAll(db)
        return try authors.map { author in
            if breaker == .lazyRefetchAuthor { _ = try Author.fetchOne(db, key: author.id) }
            let books = try author.request(for: Author.books).order(Column("id")).fetchAll(db)
            return ShelfEntry(
                author: author,
                books: try books.map { book in
                    var reviews = book.request(for: Book.reviews).order(Column("id"))
                    if breaker == .bothSkipOneStar { reviews = reviews.filter(Column("rating") > 1) }
                    return ShelfEntry.ShelfBook(book: book, reviews: try reviews.fetchAll(db))
                })
        }
    }

    /// Eager loading: one query per level, whatever the number of rows.
    static func loadEagerly(_ db: Database, limit: Int? = nil, breaker: Breaker = .none) throws -> [ShelfEntry] {
        var authors = Author.order(Column("id"))
        if breaker == .eagerInnerJoin { authors = authors.joining(required: Author.books).distinct() }
        if let limit { authors = authors.limit(limit) }
        if breaker == .eagerNPlusOne {
            // Books eagerly, then each book's reviews on its own: N+1 again, one level down.
            struct AuthorBooks: Decodable, FetchableRecord { var author: Author; var books: [Book] }
            return try authors.including(all: Author.books.order(Column("id"))).asRequest(of: AuthorBooks.self).fetchAll(db).map { a in
                ShelfEntry(
                    author: a.author,
                    books: try a.books.map { book in
                        ShelfEntry.ShelfBook(book: book, reviews: try book.request(for: Book.reviews).order(Column("id")).fetchAll(db))
                    })
            }
        }
        var reviews = Book.reviews.order(Column("id"))
        if breaker == .bothSkipOneStar { reviews = reviews.filter(Column("rating") > 1) }
        return
            try authors
            .including(all: Author.books.order(Column("id")).including(all: reviews))
            .asRequest(of: ShelfEntry.self)
            .fetchAll(db)
    }

    struct Counts: Equatable, Sendable, CustomStringConvertible {
        var authors: Int, books: Int, reviews: Int
        var description: String { "\(authors) authors, \(books) books, \(reviews) reviews" }
    }

    static func counts(_ db: Database) throws -> Counts {
        Counts(authors: try Author.fetchCount(db), books: try Book.fetchCount(db), reviews: try Review.fetchCount(db))
    }

    /// One unit of work: a new author with a book and a review. `rating` out of 1…5
    /// violates the review's CHECK constraint, so the last INSERT fails.
    static func addAuthorWithBook(_ db: Database, rating: Int) throws {
        let next = (try Int64.fetchOne(db, sql: "SELECT max(id) FROM author") ?? 0) + 1
        let nextBook = (try Int64.fetchOne(db, sql: "SELECT max(id) FROM book") ?? 0) + 1
        let nextReview = (try Int64.fetchOne(db, sql: "SELECT max(id) FROM review") ?? 0) + 1
        try Author(id: next, name: "New author").insert(db)
        try Book(id: nextBook, authorId: next, title: "First novel", year: 2026).insert(db)
        try Review(id: nextReview, bookId: nextBook, rating: rating, text: "Out of range").insert(db)
    }

    struct Outcome {
        var lazyQueries: [String], eagerQueries: [String], eagerHalfQueries: [String]
        var lazySeconds: Double, eagerSeconds: Double
        var lazy: [ShelfEntry], eager: [ShelfEntry]
        var counts: Counts
        var halfLimit: Int
    }

    static func compare(_ dbQueue: DatabaseQueue, log: StatementLog, authors: Int, breaker: Breaker = .none) throws -> Outcome {
        try dbQueue.read { db in
            _ = try loadEagerly(db, limit: 1)  // warm GRDB's schema cache so only data queries remain
            let half = max(1, authors / 2)
            let start1 = ContinuousClock.now
            let (lazy, lazyQ) = try log.capture { try loadLazily(db, breaker: breaker) }
            let lazyTime = Measure.seconds(ContinuousClock.now - start1)
            let start2 = ContinuousClock.now
            let (eager, eagerQ) = try log.capture { try loadEagerly(db, breaker: breaker) }
            let eagerTime = Measure.seconds(ContinuousClock.now - start2)
            let (_, halfQ) = try log.capture { try loadEagerly(db, limit: half, breaker: breaker) }
            return Outcome(
                lazyQueries: lazyQ, eagerQueries: eagerQ, eagerHalfQueries: halfQ,
                lazySeconds: lazyTime, eagerSeconds: eagerTime, lazy: lazy, eager: eager,
                counts: try counts(db), halfLimit: half)
        }
    }

    func run(_ lab: LabContext) async throws {
        let authors = lab[Self.authors]
        let booksPerAuthor = lab[Self.booksPerAuthor]
        let reviewsPerBook = lab[Self.reviewsPerBook]
        let breaker = lab[Self.breaker]
        let log = StatementLog()
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "bookshelf.sqlite", log: log)
        lab.engine("SQLite \(try SQLiteLab.version(dbQueue))")

        try await dbQueue.write { db in
            try Self.createSchema(db, ratingCheck: breaker != .noCheckConstraint)
            try Self.seed(db, authors: authors, booksPerAuthor: booksPerAuthor, reviewsPerBook: reviewsPerBook, seed: 42)
        }
        let o = try Self.compare(dbQueue, log: log, authors: authors, breaker: breaker)
        lab.step("Seeded the bookshelf", "\(o.counts); each author has 0…\(2 * booksPerAuthor) books, each book 0…\(2 * reviewsPerBook) reviews.")
        lab.step(
            "Loaded every shelf lazily",
            "One query for the authors, then author.request(for: Author.books) per author and book.request(for: Book.reviews) per book: \(o.lazyQueries.count) SELECTs traced."
        )
        lab.step(
            "Loaded every shelf eagerly", "Author.including(all: Author.books.including(all: Book.reviews)) ran:\n" + o.eagerQueries.joined(separator: "\n"))
        lab.figure("statements, lazy (N+1)", Double(o.lazyQueries.count), "statements")
        lab.figure("statements, eager", Double(o.eagerQueries.count), "statements")
        lab.figure("time, lazy", o.lazySeconds * 1000, "ms")
        lab.figure("time, eager", o.eagerSeconds * 1000, "ms")

        let expectedLazy = 1 + o.counts.authors + o.counts.books
        lab.expect("lazy loading issues 1 + authors + books statements", o.lazyQueries.count, equals: expectedLazy)
        // One query per level; GRDB skips a level's query when the level above is empty.
        let levels = 1 + (o.counts.authors > 0 ? 1 : 0) + (o.counts.books > 0 ? 1 : 0)
        lab.expect("eager loading issues one statement per level (\(levels))", o.eagerQueries.count, equals: levels)
        lab.expect(
            "eager loading does not grow with the data (\(o.halfLimit) authors vs \(o.counts.authors))",
            o.eagerHalfQueries.count <= 3 && o.eagerQueries.count <= 3,
            expected: "at most 3 statements both times", observed: "\(o.eagerHalfQueries.count) and \(o.eagerQueries.count)")
        lab.expect(
            "both ways load the same shelves", o.eager == o.lazy,
            expected: "identical (\(o.lazy.count) authors)", observed: o.eager == o.lazy ? "identical" : "different")
        let loadedBooks = o.eager.reduce(0) { $0 + $1.books.count }
        let loadedReviews = o.eager.reduce(0) { $0 + $1.books.reduce(0) { $0 + $1.reviews.count } }
        lab.expect(
            "eager result holds every book and review", "\(loadedBooks) books, \(loadedReviews) reviews",
            equals: "\(o.counts.books) books, \(o.counts.reviews) reviews")

        // A unit of work that fails at its last statement.
        let before = try await dbQueue.read(Self.counts)
        var failure = "none"
        do {
            if breaker == .swallowError {
                // The mistake: the error is caught inside the transaction, which then commits
                // what came before the failing statement.
                failure = try await dbQueue.write { db in
                    do { try Self.addAuthorWithBook(db, rating: 9); return "none" } catch let e as DatabaseError { return e.message ?? "\(e.resultCode)" }
                }
            } else {
                try await dbQueue.write { db in try Self.addAuthorWithBook(db, rating: 9) }
            }
        } catch let error as DatabaseError {
            failure = error.message ?? "\(error.resultCode)"
        }
        let afterTransaction = try await dbQueue.read(Self.counts)
        lab.step(
            "Added an author, a book and a review (rating 9) in one transaction",
            failure == "none"
                ? "No statement failed; the counts are now \(afterTransaction)."
                : "The INSERT of the review failed (\(failure)); afterwards the counts are \(afterTransaction) (before: \(before)).")
        lab.expect("the failing statement raised an error", failure != "none", expected: "a CHECK constraint error", observed: failure)
        lab.expect("a failed transaction leaves every count unchanged", afterTransaction, equals: before)

        // Any Swift error thrown out of the transaction's closure rolls it back too: here the
        // application's own rule, checked after the rows are written.
        // Each part is judged against the counts just before it, so one part's mistake does
        // not show up as another's.
        let beforeAppError = try await dbQueue.read(Self.counts)
        var appError = "none"
        let applyRule: @Sendable (Database) throws -> Void = { db in
            let titles = try String.fetchAll(db, sql: "SELECT title FROM book WHERE title = 'First novel'")
            if !titles.isEmpty { throw ShelfRuleViolation(rule: "a new author's first book needs an ISBN") }
        }
        do {
            if breaker == .commitOnAppError {
                // The mistake: the rule is checked after the transaction has committed.
                try await dbQueue.write { db in try Self.addAuthorWithBook(db, rating: 5) }
                try await dbQueue.read(applyRule)
            } else {
                try await dbQueue.write { db in
                    try Self.addAuthorWithBook(db, rating: 5)
                    try applyRule(db)
                }
            }
        } catch let error as ShelfRuleViolation {
            appError = error.rule
        }
        let afterAppError = try await dbQueue.read(Self.counts)
        lab.step(
            "Added an author, a book and a valid review, then threw a Swift error in the same transaction",
            "Thrown: \(appError); afterwards the counts are \(afterAppError) (before: \(beforeAppError)).")
        lab.expect("a Swift error thrown inside the transaction rolls it back too", afterAppError, equals: beforeAppError)

        // The same unit of work without a transaction: each statement commits on its own.
        let beforeAutocommit = try await dbQueue.read(Self.counts)
        do {
            if breaker == .autocommitInTransaction {
                try await dbQueue.write { db in try Self.addAuthorWithBook(db, rating: 9) }
            } else {
                try await dbQueue.writeWithoutTransaction { db in try Self.addAuthorWithBook(db, rating: 9) }
            }
        } catch is DatabaseError {}
        let afterAutocommit = try await dbQueue.read(Self.counts)
        lab.step("Did the same without a transaction (autocommit)", "Afterwards the counts are \(afterAutocommit) (before: \(beforeAutocommit)).")
        lab.expect(
            "without a transaction the half-done work stays",
            afterAutocommit, equals: Counts(authors: beforeAutocommit.authors + 1, books: beforeAutocommit.books + 1, reviews: beforeAutocommit.reviews))
    }
}
