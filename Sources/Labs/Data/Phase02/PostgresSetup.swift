// PostgreSQL setup: a *cluster* is one data directory served by one `postgres` server
// process; `initdb` creates it (system catalogs, template databases, a superuser) and
// `pg_ctl start` runs the server, here listening only on a unix socket in the lab's folder.
// Inside a cluster live many *databases*; *roles* are cluster-wide and log in with a
// password when the server's pg_hba.conf says so. Values travel with their types: an
// integer comes back an integer, a timestamp a timestamp, a UUID a UUID.
import Foundation
import LabKit
import PostgresNIO

struct PostgresSetupLab: Lab {
    static let rows = Knob.int("rows", 1...1_000_000, default: 5000, quick: 200, help: "rows inserted into the table and read back")

    static let info = LabInfo(
        id: "postgres-setup", title: "A PostgreSQL cluster of your own", phase: 2,
        teaches:
            "initdb makes a cluster, pg_ctl starts it on a socket; inside it you create a database, a login role with a password and a table, and values come back with their types intact.",
        parameters: [rows.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase02/PostgresSetup.swift"
    )

    func run(_ lab: LabContext) async throws {
        let rows = lab[Self.rows]

        let (server, startSeconds) = try await Measure.time { try await ThrowawayPostgres.start(for: lab, passwordLogins: true) }
        lab.figure("initdb + start", startSeconds, "s")

        let admin = try await server.connect()
        // What the server itself says about how it listens, rather than what we asked for.
        let listen = try await admin.scalar("SHOW listen_addresses", as: String.self)
        let sockets = try await admin.scalar("SHOW unix_socket_directories", as: String.self)
        lab.step(
            "How it was made",
            "initdb -D \(server.dataDirectory) -A trust -U lab, then pg_ctl start. The server reports listen_addresses='\(listen)' and unix_socket_directories='\(sockets)'."
        )
        lab.expect("the server listens on no TCP address, only on the lab's socket", [listen, sockets], equals: ["", server.socketDirectory])
        let reported = try await admin.scalar("SHOW server_version", as: String.self)
        let versionNum = try await admin.scalar("SELECT current_setting('server_version_num')::int", as: Int.self)
        // Independently: ask the binary itself, without the server.
        let binary = try await Subprocess.capture(server.binDirectory + "/postgres", ["--version"])
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the word after "(PostgreSQL)".
        let words = binary.output.split(whereSeparator: \.isWhitespace).map(String.init)
        let binaryVersion = words.firstIndex(of: "(PostgreSQL)").flatMap { words.indices.contains($0 + 1) ? words[$0 + 1] : nil } ?? binary.output
        lab.step(
            "Read the server version",
            "SHOW server_version says \(reported); `postgres --version` says \(binary.output.trimmingCharacters(in: .whitespacesAndNewlines)).")
        lab.expect(
            "the server reports the version of the binary that runs it",
            reported.split(separator: " ").first.map(String.init) ?? reported, equals: binaryVersion)
        lab.expect(
            "server_version_num is a modern release (≥ 12)", versionNum >= 120_000,
            expected: "≥ 120000", observed: "\(versionNum)")

        // A database, and a role that owns it and logs in with a password.
        let password = "s3cret-\(UUID().uuidString.prefix(6))"
        try await admin.execute(
            """
            CREATE ROLE app LOGIN PASSWORD \(PGLabSQL.literal(password));
            CREATE DATABASE shop OWNER app;
            """)
        lab.step("Created database shop owned by role app", "CREATE ROLE app LOGIN PASSWORD '…'; CREATE DATABASE shop OWNER app")

        let app = try await server.connect(database: "shop", username: "app", password: password)
        let whoami = try await app.scalar("SELECT current_user || '@' || current_database()", as: String.self)
        lab.expect("role app logs in to shop with its password", whoami, equals: "app@shop")

        var refused: String?
        do {
            let wrong = try await server.connect(database: "shop", username: "app", password: "not-the-password")
            await wrong.close()
        } catch let error as PGQueryError {
            refused = error.sqlState
        }
        lab.step("Tried a wrong password", refused.map { "refused with SQLSTATE \($0)" } ?? "it was let in")
        lab.expect("a wrong password is refused (28P01 invalid_password)", refused ?? "let in", equals: "28P01")

        // A table with several types; insert, read back, compare.
        try await app.execute(
            """
            CREATE TABLE readings (
                id         integer PRIMARY KEY,
                sensor     text NOT NULL,
                value      double precision NOT NULL,
                ok         boolean NOT NULL,
                taken_at   timestamptz NOT NULL,
                tag        uuid NOT NULL
            )
            """)
        let base = Date(timeIntervalSince1970: 1_750_000_000)
        let sent: [Reading] = (1...rows).map { i in
            Reading(
                id: i, sensor: "sensor-\(i % 17) ü'\"", value: Double(i) / 8, ok: i % 3 == 0,
                takenAt: base.addingTimeInterval(Double(i) * 60), tag: UUID())
        }
        let (_, insertSeconds) = try await Measure.time {
            try await app.execute("BEGIN")
            for r in sent {
                try await app.query(
                    """
                    INSERT INTO readings (id, sensor, value, ok, taken_at, tag)
                    VALUES (\(r.id), \(r.sensor), \(r.value), \(r.ok), \(r.takenAt), \(r.tag))
                    """)
            }
            try await app.execute("COMMIT")
        }
        lab.step(
            "Inserted \(rows) rows with bound parameters in one transaction",
            "int, text (with quotes and non-ASCII), double precision, boolean, timestamptz and uuid columns")
        lab.figure("inserts", Double(rows) / max(insertSeconds, 1e-9), "rows/s")

        var back: [Reading] = []
        for row in try await app.query("SELECT id, sensor, value, ok, taken_at, tag FROM readings ORDER BY id") {
            let (id, sensor, value, ok, takenAt, tag) = try row.decode((Int, String, Double, Bool, Date, UUID).self)
            back.append(Reading(id: id, sensor: sensor, value: value, ok: ok, takenAt: takenAt, tag: tag))
        }
        lab.expect("every row came back", back.count, equals: rows)
        let mismatches = zip(sent, back).filter { $0 != $1 }.count
        lab.expect("every value round-trips with its type (rows differing)", mismatches, equals: 0)
        let types = try await app.query(
            """
            SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = 'readings' ORDER BY ordinal_position
            """
        ).map { try $0.decode((String, String).self) }.map { "\($0.0):\($0.1)" }
        lab.expect(
            "the table's columns have the declared types", types,
            equals: [
                "id:integer", "sensor:text", "value:double precision", "ok:boolean",
                "taken_at:timestamp with time zone", "tag:uuid",
            ])
        let owner = try await app.scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'readings'", as: String.self)
        lab.expect("the table belongs to the role that created it", owner, equals: "app")
    }

    struct Reading: Equatable {
        var id: Int
        var sensor: String
        var value: Double
        var ok: Bool
        var takenAt: Date
        var tag: UUID
    }
}
