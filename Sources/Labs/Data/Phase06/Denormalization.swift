// Denormalization: trading write work (and a consistency risk) for cheaper reads.
//
// The normalised bookshelf stores each fact once: an author's name in `author`, each
// rating in `review`. An "author page" then needs a join and an aggregate on every read.
// The denormalised design adds `book_listing`, one ready-made row per book with the
// author's name, the review count and the rating sum copied in: a read is a single
// indexed lookup. The price: every logical update must now also touch the copies
// (renaming an author rewrites one listing row per book — write amplification), and any
// write path that forgets to do so leaves the copy stale. Putting the upkeep in the
// database (triggers) means no path can forget.
import Foundation
import GRDB
import LabCatalog
import LabKit

struct DenormalizationLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case earlyTriggers = "early-triggers"
        case skipRebuild = "skip-rebuild"
        case touchParent = "touch-parent"
        case noReviewTrigger = "no-review-trigger"
        case ratingNotSummed = "rating-not-summed"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .earlyTriggers: "the triggers are installed with the copy, so the plain rename cannot leave it stale"
            case .skipRebuild: "the repair installs the triggers but does not rebuild the stale copy first"
            case .touchParent: "adding a review also touches its book's row (an ORM's touch: true), in both schemas"
            case .noReviewTrigger: "the trigger for a new review is missing"
            case .ratingNotSummed: "the new-review trigger counts the review but does not add its rating to rating_sum"
            }
        }
    }

    static let authors = Knob.int("authors", 2...5000, default: 200, quick: 40, help: "Authors in the bookshelf.")
    static let booksPerAuthor = Knob.int("books-per-author", 1...50, default: 10, quick: 5, help: "Books per author.")
    static let reviewsPerBook = Knob.int("reviews-per-book", 0...100, default: 20, quick: 5, help: "Average reviews per book (each has 0 to twice this).")
    static let reads = Knob.int("reads", 1...100000, default: 3000, quick: 300, help: "Author pages read by the read workload.")
    static let updates = Knob.int(
        "updates", 1...10000, default: 400, quick: 60, help: "Logical updates (author renames and new reviews) applied to both schemas.")
    static let triggers = Knob.bool(
        "triggers", default: true, help: "Keep the copy in step with triggers; false shows the copy drifting (the sync checks then fail).")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the lab's own schema or write path so a check fails: "
            + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    /// The checks, named once so the breaker tests cannot drift from them.
    static let forgottenIsStale = "the forgotten copy is stale (one stale row per book of the author)"
    static let staleAnswersDiffer = "the stale copy answers differently from the normalised schema"
    static func identicalReads(_ reads: Int) -> String { "both schemas give identical answers to \(reads) author pages" }
    static let normalisedTouchesOne = "the normalised schema touches one row per logical update"
    static let denormalisedTouchesCopies = "the denormalised schema also touches every copy (1 + books per rename, 2 per review)"
    static let inSync = "after the updates the copy is in sync (no stale rows)"
    static let pagesIdentical = "after the updates every author page is identical both ways"

    static let info = LabInfo(
        id: "denormalization", title: "Normalised vs denormalised reads and writes", phase: 6,
        teaches:
            "A denormalised copy turns a join and an aggregate into one indexed lookup, but each logical update then touches every copy, and a write path that forgets the copy leaves it stale; triggers keep it in step.",
        parameters: [
            authors.parameter, booksPerAuthor.parameter, reviewsPerBook.parameter, reads.parameter, updates.parameter, triggers.parameter,
            fault.parameter,
        ],
        source: "Sources/Labs/Data/Phase06/Denormalization.swift")

    /// One line of an author page, as both designs answer it.
    struct ListingRow: Equatable, Sendable {
        var bookID: Int64, authorName: String, title: String, reviews: Int, ratingSum: Int
        init(_ row: Row) {
            bookID = row[0]; authorName = row[1]; title = row[2]; reviews = row[3]; ratingSum = row[4]
        }
    }

    static let normalisedQuery = """
        SELECT b.id, a.name, b.title, count(r.id), coalesce(sum(r.rating), 0)
        FROM book b JOIN author a ON a.id = b.author_id LEFT JOIN review r ON r.book_id = b.id
        WHERE b.author_id = ? GROUP BY b.id ORDER BY b.id
        """
    static let denormalisedQuery = """
        SELECT book_id, author_name, title, review_count, rating_sum
        FROM book_listing WHERE author_id = ? ORDER BY book_id
        """

    static func createNormalised(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES author(id), title TEXT NOT NULL);
                CREATE INDEX book_author ON book(author_id);
                CREATE TABLE review (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES book(id), rating INTEGER NOT NULL);
                CREATE INDEX review_book ON review(book_id);
                """)
    }

    static func seed(_ db: Database, authors: Int, booksPerAuthor: Int, reviewsPerBook: Int) throws {
        var rng = SQLiteLab.Random(seed: 2024)
        let insertAuthor = try db.cachedStatement(sql: "INSERT INTO author (id, name) VALUES (?, ?)")
        let insertBook = try db.cachedStatement(sql: "INSERT INTO book (id, author_id, title) VALUES (?, ?, ?)")
        let insertReview = try db.cachedStatement(sql: "INSERT INTO review (book_id, rating) VALUES (?, ?)")
        var bookID = 0
        for a in 1...authors {
            try insertAuthor.execute(arguments: [a, "Author \(a)"])
            for _ in 0..<booksPerAuthor {
                bookID += 1
                try insertBook.execute(arguments: [bookID, a, "Book \(bookID)"])
                for _ in 0..<Int.random(in: 0...(2 * reviewsPerBook), using: &rng) {
                    try insertReview.execute(arguments: [bookID, Int.random(in: 1...5, using: &rng)])
                }
            }
        }
    }

    /// The copy, built from the normalised tables.
    static func createListing(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE book_listing (
                    book_id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, author_name TEXT NOT NULL,
                    title TEXT NOT NULL, review_count INTEGER NOT NULL, rating_sum INTEGER NOT NULL);
                CREATE INDEX book_listing_author ON book_listing(author_id);
                """)
        try rebuildListing(db)
    }

    static func rebuildListing(_ db: Database) throws {
        try db.execute(
            sql: """
                DELETE FROM book_listing;
                INSERT INTO book_listing
                SELECT b.id, b.author_id, a.name, b.title, count(r.id), coalesce(sum(r.rating), 0)
                FROM book b JOIN author a ON a.id = b.author_id LEFT JOIN review r ON r.book_id = b.id
                GROUP BY b.id;
                """)
    }

    /// The database keeps the copy in step, whatever code path writes.
    static func installTriggers(_ db: Database, fault: Fault = .none) throws {
        let added = fault == .ratingNotSummed ? "review_count = review_count + 1" : "review_count = review_count + 1, rating_sum = rating_sum + NEW.rating"
        let reviewAdded = """
            CREATE TRIGGER listing_review_added AFTER INSERT ON review BEGIN
                UPDATE book_listing SET \(added) WHERE book_id = NEW.book_id;
            END;
            """
        try db.execute(
            sql: """
                CREATE TRIGGER listing_author_name AFTER UPDATE OF name ON author BEGIN
                    UPDATE book_listing SET author_name = NEW.name WHERE author_id = NEW.id;
                END;
                \(fault == .noReviewTrigger ? "" : reviewAdded)
                CREATE TRIGGER listing_review_removed AFTER DELETE ON review BEGIN
                    UPDATE book_listing SET review_count = review_count - 1, rating_sum = rating_sum - OLD.rating
                    WHERE book_id = OLD.book_id;
                END;
                """)
    }

    /// Listing rows whose copied author name no longer matches the author's.
    static func staleRows(_ db: Database) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT count(*) FROM book_listing l JOIN author a ON a.id = l.author_id
                WHERE l.author_name <> a.name
                   OR l.review_count <> (SELECT count(*) FROM review WHERE book_id = l.book_id)
                """) ?? 0
    }

    /// The read workload: `authorIDs` author pages, answered one way or the other.
    static func read(_ db: Database, sql: String, authorIDs: [Int]) throws -> [[ListingRow]] {
        let statement = try db.cachedStatement(sql: sql)
        return try authorIDs.map { id in try Row.fetchAll(statement, arguments: [id]).map(ListingRow.init) }
    }

    enum Update: Sendable {
        case renameAuthor(id: Int, name: String)
        case addReview(bookID: Int, rating: Int)
    }

    /// Applies one logical update and returns the rows it touched, triggers included
    /// (SQLite's `total_changes()` counts rows changed by trigger programs too).
    static func apply(_ update: Update, _ db: Database, fault: Fault = .none) throws -> Int {
        let before = db.totalChangesCount
        switch update {
        case let .renameAuthor(id, name):
            try db.execute(sql: "UPDATE author SET name = ? WHERE id = ?", arguments: [name, id])
        case let .addReview(bookID, rating):
            try db.execute(sql: "INSERT INTO review (book_id, rating) VALUES (?, ?)", arguments: [bookID, rating])
            if fault == .touchParent { try db.execute(sql: "UPDATE book SET title = title WHERE id = ?", arguments: [bookID]) }
        }
        return db.totalChangesCount - before
    }

    /// What a logical update should touch in each design, worked out from the data.
    static func expectedTouches(_ update: Update, _ db: Database, denormalised: Bool) throws -> Int {
        guard denormalised else { return 1 }
        switch update {
        case let .renameAuthor(id, _):
            return 1 + (try Int.fetchOne(db, sql: "SELECT count(*) FROM book WHERE author_id = ?", arguments: [id]) ?? 0)
        case .addReview:
            return 2
        }
    }

    func run(_ lab: LabContext) async throws {
        let authors = lab[Self.authors]
        let booksPerAuthor = lab[Self.booksPerAuthor]
        let reviewsPerBook = lab[Self.reviewsPerBook]
        let reads = lab[Self.reads]
        let updates = lab[Self.updates]
        let triggers = lab[Self.triggers]
        let fault = lab[Self.fault]

        let normalised = try SQLiteLab.open(in: lab.scratch, name: "normalised.sqlite")
        let denormalised = try SQLiteLab.open(in: lab.scratch, name: "denormalised.sqlite")
        lab.engine("SQLite \(try SQLiteLab.version(normalised))")
        for db in [normalised, denormalised] {
            try await db.write { db in
                try Self.createNormalised(db)
                try Self.seed(db, authors: authors, booksPerAuthor: booksPerAuthor, reviewsPerBook: reviewsPerBook)
            }
        }
        try await denormalised.write { db in
            try Self.createListing(db)
            if fault == .earlyTriggers { try Self.installTriggers(db) }
        }
        if fault != .none { lab.step("The lab is broken on purpose (break=\(fault.rawValue))", "broken on purpose: \(fault.effect)") }
        let reviews = try await normalised.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM review") } ?? 0
        lab.step(
            "Built both schemas with the same data",
            "\(authors) authors, \(authors * booksPerAuthor) books, \(reviews) reviews; the denormalised database adds book_listing.")

        var rng = SQLiteLab.Random(seed: 99)
        let pages = (0..<reads).map { _ in Int.random(in: 1...authors, using: &rng) }

        // 1. A write path that forgets the copy.
        let victim = Int.random(in: 1...authors, using: &rng)
        let rename = Update.renameAuthor(id: victim, name: "Renamed \(victim)")
        _ = try await normalised.write { try Self.apply(rename, $0, fault: fault) }
        _ = try await denormalised.write { try Self.apply(rename, $0, fault: fault) }
        let stale = try await denormalised.read(Self.staleRows)
        let staleAnswer = try await denormalised.read { try Self.read($0, sql: Self.denormalisedQuery, authorIDs: [victim]) }
        let truth = try await normalised.read { try Self.read($0, sql: Self.normalisedQuery, authorIDs: [victim]) }
        lab.step(
            "Renamed author \(victim) with a plain UPDATE author" + (fault == .earlyTriggers ? " (the triggers already installed)" : " (no triggers yet)"),
            "book_listing still says \"\(staleAnswer.first?.first?.authorName ?? "-")\" where author says \"\(truth.first?.first?.authorName ?? "-")\": \(stale) stale rows."
        )
        lab.expect(Self.forgottenIsStale, stale, equals: booksPerAuthor)
        lab.expect(
            Self.staleAnswersDiffer, staleAnswer != truth,
            expected: "different answers", observed: staleAnswer != truth ? "different" : "identical")

        // 2. Repair the copy and let the database maintain it.
        try await denormalised.write { db in
            if fault != .skipRebuild { try Self.rebuildListing(db) }
            if triggers && fault != .earlyTriggers { try Self.installTriggers(db, fault: fault) }
        }
        lab.step(
            (fault == .skipRebuild ? "Did NOT rebuild book_listing (break=skip-rebuild)" : "Rebuilt book_listing")
                + (triggers ? " and installed triggers" : ", WITHOUT triggers (triggers=false)"),
            "AFTER UPDATE OF name ON author and AFTER INSERT/DELETE ON review now update the copy in the same transaction.")

        // 3. The read workload, both ways.
        let (normalAnswers, normalSeconds) = try await Measure.time {
            try await normalised.read { try Self.read($0, sql: Self.normalisedQuery, authorIDs: pages) }
        }
        let (denormAnswers, denormSeconds) = try await Measure.time {
            try await denormalised.read { try Self.read($0, sql: Self.denormalisedQuery, authorIDs: pages) }
        }
        lab.figure("read time, normalised (join + group by)", normalSeconds * 1000, "ms")
        lab.figure("read time, denormalised (one indexed table)", denormSeconds * 1000, "ms")
        lab.figure("read speed-up", normalSeconds / max(denormSeconds, 1e-9), "×")
        lab.expect(
            Self.identicalReads(reads), denormAnswers == normalAnswers,
            expected: "identical", observed: denormAnswers == normalAnswers ? "identical" : "different")

        // 4. A batch of logical updates on both.
        let batch: [Update] = (0..<updates).map { i in
            i % 4 == 0
                ? .renameAuthor(id: Int.random(in: 1...authors, using: &rng), name: "Name \(i)")
                : .addReview(bookID: Int.random(in: 1...(authors * booksPerAuthor), using: &rng), rating: Int.random(in: 1...5, using: &rng))
        }
        // What each update should touch, worked out from the data beforehand.
        var expectedNormal = 0, expectedDenorm = 0
        for u in batch {
            expectedNormal += try await normalised.read { try Self.expectedTouches(u, $0, denormalised: false) }
            expectedDenorm += try await denormalised.read { try Self.expectedTouches(u, $0, denormalised: true) }
        }
        var touchedNormal = 0, touchedDenorm = 0
        let (_, normalWrite) = try await Measure.time {
            for u in batch { touchedNormal += try await normalised.write { try Self.apply(u, $0, fault: fault) } }
        }
        let (_, denormWrite) = try await Measure.time {
            for u in batch { touchedDenorm += try await denormalised.write { try Self.apply(u, $0, fault: fault) } }
        }
        lab.step(
            "Applied \(updates) logical updates to both (1 in 4 renames an author, the rest add a review)",
            "Rows touched, counted by SQLite's total_changes(): \(touchedNormal) normalised, \(touchedDenorm) denormalised.")
        lab.figure("rows touched per logical update, normalised", Double(touchedNormal) / Double(max(updates, 1)), "rows")
        lab.figure("rows touched per logical update, denormalised", Double(touchedDenorm) / Double(max(updates, 1)), "rows")
        lab.figure("write amplification", Double(touchedDenorm) / Double(max(touchedNormal, 1)), "×")
        lab.figure("write time, normalised", normalWrite * 1000, "ms")
        lab.figure("write time, denormalised", denormWrite * 1000, "ms")
        lab.expect(Self.normalisedTouchesOne, touchedNormal, equals: expectedNormal)
        lab.expect(Self.denormalisedTouchesCopies, touchedDenorm, equals: expectedDenorm)

        let staleAfter = try await denormalised.read(Self.staleRows)
        let normalAfter = try await normalised.read { try Self.read($0, sql: Self.normalisedQuery, authorIDs: Array(1...authors)) }
        let denormAfter = try await denormalised.read { try Self.read($0, sql: Self.denormalisedQuery, authorIDs: Array(1...authors)) }
        lab.expect(Self.inSync, staleAfter, equals: 0)
        lab.expect(
            Self.pagesIdentical, denormAfter == normalAfter,
            expected: "identical", observed: denormAfter == normalAfter ? "identical" : "different")
    }
}
