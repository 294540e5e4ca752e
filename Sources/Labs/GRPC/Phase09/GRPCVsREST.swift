// The same question, "what is book N?", asked two ways on the same machine: REST (HTTP/1.1,
// JSON text, field names in every answer; the phase-1 bookshelf of HTTPLabs) and gRPC (HTTP/2,
// protobuf: field numbers and varints, a 5-byte frame header, one connection multiplexing every
// call). The answers must be the same; what differs is the bytes on the wire and the cost per
// call. The lab fills both services with the same books, checks that every answer and the
// "no such book" error agree, measures each payload, then times many calls of each and reads
// p50/p99 latency and throughput from an HdrHistogram. The timings are figures, not claims:
// on loopback both are dominated by the stacks, not the network.
import Foundation
import GRPCCore
import HTTPLabs
import Histogram
import LabKit
import SwiftProtobuf
import Synchronization

struct GRPCVsRESTLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "stale-title", "missing-internal", "proto-padding", "grpc-fail-late"], default: "none",
        help:
            "Breaks the gRPC side on purpose: stale-title (every other book's title differs from REST's), missing-internal (an unknown book is INTERNAL, not NOT_FOUND), proto-padding (every answer carries 1 KiB of an unknown field, bigger than the JSON), grpc-fail-late (every 10th call of the timed run fails)."
    )
    static let books = Knob.int("books", 1...1_000, default: 100, quick: 10, help: "Books put in both services and compared one by one.")
    static let calls = Knob.int(
        "calls", 10...100_000, default: 3_000, quick: 200, help: "Timed calls of each protocol (one at a time, round-robin over the books).")

    static let info = LabInfo(
        id: "grpc-vs-rest", title: "One operation over REST/JSON and over gRPC", phase: 9,
        teaches:
            "GET /books/{id} (JSON over HTTP/1.1) and GetBook (protobuf over HTTP/2) answer the same, with the same \"not found\"; protobuf's payload is smaller; p50/p99 latency and throughput of each, measured with HdrHistogram, show what each stack costs per call.",
        parameters: [breaker.parameter, books.parameter, calls.parameter],
        subjects: [.reference],
        source: "Sources/Labs/GRPC/Phase09/GRPCVsREST.swift")

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.breaker], n = lab[Self.books], calls = lab[Self.calls]
        let rest = try await BookshelfServer.start(BookshelfConfiguration())
        lab.onCleanup { await rest.stop() }
        let http = LoopbackHTTP.open(for: lab, baseURL: "http://127.0.0.1:\(rest.port)")
        // The correctness pass makes n + 1 GetBook calls; grpc-fail-late spares those.
        let faults = GRPCFaults(
            missingInternal: fault == "missing-internal", staleTitle: fault == "stale-title",
            padding: fault == "proto-padding", failAfter: fault == "grpc-fail-late" ? n + 1 : nil)
        let grpc = try await GRPCTarget.resolve(lab, faults: faults)
        lab.step(
            "Started the REST bookshelf (Hummingbird, HTTPLabs) on 127.0.0.1:\(rest.port) and the gRPC one on 127.0.0.1:\(grpc.port)",
            fault == "none" ? nil : "the gRPC side broken on purpose: \(fault)")

        try await withBookshelfClient(host: grpc.host, port: grpc.port) { client in
            // The same books in both.
            let restAuthor = try await http.send("POST", "/authors", json: ["name": "Octavia E. Butler"])
            guard restAuthor.status == 201, let restAuthorID = restAuthor.json?["id"]?.int else {
                throw LabError("the REST bookshelf did not create an author: \(restAuthor.summary())")
            }
            let grpcAuthor = try await client.addAuthor(.with { $0.name = "Octavia E. Butler" }, options: callOptions())
            var pairs: [(rest: Int, grpc: Int64, title: String, year: Int)] = []
            for i in 1...n {
                let title = "Parable \(i): \(["Sower", "Talents", "Trickster"][i % 3])", year = 1980 + i % 40
                let made = try await http.send("POST", "/books", json: ["title": .string(title), "author_id": .int(restAuthorID), "year": .int(year)])
                guard made.status == 201, let id = made.json?["id"]?.int else { throw LabError("the REST bookshelf did not create a book: \(made.summary())") }
                let book = try await client.addBook(
                    .with {
                        $0.title = title; $0.authorID = grpcAuthor.id; $0.year = Int32(year)
                    }, options: callOptions())
                pairs.append((id, book.id, title, year))
            }
            lab.step("Added the same \(n) books to both", "POST /books (JSON) and AddBook (protobuf)")

            // Every answer, both ways.
            var mismatches: [String] = []
            var jsonBytes = 0, protoBytes = 0
            for p in pairs {
                let reply = try await http.get("/books/\(p.rest)")
                let restAnswer = reply.json.map { "\($0["title"]?.string ?? "?") (\($0["year"]?.int ?? 0))" } ?? "not JSON: \(reply.summary())"
                let book = try await client.getBook(.with { $0.id = p.grpc }, options: callOptions())
                let grpcAnswer = "\(book.title) (\(book.year))"
                if reply.status != 200 || restAnswer != grpcAnswer || book.authorID != grpcAuthor.id {
                    mismatches.append("book \(p.rest): REST \(reply.status) \(restAnswer), gRPC \(grpcAnswer)")
                }
                jsonBytes += reply.body.count
                let bytes: [UInt8] = try book.serializedBytes()
                protoBytes += bytes.count
            }
            lab.check(
                "REST and gRPC give the same answer for every book", mismatches.isEmpty,
                expected: "\(n) of \(n) books: the same title and year from GET /books/{id} and GetBook",
                observed: mismatches.isEmpty ? "\(n) of \(n) the same" : "\(mismatches.count) differ, e.g. \(mismatches[0])")

            let missing = try await http.get("/books/999999")
            var grpcMissing = "OK (an answer)"
            var grpcCode = 0
            do { _ = try await client.getBook(.with { $0.id = 999_999 }, options: callOptions()) } catch {
                grpcMissing = rpcDescription(error); grpcCode = statusCode(error)
            }
            lab.check(
                "a missing book is 404 over REST and NOT_FOUND over gRPC", missing.status == 404 && grpcCode == RPCError.Code.notFound.rawValue,
                expected: "REST 404, gRPC NOT_FOUND (5)", observed: "REST \(missing.status), gRPC \(grpcMissing)")

            let jsonPer = Double(jsonBytes) / Double(n), protoPer = Double(protoBytes) / Double(n)
            lab.figure("JSON payload per book", jsonPer, "bytes")
            lab.figure("protobuf payload per book", protoPer, "bytes")
            lab.check(
                "protobuf's payload is smaller than JSON's", protoBytes < jsonBytes,
                expected: "fewer bytes per answer in protobuf (field numbers and varints) than in JSON (names and text)",
                observed: String(format: "protobuf %.1f bytes, JSON %.1f bytes per book (%.1f×)", protoPer, jsonPer, jsonPer / max(protoPer, 1)))

            // Timed: one call at a time, each protocol in turn.
            let restRun = try await Self.time(calls) { i in
                let reply = try await http.get("/books/\(pairs[i % n].rest)")
                if reply.status != 200 { throw LabError("REST \(reply.status)") }
            }
            let grpcRun = try await Self.time(calls) { i in
                _ = try await client.getBook(.with { $0.id = pairs[i % n].grpc }, options: callOptions())
            }
            #if DEBUG
            lab.step(
                "These timings come from a debug build",
                "every package (Hummingbird, swift-nio-http2, grpc-swift) runs unoptimised, so the two stacks' costs are not representative; compare with a release build (`swift build -c release`)"
            )
            #endif
            for (name, run) in [("REST/JSON", restRun), ("gRPC/protobuf", grpcRun)] {
                let p50 = Double(run.histogram.valueAtPercentile(50)) / 1_000, p99 = Double(run.histogram.valueAtPercentile(99)) / 1_000
                lab.figure("\(name) p50", p50, "µs")
                lab.figure("\(name) p99", p99, "µs")
                lab.figure("\(name) throughput", Double(run.ok) / max(run.seconds, 1e-9), "calls/s")
                lab.step(
                    "Timed \(calls) \(name) calls, one at a time",
                    String(format: "p50 %.0f µs, p99 %.0f µs, %.0f calls/s; %d failed", p50, p99, Double(run.ok) / max(run.seconds, 1e-9), run.failed.count))
            }
            lab.check(
                "every timed call answered, both protocols", restRun.failed.isEmpty && grpcRun.failed.isEmpty,
                expected: "\(calls) of \(calls) REST calls and \(calls) of \(calls) gRPC calls answered",
                observed: "REST \(restRun.ok) of \(calls), gRPC \(grpcRun.ok) of \(calls)"
                    + ((restRun.failed + grpcRun.failed).first.map { "; e.g. \($0)" } ?? ""))
        }
    }

    struct Run {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var ok = 0
        var failed: [String] = []
        var seconds = 0.0
    }

    /// `calls` calls one after the other; each call's latency (ns) in the histogram.
    static func time(_ calls: Int, _ call: (Int) async throws -> Void) async throws -> Run {
        var run = Run()
        let started = ContinuousClock.now
        for i in 0..<calls {
            let t = ContinuousClock.now
            do {
                try await call(i)
                let d = ContinuousClock.now - t
                _ = run.histogram.record(UInt64(max(0, d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)))
                run.ok += 1
            } catch {
                run.failed.append(rpcDescription(error))
            }
        }
        run.seconds = Measure.seconds(ContinuousClock.now - started)
        return run
    }
}
