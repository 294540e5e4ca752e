import Foundation

// The bookshelf's entities: what the service stores and reasons about. They are not what
// goes over the wire (DTOs.swift): a book carries internal fields (where it sits on the
// shelf, its storage key) that no response may show.

struct Author: Sendable, Equatable {
    var id: Int
    var name: String
    var createdAt: Date
}

struct Book: Sendable, Equatable {
    var id: Int
    var title: String
    var authorID: Int
    var year: Int
    var isbn: String?
    var createdAt: Date
    var updatedAt: Date
    /// Internal: a librarian's note. Never in a response.
    var internalNotes: String
    /// Internal: where the book's record lives in the back office. Never in a response.
    var storageKey: String
}

struct Review: Sendable, Equatable {
    var id: Int
    var bookID: Int
    var rating: Int
    var text: String
    var createdAt: Date
}

/// A book as the service asks the repository to store it (no id, no timestamps yet).
struct BookDraft: Sendable, Equatable {
    var title: String
    var authorID: Int
    var year: Int
    var isbn: String?
}

/// A page request for the book list; the service has already range-checked it.
struct BookQuery: Sendable, Equatable {
    var limit: Int
    var offset: Int
    var authorID: Int?
    var titleContains: String?
    var caseSensitive = false
}

struct Page<Item: Sendable>: Sendable {
    var items: [Item]
    var total: Int
}
