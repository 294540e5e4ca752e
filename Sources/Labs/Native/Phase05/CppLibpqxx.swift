// libpqxx is PostgreSQL's C++ client: a pqxx::connection, statements prepared once on it
// (the server parses and plans them once, and values travel apart from the SQL text, so a
// title full of quotes is data, never SQL), and pqxx::work, a transaction that commits only
// when told to: an exception before commit() leaves the database as it was. The lab starts a
// throwaway PostgreSQL, creates the tables, runs the C++ against it, and then reads the rows
// back on its own connection. The C++ is Phase05/cpp/cpp-libpqxx/ (store.hpp, store.cpp,
// harness.cpp); your own store.cpp runs through the same harness with --source.
import Foundation
import LabKit
import PostgresNIO

struct CppLibpqxxLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "find-latest", "concat", "exec-params", "autocommit", "no-commit"], default: "none",
        help:
            "Breaks the reference store on purpose: find-latest (find_book ignores its id), concat (add_book pastes the title into the SQL), exec-params (nothing prepared: parameters sent with the text each time), autocommit (add_books commits each book on its own), no-commit (add_books never commits)."
    )

    static let info = LabInfo(
        id: "cpp-libpqxx", title: "libpqxx: PostgreSQL from C++ with prepared statements and transactions", phase: 5,
        teaches:
            "A C++ store on a throwaway PostgreSQL through libpqxx: rows round-trip with their types, prepared statements keep a title full of SQL as data, and a transaction that fails half-way leaves no row behind while a good one commits every row.",
        parameters: [breaker.parameter], needs: [.postgres, Native.compilerNeed, Native.pqxxNeed], subjects: [.source],
        source: "Sources/Labs/Native/Phase05/CppLibpqxx.swift")

    static let roundtrip = (
        "rows round-trip through libpqxx",
        "an author and 3 books added by the C++ are read back by find_book and books_by_author (in id order) as written, and the lab's own connection sees the same titles (UTF-8 included) and years"
    )
    static let injection = (
        "a title full of SQL is stored as text",
        "a book titled O'Brien'); DROP TABLE book; -- … is added, read back unchanged, and the book table is still there"
    )
    static let prepared = (
        "the store's statements are prepared",
        "pg_prepared_statements on the store's connection lists an INSERT INTO book and a SELECT … FROM book, each with $1 parameters"
    )
    static let rollback = (
        "a failed transaction leaves nothing behind",
        "add_books of 3 books whose third has no author throws, and the lab's connection finds none of the 3 rows"
    )
    static let commit = (
        "a good transaction commits every row",
        "add_books of 5 valid books returns 5 ids and the lab's connection finds all 5 rows"
    )

    static func starter() -> [StarterFile] {
        let stub = """
            // store.cpp: your BookStore on libpqxx (store.hpp is the contract).
            #include "store.hpp"

            BookStore::BookStore(const std::string& conninfo) : conn_(conninfo) {}
            long BookStore::add_author(const std::string& name) { (void)name; return 0; }          // TODO
            long BookStore::add_book(const NewBook& book) { (void)book; return 0; }                // TODO
            std::optional<Book> BookStore::find_book(long id) { (void)id; return std::nullopt; }   // TODO
            std::vector<Book> BookStore::books_by_author(long author_id) { (void)author_id; return {}; }  // TODO
            std::vector<long> BookStore::add_books(const std::vector<NewBook>& books) { (void)books; return {}; }  // TODO
            pqxx::connection& BookStore::connection() { return conn_; }

            """
        return cppStarter(
            info,
            task:
                "Write `store.cpp`: the BookStore that `store.hpp` declares, on libpqxx, with prepared statements and one transaction per batch. The lab creates the tables and passes a libpqxx connection string.",
            files: [StarterFile("store.hpp", CppSources.files["cpp-libpqxx/store.hpp"] ?? ""), StarterFile("store.cpp", stub)],
            checks: [roundtrip, injection, prepared, rollback, commit],
            build: "g++ \(CppBuild.baseFlags.joined(separator: " ")) $(pkg-config --cflags --libs libpqxx)")
    }

    func run(_ lab: LabContext) async throws {
        let (sources, headers, flags) = try Native.files(
            lab, folder: "cpp-libpqxx", harness: ["harness.cpp"], reference: ["store.cpp"],
            contract: ["store.hpp"])
        // The compiler and the server start together: both take seconds.
        async let started = ThrowawayPostgres.start(for: lab)
        let built = try await lab.compileAll([
            CppBuild(
                name: "store-harness", sources: sources, headers: headers, flags: flags + Native.breakFlags(lab, lab[Self.breaker]),
                pkgConfig: ["libpqxx"])
        ])
        let server = try await started
        guard let program = built[0] else { return }
        let db = try await server.connect()
        try await db.execute(
            """
            CREATE TABLE author (id bigserial PRIMARY KEY, name text NOT NULL);
            CREATE TABLE book (id bigserial PRIMARY KEY, title text NOT NULL,
                               author_id bigint NOT NULL REFERENCES author (id), year integer NOT NULL);
            """)
        lab.step("Created the tables author and book")

        let token = String((0..<6).map { _ in "abcdefghjkmnpqrstuvwxyz".randomElement()! })
        let conninfo = "host=\(server.socketDirectory) port=\(server.port) user=\(ThrowawayPostgres.superuser) dbname=postgres"
        let out = try await lab.runHarness(program, [conninfo, token], timeout: 120)
        lab.step("Ran the C++ store against the server", "connection string: \(conninfo)")
        if let failed = out.results["connect"] {
            lab.check("the store connects", false, expected: "BookStore(conninfo) connects", observed: failed.detail)
            return
        }
        func ids(_ name: String) -> [Int] {
            out.text.split(separator: "\n").compactMap { line -> Int? in
                let p = line.split(separator: " ")
                return p.count == 3 && p[0] == "ID" && p[1] == name ? Int(p[2]) : nil
            }
        }

        // 1. Round trip, judged by the C++ and again on the lab's own connection.
        let books = ids("book")
        let want = "The Dispossessed \(token)|1974;The Left Hand of Darkness \(token)|1969;Always Coming Home été \(token)|1985"
        let seen =
            books.count == 3
            ? (try? await db.scalar(
                "SELECT coalesce(string_agg(title || '|' || year, ';' ORDER BY id), '') FROM book WHERE id = ANY(\(books))", as: String.self)) ?? "nothing"
            : "no ids printed"
        let harness = out.results["roundtrip"]
        lab.check(
            Self.roundtrip.0, harness?.pass == true && seen == want, expected: Self.roundtrip.1,
            observed: "the C++: \(harness?.detail ?? "no result (\(out.termination))"); the lab read \(seen == want ? "the same 3 rows" : "\"\(seen)\"")")

        // 2. SQL in a title.
        let evil = "O'Brien'); DROP TABLE book; -- \(token)"
        let stored = (try? await db.scalar("SELECT count(*) FROM book WHERE title = \(evil)", as: Int.self)) ?? -1
        let injection = out.results["injection"]
        lab.check(
            Self.injection.0, injection?.pass == true && stored == 1, expected: Self.injection.1,
            observed:
                "the C++: \(injection?.detail ?? "no result (\(out.termination))"); rows with that exact title: \(stored < 0 ? "the table is gone" : String(stored))"
        )

        // 3. Prepared statements.
        let prepared = out.text.split(separator: "\n").filter { $0.hasPrefix("PREPARED ") }.map { String($0.dropFirst(9)) }
        let insert = prepared.contains { $0.range(of: #"(?i)insert\s+into\s+book\b.*\$1"#, options: .regularExpression) != nil }
        let select = prepared.contains { $0.range(of: #"(?i)select\b.*\bfrom\s+book\b.*\$1"#, options: .regularExpression) != nil }
        lab.check(
            Self.prepared.0, insert && select, expected: Self.prepared.1,
            observed: prepared.isEmpty ? "pg_prepared_statements is empty on the store's connection" : prepared.joined(separator: "\n"))

        // 4. All or nothing.
        let left = (try? await db.scalar("SELECT count(*) FROM book WHERE title LIKE \("Batch % \(token)")", as: Int.self)) ?? -1
        let threw = out.results["rollback-threw"]
        lab.check(
            Self.rollback.0, threw?.pass == true && left == 0, expected: Self.rollback.1,
            observed: "\(threw?.detail ?? "no result (\(out.termination))"); rows of that batch in the table: \(left)")

        // 5. A good batch.
        let committed = (try? await db.scalar("SELECT count(*) FROM book WHERE title LIKE \("Good batch % \(token)")", as: Int.self)) ?? -1
        let commit = out.results["commit"]
        lab.check(
            Self.commit.0, commit?.pass == true && committed == 5, expected: Self.commit.1,
            observed: "\(commit?.detail ?? "no result (\(out.termination))"); rows of that batch in the table: \(committed)")
        await db.close()
    }
}
