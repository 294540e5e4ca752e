// The same REST service as phase 1, in C++: cpp-httplib parses HTTP and runs a handler per
// request on its thread pool; everything else, routing by method and path, status codes
// (201 with Location, 204, 404 problem+json, 405 with Allow), JSON in and out, paging, is the
// program's own work, with the data behind one mutex. The lab compiles it (Debian's
// libcpp-httplib-dev, flags from pkg-config), starts it on a free port and drives it with
// exactly the rest-api lab's black-box checks. The C++ is Phase05/cpp/cpp-rest-api/
// bookshelf.cpp; your own server runs with --source (compiled here), --against or --url.
import Foundation
import HTTPLabs
import LabKit

struct CppRESTAPILab: Lab {
    static let breaker = Knob.choice(
        "break",
        [
            "none", "skip-location", "drop-isbn", "put-ignored", "ignore-offset", "case-sensitive-q", "clamp-limit", "plain-404",
            "no-allow", "delete-keeps",
        ], default: "none",
        help:
            "Breaks the reference C++ on purpose: skip-location (201 without Location), drop-isbn (GET /books/{id} loses the ISBN), put-ignored (PUT answers 200 and replaces nothing), ignore-offset (every page starts at 0), case-sensitive-q (q must match the title's case), clamp-limit (limit=0 or 101 is clamped, not refused), plain-404 (404 as text/plain), no-allow (405 without Allow), delete-keeps (DELETE answers 204 but keeps the book)."
    )
    static let books = Knob.int(
        "books", 21...300, default: 45, quick: 23,
        help: "Books created for the list checks (more than 20, so the default page of 20 is full).")

    static let info = LabInfo(
        id: "cpp-rest-api", title: "A REST API in C++ with cpp-httplib", phase: 5,
        teaches:
            "The bookshelf's phase-1 resources in C++17 on cpp-httplib, compiled by the lab and judged over real HTTP by the very checks of rest-api: 201 with Location, 200, 204 then 404, 405 with Allow, problem+json 404s, limit/offset pages with search.",
        parameters: [breaker.parameter, books.parameter], needs: [Native.compilerNeed, Native.httplibNeed],
        subjects: [.source, .against, .url],
        source: "Sources/Labs/Native/Phase05/CppRESTAPI.swift")

    static func starter() -> [StarterFile] {
        let stub = """
            // main.cpp: your bookshelf in C++ with cpp-httplib (openapi.json is the contract).
            #include <httplib.h>

            #include <cstdlib>

            int main() {
                const char* port = std::getenv("PORT");
                httplib::Server server;
                server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
                    res.set_content("{\\"status\\":\\"ok\\"}", "application/json");
                });
                // TODO: /authors, /books, /books/{id}, /books/{id}/reviews, 404 and 405 as the contract says.
                server.listen("127.0.0.1", port ? std::atoi(port) : 8080);
            }

            """
        return cppStarter(
            info,
            task:
                "Build the bookshelf API's phase-1 resources in C++ with cpp-httplib: authors, books with pagination and search, and reviews, with the status codes, headers and bodies of the contract (`openapi.json`). Listen on 127.0.0.1:$PORT and stop on SIGTERM. You may also run it yourself and use `--url`, or let the lab start it with `--against './bookshelf'`.",
            files: [StarterFile("main.cpp", stub), StarterFile("openapi.json", BookshelfChecks.openAPIDocument())],
            checks: BookshelfChecks.restAPI.map { ($0.name, $0.asserts) },
            build: "g++ \(CppBuild.baseFlags.joined(separator: " ")) *.cpp $(pkg-config --cflags --libs cpp-httplib) -pthread")
    }

    func run(_ lab: LabContext) async throws {
        let baseURL: String
        switch lab.subject.kind {
        case .url, .against:
            let service = try await lab.startService { _ in throw LabError("the reference is compiled, not started here") }
            baseURL = service.baseURL
        default:
            let (sources, headers, flags) = try Native.files(lab, folder: "cpp-rest-api", harness: [], reference: ["bookshelf.cpp"])
            let built = try await lab.compileAll([
                CppBuild(
                    name: "bookshelf", sources: sources, headers: headers, flags: flags + Native.breakFlags(lab, lab[Self.breaker]),
                    pkgConfig: ["cpp-httplib"])
            ])
            guard let program = built[0] else { return }
            let server = try await NativeServer.start(lab, program)
            lab.step(
                "Started the compiled bookshelf on \(server.baseURL)",
                lab[Self.breaker] != "none" && lab.subject.kind == .reference ? "broken on purpose: \(lab[Self.breaker])" : nil)
            baseURL = server.baseURL
        }
        await BookshelfChecks.runRESTAPI(lab, baseURL: baseURL, books: lab[Self.books])
    }
}
