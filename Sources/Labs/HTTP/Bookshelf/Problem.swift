import Foundation
import HTTPTypes
import Hummingbird
import LabKit
import Logging

// Errors as RFC 9457 problem documents, the request id, and the request log: the three
// things every answer gets, whatever handler (or none) produced it. One middleware, the
// outermost, so that 404s for unknown paths, 405s and crashes of a handler all pass
// through the same mapping and the same log line.

/// A known path asked with a method it does not have.
struct MethodNotAllowed: Error {
    var allow: [String]
}

struct BookshelfMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let fault: BookshelfFault
    let log: Logger

    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let allowHeader = HTTPField.Name("Allow")!

    /// The request's own id when it is 1…128 printable ASCII characters, else a new one.
    func requestID(for request: Request) -> String {
        let sent = request.headers[Self.requestIDHeader]
        if let sent, !sent.isEmpty, fault == .echoAnyRequestID { return sent }
        if let sent, fault != .noRequestID, (1...128).contains(sent.utf8.count),
            sent.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        {
            return sent
        }
        return UUID().uuidString.lowercased()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let id = requestID(for: request)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = problem(for: error)
        }
        response.headers[Self.requestIDHeader] = id
        let latency = ContinuousClock.now - started
        let status = Int(response.status.code)
        if !(fault == .logSkipErrors && status >= 400) {
            var metadata: Logger.Metadata = [
                "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                "status": .stringConvertible(status), "request_id": .string(id),
            ]
            if fault != .logNoLatency {
                let ms = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
                metadata["latency_ms"] = .string(String(format: "%.3f", ms))
            }
            log.info("request", metadata: metadata)
        }
        return response
    }

    // MARK: Problems

    func problem(for error: any Error) -> Response {
        var status: HTTPResponse.Status
        var type: String, title: String, detail: String
        var fieldErrors: [FieldError]?
        var headers = HTTPFields()
        switch error {
        case is BookshelfError where fault == .errorsAs500:
            (status, type, title) = (.internalServerError, "/problems/internal", "Internal server error")
            detail = "The server could not answer this request."
        case let BookshelfError.notFound(message):
            (status, type, title, detail) = (.notFound, "/problems/not-found", "Not found", message)
        case let BookshelfError.malformed(message):
            (status, type, title, detail) = (.badRequest, "/problems/malformed-request", "Malformed request", message)
        case let BookshelfError.invalid(errors):
            (status, type, title) = (.unprocessableContent, "/problems/invalid-fields", "Invalid fields")
            detail = "\(errors.count) field\(errors.count == 1 ? " is" : "s are") invalid: \(errors.map(\.field).joined(separator: ", "))."
            fieldErrors = errors
        case let e as MethodNotAllowed:
            (status, type, title) = (.methodNotAllowed, "/problems/method-not-allowed", "Method not allowed")
            detail = "This path answers \(e.allow.joined(separator: ", ")) only."
            if fault != .noAllowHeader { headers[Self.allowHeader] = e.allow.joined(separator: ", ") }
        case let e as HTTPError where e.status == .notFound:
            (status, type, title, detail) = (.notFound, "/problems/not-found", "Not found", "There is nothing at this path.")
        case let e as HTTPError where (400..<500).contains(e.status.code):
            (status, type, title) = (e.status, "/problems/bad-request", e.status.reasonPhrase)
            detail = e.body ?? e.status.reasonPhrase
        default:
            (status, type, title) = (.internalServerError, "/problems/internal", "Internal server error")
            // Never the error itself: it can hold SQL, file paths and values (RFC 9457 §5).
            detail = "The server could not answer this request."
            if fault == .stackTraces {
                detail = "\(error)\n" + Thread.callStackSymbols.prefix(12).joined(separator: "\n")
            }
        }
        let code = Int(status.code)
        if fault == .plainErrors {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "\(code) \(title): \(detail)\n")))
        }
        var body: [String: JSONValue] = ["type": .string(type), "title": .string(title), "status": .int(code), "detail": .string(detail)]
        if fault == .problemNoTitle { body["title"] = nil }
        if let fieldErrors {
            body["errors"] = .array(fieldErrors.map { ["field": .string($0.field), "message": .string($0.message)] })
        }
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).bytes)))
    }
}
