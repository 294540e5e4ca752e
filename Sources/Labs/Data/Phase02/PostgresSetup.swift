// PostgreSQL setup: a *cluster* is one data directory served by one `postgres` server
// process; `initdb` creates it (system catalogs, template databases, a superuser) and
// `pg_ctl start` runs the server, here listening only on a unix socket in the lab's folder.
// Inside a cluster live many *databases*; *roles* are cluster-wide and log in with a
// password when the server's pg_hba.conf says so. Values travel with their types: an
// integer comes back an integer, a timestamp a timestamp, a UUID a UUID.
//
// `break=` plants a classic set-up mistake (a TCP listener, trusted logins, a role without
// LOGIN, a real where double precision was meant, a table made by the superuser…); each is
// caught by the checks named in its help.
import Foundation
import LabKit
import PostgresNIO

struct PostgresSetupLab: Lab {
    static let rows = Knob.int("rows", 1...1_000_000, default: 5000, quick: 200, help: "rows inserted into the table and read back")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: listen-on-localhost (the server also listens on TCP 127.0.0.1: the socket-only \
            check), version-from-banner (the version is the first word of SELECT version(), which is \
            "PostgreSQL": the binary-version check), major-as-version-num (the major version, 15, is compared \
            where server_version_num, 150000 and up, is meant: the modern-release check), role-without-login \
            (CREATE ROLE … PASSWORD without LOGIN: the logs-in check), trust-logins (pg_hba.conf trusts every \
            socket login, as initdb -A trust writes: the wrong-password check), rows-off-by-one (the insert \
            loop stops one row short: the every-row check), real-for-double (the value column is real, 4 bytes: \
            the round-trip and declared-types checks), created-by-superuser (the table is created by the \
            superuser's session and granted to app: the owner check).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case listenOnLocalhost = "listen-on-localhost"
        case versionFromBanner = "version-from-banner"
        case majorAsVersionNum = "major-as-version-num"
        case roleWithoutLogin = "role-without-login"
        case trustLogins = "trust-logins"
        case rowsOffByOne = "rows-off-by-one"
        case realForDouble = "real-for-double"
        case createdBySuperuser = "created-by-superuser"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let socketOnly = "the server listens on no TCP address, only on the lab's socket"
    static let binaryVersion = "the server reports the version of the binary that runs it"
    static let modernRelease = "server_version_num is a modern release (≥ 12)"
    static let logsIn = "role app logs in to shop with its password"
    static let wrongPasswordRefused = "a wrong password is refused (28P01 invalid_password)"
    static let everyRow = "every row came back"
    static let roundTrips = "every value round-trips with its type (rows differing)"
    static let declaredTypes = "the table's columns have the declared types"
    static let ownedByCreator = "the table belongs to the role that created it"

    static let info = LabInfo(
        id: "postgres-setup", title: "A PostgreSQL cluster of your own", phase: 2,
        teaches:
            "initdb makes a cluster, pg_ctl starts it on a socket; inside it you create a database, a login role with a password and a table, and values come back with their types intact.",
        parameters: [rows.parameter, breaker.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase02/PostgresSetup.swift"
    )

    func run(_ lab: LabContext) async throws {
        let rows = lab[Self.rows], breaker = lab[Self.breaker]

        let (server, startSeconds) = try await Measure.time {
            try await ThrowawayPostgres.start(for: lab, passwordLogins: breaker != .trustLogins, tcp: breaker == .listenOnLocalhost)
        }
        lab.figure("initdb + start", startSeconds, "s")

        let admin = try await server.connect()
        // What the server itself says about how it listens, rather than what we asked for.
        let listen = try await admin.scalar("SHOW listen_addresses", as: String.self)
        let sockets = try await admin.scalar("SHOW unix_socket_directories", as: String.self)
        // What pg_hba.conf says about password logins, as the server parsed it.
        let methods = try await admin.query("SELECT DISTINCT auth_method FROM pg_hba_file_rules ORDER BY 1").map { try $0.decode(String.self) }
        lab.step(
            "How it was made",
            "initdb -D \(server.dataDirectory) -A trust -U lab, then pg_ctl start. The server reports listen_addresses='\(listen)' and unix_socket_directories='\(sockets)'; pg_hba.conf's methods: \(methods.joined(separator: ", "))."
        )
        lab.expect(Self.socketOnly, [listen, sockets], equals: ["", server.socketDirectory])
        let reported = try await admin.scalar(
            PostgresQuery(unsafeSQL: breaker == .versionFromBanner ? "SELECT version()" : "SHOW server_version"), as: String.self)
        let versionNum = try await admin.scalar(
            PostgresQuery(unsafeSQL: "SELECT current_setting('server_version_num')::int" + (breaker == .majorAsVersionNum ? " / 10000" : "")), as: Int.self)
        // Independently: ask the binary itself, without the server.
        let binary = try await Subprocess.capture(server.binDirectory + "/postgres", ["--version"])
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the word after "(PostgreSQL)".
        let words = binary.output.split(whereSeparator: \.isWhitespace).map(String.init)
        let binaryVersion = words.firstIndex(of: "(PostgreSQL)").flatMap { words.indices.contains($0 + 1) ? words[$0 + 1] : nil } ?? binary.output
        lab.step(
            "Read the server version",
            "SHOW server_version says \(reported); `postgres --version` says \(binary.output.trimmingCharacters(in: .whitespacesAndNewlines)).")
        lab.expect(
            Self.binaryVersion,
            reported.split(separator: " ").first.map(String.init) ?? reported, equals: binaryVersion)
        lab.expect(
            Self.modernRelease, versionNum >= 120_000,
            expected: "≥ 120000", observed: "\(versionNum)")

        // A database, and a role that owns it and logs in with a password.
        let password = "s3cret-\(UUID().uuidString.prefix(6))"
        // CREATE ROLE makes a role that cannot log in unless told LOGIN (CREATE USER implies it).
        let login = breaker == .roleWithoutLogin ? "" : " LOGIN"
        try await admin.execute(
            """
            CREATE ROLE app\(login) PASSWORD \(PGLabSQL.literal(password));
            CREATE DATABASE shop OWNER app;
            """)
        lab.step("Created database shop owned by role app", "CREATE ROLE app\(login) PASSWORD '…'; CREATE DATABASE shop OWNER app")

        // Should app not get in, the rest runs as app all the same: the superuser connects to
        // shop and takes app's role (SET ROLE), so the later checks still judge app's table.
        let app: PGSession
        var loginRefused: String?
        do {
            app = try await server.connect(database: "shop", username: "app", password: password)
        } catch let error as PGQueryError {
            loginRefused = "refused: SQLSTATE \(error.sqlState ?? "none"), \(error.message)"
            app = try await server.connect(database: "shop")
            try await app.execute("SET ROLE app")
        }
        let current = try await app.scalar("SELECT current_user || '@' || current_database()", as: String.self)
        if let loginRefused {
            lab.step("Role app could not log in", "\(loginRefused); the superuser continues in shop as app (SET ROLE app), now \(current)")
        }
        let whoami = loginRefused ?? current
        lab.expect(Self.logsIn, whoami, equals: "app@shop")

        var refused: String?
        do {
            let wrong = try await server.connect(database: "shop", username: "app", password: "not-the-password")
            await wrong.close()
        } catch let error as PGQueryError {
            refused = error.sqlState
        }
        lab.step("Tried a wrong password", refused.map { "refused with SQLSTATE \($0)" } ?? "it was let in")
        lab.expect(Self.wrongPasswordRefused, refused ?? "let in", equals: "28P01")

        // A table with several types; insert, read back, compare.
        let table = """
            CREATE TABLE readings (
                id         integer PRIMARY KEY,
                sensor     text NOT NULL,
                value      \(breaker == .realForDouble ? "real" : "double precision") NOT NULL,
                ok         boolean NOT NULL,
                taken_at   timestamptz NOT NULL,
                tag        uuid NOT NULL
            )
            """
        if breaker == .createdBySuperuser {
            // The mistake: the table is made by the superuser's session and app only granted rights on it.
            let superuser = try await server.connect(database: "shop")
            try await superuser.execute(table + "; GRANT ALL ON readings TO app")
        } else {
            try await app.execute(table)
        }
        let base = Date(timeIntervalSince1970: 1_750_000_000)
        // Values a 4-byte real cannot hold exactly (i / 3), so a narrower column shows.
        let sent: [Reading] = (1...rows).map { i in
            Reading(
                id: i, sensor: "sensor-\(i % 17) ü'\"", value: Double(i) / 3, ok: i % 3 == 0,
                takenAt: base.addingTimeInterval(Double(i) * 60), tag: UUID())
        }
        var inserted = 0
        let (_, insertSeconds) = try await Measure.time {
            try await app.execute("BEGIN")
            // The mistake rows-off-by-one stops the loop one row short.
            for r in breaker == .rowsOffByOne ? sent.dropLast() : sent[...] {
                inserted += 1
                try await app.query(
                    """
                    INSERT INTO readings (id, sensor, value, ok, taken_at, tag)
                    VALUES (\(r.id), \(r.sensor), \(r.value), \(r.ok), \(r.takenAt), \(r.tag))
                    """)
            }
            try await app.execute("COMMIT")
        }
        lab.step(
            "Inserted \(inserted) rows with bound parameters in one transaction",
            "int, text (with quotes and non-ASCII), double precision, boolean, timestamptz and uuid columns")
        lab.figure("inserts", Double(inserted) / max(insertSeconds, 1e-9), "rows/s")

        var back: [Reading] = []
        for row in try await app.query("SELECT id, sensor, value, ok, taken_at, tag FROM readings ORDER BY id") {
            let (id, sensor, value, ok, takenAt, tag) = try row.decode((Int, String, Double, Bool, Date, UUID).self)
            back.append(Reading(id: id, sensor: sensor, value: value, ok: ok, takenAt: takenAt, tag: tag))
        }
        lab.expect(Self.everyRow, back.count, equals: rows)
        let mismatches = zip(sent, back).filter { $0 != $1 }.count
        lab.expect(Self.roundTrips, mismatches, equals: 0)
        let types = try await app.query(
            """
            SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = 'readings' ORDER BY ordinal_position
            """
        ).map { try $0.decode((String, String).self) }.map { "\($0.0):\($0.1)" }
        lab.expect(
            Self.declaredTypes, types,
            equals: [
                "id:integer", "sensor:text", "value:double precision", "ok:boolean",
                "taken_at:timestamp with time zone", "tag:uuid",
            ])
        let owner = try await app.scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'readings'", as: String.self)
        lab.expect(Self.ownedByCreator, owner, equals: "app")
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
