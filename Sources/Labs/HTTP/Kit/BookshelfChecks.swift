import Foundation
import LabKit

/// The phase-1 checks as other families reuse them (cpp-rest-api drives its C++ bookshelf
/// with exactly rest-api's checks): black-box, over HTTP to a base URL.
public enum BookshelfChecks {
    /// rest-api's checks: the name each has in a report, and what it asserts.
    public static var restAPI: [(name: String, asserts: String)] { RESTAPILab.checks.map { ($0.name, $0.asserts) } }

    /// Runs rest-api's checks against the bookshelf at `baseURL`, creating `books` books for
    /// the list checks (more than 20).
    public static func runRESTAPI(_ lab: LabContext, baseURL: String, books: Int) async {
        await RESTAPILab.judge(lab, BookshelfClient(lab, baseURL: baseURL), books: books)
    }

    /// The bookshelf's OpenAPI document (the contract a starter folder carries).
    public static func openAPIDocument() -> String {
        (try? BookshelfOpenAPI.json(fault: .none)).map { String(decoding: $0, as: UTF8.self) + "\n" } ?? ""
    }
}
