import Foundation

/// One invalid field of a request, as problem+json's `errors` lists it.
struct FieldError: Sendable, Equatable {
    var field: String
    var message: String
}

/// What can go wrong in a use case, in the service's words; the HTTP layer maps each to a
/// status and a problem document (Problem.swift), so no handler picks a status itself.
enum BookshelfError: Error, Equatable {
    case notFound(String)
    /// The request could not be read at all (not JSON, a bad query parameter): 400.
    case malformed(String)
    /// The request was read but breaks the contract's rules: 422 with every field's error.
    case invalid([FieldError])
}

/// The service layer: every use case of the bookshelf, with its rules (a book's year, its
/// ISBN, its author must exist), between the HTTP handlers and the repository. Handlers
/// never touch the repository; each use case runs under `useCase`, which the
/// layered-architecture lab's audit reads to prove it.
final class BookshelfService: Sendable {
    @TaskLocal static var useCase: String?

    let repository: any BookshelfRepository
    let fault: BookshelfFault
    let now: @Sendable () -> Date

    init(repository: any BookshelfRepository, fault: BookshelfFault = .none, now: @escaping @Sendable () -> Date = { Date() }) {
        self.repository = repository; self.fault = fault; self.now = now
    }

    private func run<T: Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        try await Self.$useCase.withValue(name) { try await body() }
    }

    // MARK: Authors

    func createAuthor(_ input: AuthorInput) async throws -> Author {
        try await run("createAuthor") {
            let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty else { throw BookshelfError.invalid([FieldError(field: "name", message: "must not be empty")]) }
            guard name.count <= 200 else { throw BookshelfError.invalid([FieldError(field: "name", message: "must be at most 200 characters")]) }
            return try await repository.insertAuthor(name: name, at: now())
        }
    }

    func author(id: Int) async throws -> Author {
        try await run("author") {
            guard let a = try await repository.author(id: id) else { throw BookshelfError.notFound("There is no author \(id).") }
            return a
        }
    }

    // MARK: Books

    /// The latest year a book may have: next year (UTC).
    func latestYear() -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.component(.year, from: now()) + 1
    }

    private func validated(_ input: BookInput) async throws -> BookDraft {
        var errors: [FieldError] = []
        let title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        if title.isEmpty { errors.append(FieldError(field: "title", message: "must not be empty")) }
        let earliest = fault == .yearOffByOne ? 1449 : 1450
        if !(earliest...latestYear()).contains(input.year) {
            errors.append(FieldError(field: "year", message: "must be from 1450 to \(latestYear())"))
        }
        if let isbn = input.isbn, fault != .skipISBNCheck, !ISBN13.isValid(isbn) {
            errors.append(FieldError(field: "isbn", message: "must be an ISBN-13 with a correct check digit"))
        }
        if try await repository.author(id: input.authorID) == nil {
            errors.append(FieldError(field: "author_id", message: "there is no author \(input.authorID)"))
        }
        guard errors.isEmpty else { throw BookshelfError.invalid(errors) }
        return BookDraft(title: title, authorID: input.authorID, year: input.year, isbn: input.isbn)
    }

    func createBook(_ input: BookInput) async throws -> Book {
        try await run("createBook") {
            try await repository.insertBook(try await validated(input), at: now())
        }
    }

    func book(id: Int) async throws -> Book {
        try await run("book") {
            guard let b = try await repository.book(id: id) else { throw BookshelfError.notFound("There is no book \(id).") }
            return b
        }
    }

    func replaceBook(id: Int, with input: BookInput) async throws -> Book {
        try await run("replaceBook") {
            guard let current = try await repository.book(id: id) else { throw BookshelfError.notFound("There is no book \(id).") }
            let draft = try await validated(input)
            if fault == .putIgnored { return current }
            guard let b = try await repository.replaceBook(id: id, with: draft, at: now()) else {
                throw BookshelfError.notFound("There is no book \(id).")
            }
            return b
        }
    }

    func deleteBook(id: Int) async throws {
        try await run("deleteBook") {
            if fault == .deleteKeeps {
                guard try await repository.book(id: id) != nil else { throw BookshelfError.notFound("There is no book \(id).") }
                return
            }
            guard try await repository.deleteBook(id: id) else { throw BookshelfError.notFound("There is no book \(id).") }
        }
    }

    /// Lists books; `limit` 1…100 (default 20) and `offset` ≥ 0, else 400.
    func books(_ input: BookListInput) async throws -> (page: Page<Book>, limit: Int, offset: Int) {
        try await run("books") {
            var limit = input.limit ?? 20, offset = input.offset ?? 0
            if fault == .clampLimit {
                limit = min(max(limit, 1), 100); offset = max(offset, 0)
            }
            guard (1...100).contains(limit) else { throw BookshelfError.malformed("limit must be from 1 to 100; it was \(limit).") }
            guard offset >= 0 else { throw BookshelfError.malformed("offset must be 0 or more; it was \(offset).") }
            var query = BookQuery(
                limit: limit, offset: offset, authorID: input.authorID, titleContains: input.q,
                caseSensitive: fault == .caseSensitiveSearch)
            if fault == .ignoreLimit { query.limit = Int.max / 2; query.offset = 0 }
            return (try await repository.books(query), limit, offset)
        }
    }

    // MARK: Reviews

    func reviews(bookID: Int) async throws -> [Review] {
        try await run("reviews") {
            guard try await repository.book(id: bookID) != nil else { throw BookshelfError.notFound("There is no book \(bookID).") }
            return try await repository.reviews(bookID: bookID)
        }
    }

    func addReview(bookID: Int, _ input: ReviewInput) async throws -> Review {
        try await run("addReview") {
            guard try await repository.book(id: bookID) != nil else { throw BookshelfError.notFound("There is no book \(bookID).") }
            if fault != .ratingUnchecked, !(1...5).contains(input.rating) {
                throw BookshelfError.invalid([FieldError(field: "rating", message: "must be from 1 to 5")])
            }
            return try await repository.insertReview(bookID: bookID, rating: input.rating, text: input.text, at: now())
        }
    }
}

/// ISBN-13: 13 digits (hyphens allowed between them) whose weighted sum (1, 3, 1, 3, …) is
/// a multiple of 10.
enum ISBN13 {
    static func isValid(_ text: String) -> Bool {
        let digits = text.filter { $0 != "-" }
        guard digits.count == 13, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        let values = digits.compactMap { $0.wholeNumberValue }
        let sum = values.enumerated().reduce(0) { $0 + $1.element * ($1.offset % 2 == 0 ? 1 : 3) }
        return sum % 10 == 0
    }
}
