// Errors and logs are the part of an API its operators read. Every error answer is an RFC
// 9457 problem document (`application/problem+json`: type, title, status, detail, and for
// validation `errors: [{field, message}]`), produced in one place, an error middleware
// that maps the service's domain errors to statuses, so no handler invents its own. A 500
// says that something failed and nothing more: the stack trace, the SQL, the file path
// stay in the log. Every request gets an id (`X-Request-Id`: the client's own when it sent
// a sane one, else a new one), echoed in the answer and written in the one structured log
// line each request leaves (method, path, status, latency, request id), so a user's
// complaint can be matched to the line that explains it.
import Foundation
import LabKit

struct LoggingErrorsLab: Lab {
    static let breaker = breakerKnob([
        .plainErrors, .errorsAs500, .noRequestID, .echoAnyRequestID,
        .stackTraces, .logSkipErrors, .logNoLatency,
    ])

    static let info = LabInfo(
        id: "logging-errors", title: "Logging and errors: problem+json, request ids, one line per request", phase: 1,
        teaches:
            "An error middleware maps domain errors to 400/404/405/422/500 problem documents, a 500 leaks no internals, X-Request-Id is echoed or generated, and every request leaves one structured log line with its status and latency.",
        parameters: [breaker.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/HTTP/Phase01/LoggingErrors.swift")

    static let problems = CheckSpec(
        "Errors are application/problem+json",
        "the 400, 404 (unknown book and unknown path), 405 and 422 answers have Content-Type application/problem+json and a body with string type, title and detail and a status equal to the HTTP status; the 422 adds errors[{field, message}]"
    )
    static let mapping = CheckSpec(
        "Each kind of error gets its status",
        "malformed JSON → 400, an unknown book → 404, an unknown path → 404, PATCH on a book → 405, an invalid field → 422")
    static let echoed = CheckSpec(
        "A request's own X-Request-Id is echoed",
        "a request sent with X-Request-Id: lab-<token>-n gets the same value back, on a success and on an error")
    static let generated = CheckSpec(
        "A missing or unusable X-Request-Id is replaced by a new one",
        "requests without the header, and one with a 200-character id, each get a non-empty X-Request-Id of at most 128 printable characters, all different, none the 200-character one"
    )
    static let hidden500 = CheckSpec(
        "A 500 leaks no internals",
        "when the storage fails (the reference fails on purpose for one title), the answer is 500 with no SQL, file path, stack frame or driver message in it",
        referenceOnly: true)
    static let oneLine = CheckSpec(
        "One log line per request, with its request id",
        "the log holds exactly one request line for every request the lab sent, in order, each with the X-Request-Id its answer carried", referenceOnly: true)
    static let lineFields = CheckSpec(
        "Each log line has method, path, status and latency",
        "every request line carries method, path, status (equal to the answer's) and latency_ms (a number)", referenceOnly: true)

    static let checks = [problems, mapping, echoed, generated, hidden500, oneLine, lineFields]

    static func starter() -> [StarterFile] {
        bookshelfStarter(
            info,
            task:
                "Give the bookshelf one error middleware that maps domain errors to problem+json answers, hides internals in 500s, echoes or generates X-Request-Id, and logs one structured line per request.",
            checks: checks)
    }

    static let failingTitle = "The Book That Breaks The Disk"

    func run(_ lab: LabContext) async throws {
        let fault = BookshelfFault(rawValue: lab[Self.breaker]) ?? .none
        let sink = RequestLogSink()
        let (service, api) = try await startBookshelf(lab, BookshelfConfiguration(fault: fault, log: sink, failingTitle: Self.failingTitle))
        let token = BookshelfContract.runToken()
        let logBefore = sink.all.count

        let author = await api.createAuthor("Margaret Hamilton \(token)")
        let book = await api.createBook("Apollo Guidance \(token)", author: author.id, year: 1969)
        lab.step("Created an author and a book", observed([author, book]))

        // Errors of every kind.
        let malformed = await api.call("POST", "/books", raw: #"{"title": "#, shape: .book)
        let unknownBook = await api.call("GET", "/books/\((book.id ?? 0) + 1_000_000)", shape: .book)
        let unknownPath = await api.call("GET", "/shelves/\(token)")
        let patch = await api.call("PATCH", "/books/\(book.id ?? 0)", json: ["year": 1970], shape: .book)
        let invalid = await api.call("POST", "/books", json: ["title": "", "author_id": .int(author.id ?? 0), "year": 1969], shape: .book)
        let errors = [malformed, unknownBook, unknownPath, patch, invalid]
        lab.step("Sent five requests that must fail", errors.map { "\($0.method) \($0.path) → \(statusText($0.status))" }.joined(separator: ", "))

        lab.check(
            Self.mapping.name, errors.map(\.status) == [400, 404, 404, 405, 422], expected: Self.mapping.asserts,
            observed: errors.map { "\($0.method) \($0.path) → \(statusText($0.status))" }.joined(separator: ", "))

        let badProblems = errors.filter { e in
            guard let r = e.reply, r.mediaType == "application/problem+json", let j = r.json else { return true }
            let fieldsOK =
                e.status != 422
                || (j["errors"]?.array.map { !$0.isEmpty && $0.allSatisfy { $0["field"]?.string != nil && $0["message"]?.string != nil } } ?? false)
            return j["type"]?.string == nil || j["title"]?.string == nil || j["detail"]?.string == nil || j["status"]?.int != r.status || !fieldsOK
        }
        lab.check(
            Self.problems.name, badProblems.isEmpty, expected: Self.problems.asserts,
            observed: badProblems.isEmpty ? "5 problem documents, e.g. \(String(invalid.reply?.text.prefix(200) ?? ""))" : observed(badProblems))

        // Request ids.
        let ownIDs = ["lab-\(token)-1", "lab-\(token)-2"]
        let ownOK = await api.call("GET", "/books/\(book.id ?? 0)", headers: [("X-Request-Id", ownIDs[0])], shape: .book)
        let ownError = await api.call("GET", "/books/\((book.id ?? 0) + 1_000_000)", headers: [("X-Request-Id", ownIDs[1])], shape: .book)
        let echoedIDs = [ownOK, ownError].map { $0.reply?.header("X-Request-Id") ?? "none" }
        lab.check(
            Self.echoed.name, echoedIDs == ownIDs, expected: Self.echoed.asserts,
            observed: "sent \(ownIDs.joined(separator: ", ")), got back \(echoedIDs.joined(separator: ", "))")

        let tooLong = String(repeating: "x", count: 200)
        let plain1 = await api.call("GET", "/health", shape: .health)
        let plain2 = await api.call("GET", "/books/\(book.id ?? 0)", shape: .book)
        let long = await api.call("GET", "/health", headers: [("X-Request-Id", tooLong)], shape: .health)
        let fresh = [plain1, plain2, long].map { $0.reply?.header("X-Request-Id") ?? "" }
        let freshOK =
            fresh.allSatisfy { !$0.isEmpty && $0.utf8.count <= 128 && $0.utf8.allSatisfy { (0x20...0x7E).contains($0) } }
            && Set(fresh).count == 3 && !fresh.contains(tooLong) && (fresh.map { $0 }.allSatisfy { !ownIDs.contains($0) })
        lab.check(
            Self.generated.name, freshOK, expected: Self.generated.asserts,
            observed: fresh.map { $0.isEmpty ? "none" : ($0.count > 40 ? String($0.prefix(20)) + "…(\($0.count) chars)" : $0) }.joined(separator: ", "))

        // A 500, on the reference only: the storage fails for one title.
        await lab.referenceOnlyCheck(Self.hidden500.name, isReference: service.isReference, expected: Self.hidden500.asserts) {
            let boom = await api.call(
                "POST", "/books",
                json: [
                    "title": .string(Self.failingTitle), "author_id": .int(author.id ?? 0), "year": 2001,
                ], shape: .book)
            let text = boom.reply?.text ?? ""
            let leaks = ["SQLITE", "INSERT", "SELECT", "/var/", ".swift", "Sources/", "0x", "disk I/O"].filter { text.contains($0) }
            return (
                boom.status == 500 && leaks.isEmpty,
                boom.status == 500 && leaks.isEmpty
                    ? "500 with \(text.prefix(200))"
                    : "\(boom.reply?.summary(limit: 300) ?? boom.summary)\(leaks.isEmpty ? "" : "; it contains " + leaks.joined(separator: ", "))"
            )
        }

        // The log, on the reference only.
        let sent = api.exchanges
        let lines = sink.all.dropFirst(logBefore).filter { $0.message == "request" }
        lab.step("Read the reference's log", lines.last.map { "\(lines.count) request lines, the last: \($0.line)" } ?? "no request lines")
        await lab.referenceOnlyCheck(Self.oneLine.name, isReference: service.isReference, expected: Self.oneLine.asserts) {
            let replied = sent.map { $0.reply?.header("X-Request-Id") ?? "none" }
            let logged = lines.map { $0.metadata["request_id"] ?? "none" }
            let firstDifference = zip(replied, logged).enumerated().first { $1.0 != $1.1 }.map {
                "request \($0.offset + 1): answer \($0.element.0), log \($0.element.1)"
            }
            return (
                replied == logged,
                "\(sent.count) requests, \(lines.count) request lines" + (firstDifference.map { "; \($0)" } ?? "")
            )
        }
        await lab.referenceOnlyCheck(Self.lineFields.name, isReference: service.isReference, expected: Self.lineFields.asserts) {
            let byID = Dictionary(sent.compactMap { e in e.reply.map { ($0.header("X-Request-Id") ?? "", $0.status) } }, uniquingKeysWith: { a, _ in a })
            let bad = lines.filter { l in
                let m = l.metadata
                return m["method"] == nil || m["path"] == nil || m["latency_ms"].flatMap(Double.init) == nil
                    || m["status"].flatMap(Int.init) == nil || (byID[m["request_id"] ?? ""].map { String($0) != m["status"] } ?? false)
            }
            return (
                !lines.isEmpty && bad.isEmpty,
                bad.first.map { "\(bad.count) of \(lines.count) lines lack a field or disagree with the answer, e.g. \($0.line)" }
                    ?? "\(lines.count) lines, e.g. \(lines.first?.line ?? "none")"
            )
        }
    }
}
