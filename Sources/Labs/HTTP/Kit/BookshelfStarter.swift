import Foundation
import LabKit

/// One check of a phase-1 lab: its name in the report, and exactly what it asserts (the
/// starter README lists these, so the learner knows how they will be judged).
struct CheckSpec: Sendable {
    var name: String
    var asserts: String
    /// Judges the reference's inside; skipped (not passed) against the learner's server.
    var referenceOnly = false
    init(_ name: String, _ asserts: String, referenceOnly: Bool = false) {
        self.name = name; self.asserts = asserts; self.referenceOnly = referenceOnly
    }
}

/// The starter folder of a phase-1 lab: README (the task, how to run the checks, what each
/// asserts) and the bookshelf's OpenAPI document.
func bookshelfStarter(_ info: LabInfo, task: String, checks: [CheckSpec]) -> [StarterFile] {
    let list = checks.map { c in
        "- **\(c.name)**\(c.referenceOnly ? " (reference only: skipped against your server)" : ""): \(c.asserts)"
    }.joined(separator: "\n")
    let readme = """
        # \(info.title)

        \(task)

        Build the service in any language (the plan suggests Kotlin with Ktor). It must follow
        the bookshelf contract, phase 1: `openapi.json` in this folder describes every route,
        request and answer. Listen on `127.0.0.1:$PORT` (`PORT` comes from the environment).

        ## Run the checks
        Let the lab start your server (it sets `PORT`, waits for `GET /health`, stops it with SIGTERM):

            curriculum lab run \(info.id) --against 'java -jar build/libs/bookshelf.jar'

        or point it at a server you already run:

            curriculum lab run \(info.id) --url http://127.0.0.1:8080

        Without either, the lab judges its own reference implementation (`\(info.source)` and
        `Sources/Labs/HTTP/Bookshelf/`), which shows one way to pass.

        ## What the checks assert
        \(list)

        Every check speaks HTTP only. Requests carry `Content-Type: application/json; charset=utf-8`;
        the checks create their own authors and books (titles carry a random token) and page
        through `GET /books` rather than assume an empty server. A request that gets no answer
        within 5 s, or a reply that is not HTTP, fails the check that sent it.

        """
    let document = (try? BookshelfOpenAPI.json(fault: .none)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return [StarterFile("README.md", readme), StarterFile("openapi.json", document + "\n")]
}
