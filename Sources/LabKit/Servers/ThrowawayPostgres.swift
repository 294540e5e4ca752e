import Foundation
import LabCatalog
import Logging
import PostgresNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster that lives for one lab run: `initdb` into the lab's scratch folder,
/// a server listening only on a unix socket in that folder, connected clients for the lab,
/// and a clean-up (registered with `lab.onCleanup`) that stops the server and deletes the
/// cluster whether the lab passes, fails, throws, times out or is interrupted.
///
/// Fast rather than durable: `--no-sync`, `fsync=off`, `synchronous_commit=off`,
/// `full_page_writes=off` — a crash loses the cluster, which is thrown away anyway.
///
/// `initdb` refuses to run as root. When the lab runs as root (CI does), every server tool
/// runs as the unprivileged `postgres` user Debian's package creates (`runuser -u postgres --`)
/// and the cluster folder belongs to that user.
public final class ThrowawayPostgres: Sendable {
    /// The superuser `initdb` creates; it logs in without a password over the socket (`-A trust`).
    public static let superuser = "lab"

    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    public let binDirectory: String
    /// The cluster's own folder: data directory, socket and logs. Removed by `stop()`.
    public let baseDirectory: String
    public let dataDirectory: String
    public let socketDirectory: String
    /// Only names the socket file (`.s.PGSQL.<port>`): the server listens on no TCP port.
    public let port: Int
    /// Shown in every server process's title (`postgres: <name>: checkpointer`), so a
    /// leftover process can be traced to its lab run.
    public let clusterName: String
    /// The user the server tools run as when we are root, else nil.
    public let runAs: String?

    private let state = Mutex(State())
    private struct State {
        var version: String?
        var sessions: [PGSession] = []
        var stopped = false
        var nextID = 1
    }

    /// "PostgreSQL 15.14", read from the running server.
    public var version: String { state.withLock { $0.version } ?? "PostgreSQL" }

    /// The path of the unix socket clients connect to.
    public var socketPath: String { socketDirectory + "/.s.PGSQL.\(port)" }

    private init(
        binDirectory: String, baseDirectory: String, socketDirectory: String, port: Int,
        clusterName: String, runAs: String?
    ) {
        self.binDirectory = binDirectory
        self.baseDirectory = baseDirectory
        self.dataDirectory = baseDirectory + "/data"
        self.socketDirectory = socketDirectory
        self.port = port
        self.clusterName = clusterName
        self.runAs = runAs
    }

    // MARK: Finding the binaries

    /// The folder that has all of `initdb`, `pg_ctl` and `postgres`: `$PG_BIN` (or the newest
    /// `/usr/lib/postgresql/<version>/bin`, see `ProgramFinder.postgresBin`), then PATH.
    /// Nil when none has them all, so a missing install never falls back to anything else.
    public static func locateBinaries(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let fm = FileManager.default
        var dirs: [String] = []
        if let pg = environment["PG_BIN"], !pg.isEmpty {
            dirs.append(pg)
        } else if let pg = ProgramFinder.postgresBin() {
            dirs.append(pg)
        }
        dirs += (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for dir in dirs {
            let tools = ["initdb", "pg_ctl", "postgres"].map { dir + "/" + $0 }
            guard tools.allSatisfy({ fm.isExecutableFile(atPath: $0) }) else { continue }
            // A folder of symlinks (/usr/local/bin → /usr/lib/postgresql/15/bin): use the
            // real one, so the three tools surely come from the same version.
            let real = URL(fileURLWithPath: tools[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            let realTools = ["initdb", "pg_ctl", "postgres"].map { real + "/" + $0 }
            return realTools.allSatisfy { fm.isExecutableFile(atPath: $0) } ? real : dir
        }
        return nil
    }

    // MARK: Starting

    /// Creates and starts a cluster for `lab`, and registers its stop with `lab.onCleanup`
    /// before anything is created, so a half-made cluster is removed too.
    /// - Parameter passwordLogins: when true, every role but the superuser must log in with
    ///   its password (scram-sha-256); by default everyone on the socket is trusted.
    /// - Parameter tcp: also listen on 127.0.0.1:`port` (trusted, as initdb's `-A trust`
    ///   writes), for a learner's server whose driver cannot use a unix socket (JDBC);
    ///   `tcpURL(database:username:)` names it. By default the socket is the only way in.
    /// - Parameter settings: more server settings, `name=value` each (`-c` options).
    /// - Throws: `LabUnavailable(.postgres)` when the binaries are missing (or, as root,
    ///   when there is no `postgres` user); `LabError` when the server does not start.
    ///   `environment` is where `PG_BIN` and `PATH` are read (tests pass their own).
    public static func start(
        for lab: LabContext, passwordLogins: Bool = false, tcp: Bool = false, settings: [String] = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ThrowawayPostgres {
        let began = ContinuousClock.now
        guard let bin = locateBinaries(environment: environment) else {
            throw LabUnavailable(.postgres, detail: "no folder with initdb, pg_ctl and postgres in PG_BIN, /usr/lib/postgresql or PATH")
        }
        var runAs: String?
        var owner: (uid: uid_t, gid: gid_t)?
        if geteuid() == 0 {
            guard let pw = getpwnam("postgres") else {
                throw LabUnavailable(.postgres, detail: "running as root, and there is no postgres user to run the server as")
            }
            runAs = "postgres"
            owner = (pw.pointee.pw_uid, pw.pointee.pw_gid)
        }

        let fm = FileManager.default
        let scratch = lab.scratch.standardizedFileURL.path
        try fm.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        // As root, the postgres user must be able to walk down to the cluster: open the
        // scratch folder (ours) for traversal; if a parent is closed, use /tmp instead.
        var base = scratch + "/postgres"
        if owner != nil {
            chmod(scratch, 0o755)
            if !traversableByOthers(scratch) { base = "/tmp/labkit-postgres-\(tag)" }
        }
        // A TCP listener needs a port nobody has; a socket alone only a name nobody uses.
        let port = tcp ? try Loopback.freePort() : Int.random(in: 20_000..<60_000)
        // A unix socket path has a hard limit of 107 bytes.
        var socketDir = base
        // pg_ctl hands the server's options to a shell: keep quotes out of the socket path.
        if (socketDir + "/.s.PGSQL.\(port).lock").utf8.count > 100 || socketDir.contains("'") {
            socketDir = "/tmp/labkit-pgsock-\(tag)"
        }
        let name = String(URL(fileURLWithPath: scratch).lastPathComponent.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }.prefix(60))

        let server = ThrowawayPostgres(
            binDirectory: bin, baseDirectory: base, socketDirectory: socketDir,
            port: port, clusterName: name.isEmpty ? "lab-\(tag)" : name, runAs: runAs)
        lab.onCleanup { await server.stop() }

        for dir in Set([base, socketDir]) {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o700)
            if let owner { chown(dir, owner.uid, owner.gid) }
        }

        let initLog = base + "/initdb.log"
        let initdb = try await server.tool(
            "initdb",
            [
                "-D", server.dataDirectory, "-A", "trust", "-U", superuser, "-E", "UTF8", "--locale=C", "--no-sync",
            ], output: initLog)
        guard initdb.succeeded else {
            throw LabError("initdb failed (\(initdb)): \(tail(of: initLog))")
        }

        if passwordLogins {
            let hba = server.dataDirectory + "/pg_hba.conf"
            let rules = """
                # Written by LabKit: the lab's superuser is trusted on the socket, everyone else
                # must give a password.
                local all \(superuser) trust
                local all all scram-sha-256

                """
            try rules.write(toFile: hba, atomically: false, encoding: .utf8)
            if let owner { chown(hba, owner.uid, owner.gid) }
        }

        let options =
            [
                "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
                "-c listen_addresses=\(tcp ? "127.0.0.1" : "''")", "-k '\(socketDir)'", "-p \(port)", "-c cluster_name=\(server.clusterName)",
            ].joined(separator: " ") + settings.map { " -c \($0)" }.joined()
        let ctlLog = base + "/pg_ctl.log"
        let started = try await server.tool(
            "pg_ctl",
            [
                "-D", server.dataDirectory, "-l", base + "/server.log", "-o", options, "-w", "-t", "60", "start",
            ], output: ctlLog, timeout: 90)
        guard started.succeeded else {
            throw LabError("pg_ctl start failed (\(started)): \(tail(of: ctlLog)) \(tail(of: base + "/server.log"))")
        }

        let session = try await server.connect()
        let version = try await session.scalar("SHOW server_version", as: String.self)
        let short = version.split(separator: " ").first.map(String.init) ?? version
        server.state.withLock { $0.version = "PostgreSQL \(short)" }
        lab.engine("PostgreSQL \(short)")
        let seconds = Measure.seconds(ContinuousClock.now - began)
        lab.step(
            "Started a throwaway PostgreSQL \(short) cluster",
            "initdb + pg_ctl start took \(String(format: "%.2f", seconds)) s; cluster_name=\(server.clusterName); data in \(server.dataDirectory); socket \(server.socketPath)\(runAs.map { "; running as user \($0)" } ?? ""). It is stopped and deleted when the lab ends."
        )
        return server
    }

    /// `postgresql://USER@127.0.0.1:PORT/DATABASE`: the URL a learner's server is given
    /// (meaningful when the cluster was started with `tcp: true`).
    public func tcpURL(database: String, username: String) -> String {
        "postgresql://\(username)@127.0.0.1:\(port)/\(database)"
    }

    /// Connects a new session over the unix socket. The server closes it when it stops;
    /// a lab may close it earlier with `session.close()`.
    public func connect(
        database: String = "postgres", username: String = ThrowawayPostgres.superuser,
        password: String? = nil
    ) async throws -> PGSession {
        try Task.checkCancellation()
        let config = PostgresConnection.Configuration(
            unixSocketPath: socketPath, username: username,
            password: password, database: database)
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: config, id: id, logger: PGSession.quietLogger)
        } catch {
            throw PGQueryError(error, sql: "(connect to \(database) as \(username))")
        }
        let session = PGSession(connection: connection)
        state.withLock { $0.sessions.append(session) }
        return session
    }

    /// Creates a database (names are checked: letters, digits and `_` only) and connects to it.
    public func createDatabase(_ name: String) async throws -> PGSession {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw LabError("database name \(name) must be letters, digits and _")
        }
        let admin = try await connect()
        try await admin.execute("CREATE DATABASE \(name)")
        await admin.close()
        return try await connect(database: name)
    }

    // MARK: Stopping

    /// Closes every session, stops the server (`pg_ctl -m fast`, then SIGKILL if it is
    /// still there) and deletes the cluster's folders. Safe to call twice.
    public func stop() async {
        let sessions: [PGSession]? = state.withLock { s in
            if s.stopped { return nil }
            s.stopped = true
            return s.sessions
        }
        guard let sessions else { return }
        for session in sessions { await session.close() }
        let pidFile = dataDirectory + "/postmaster.pid"
        if FileManager.default.fileExists(atPath: pidFile) {
            let postmaster = Self.postmasterPID(pidFile)
            _ = try? await tool(
                "pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "20", "stop"],
                output: nil, timeout: 30)
            if let postmaster, Self.isRunning(postmaster) {
                kill(postmaster, SIGKILL)
                // The children notice their postmaster is gone and leave within a moment.
                for _ in 0..<200 where Self.isRunning(postmaster) { usleep(10_000) }
            }
        }
        try? FileManager.default.removeItem(atPath: baseDirectory)
        if socketDirectory != baseDirectory { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }

    // MARK: Helpers

    /// Runs one of the server tools, as the `postgres` user when we are root.
    private func tool(_ name: String, _ arguments: [String], output: String?, timeout: Double = 60) async throws -> Subprocess.Termination {
        let path = binDirectory + "/" + name
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"]
        if let runAs {
            env["HOME"] = "/tmp"
            let runuser =
                ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/runuser"
            return try await Subprocess.run(
                runuser, ["-u", runAs, "--", path] + arguments,
                environment: env, output: output, directory: "/", timeout: timeout)
        }
        env["HOME"] = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        return try await Subprocess.run(path, arguments, environment: env, output: output, directory: "/", timeout: timeout)
    }

    /// Whether `pid` is a live process (a zombie waiting to be reaped is not; in a
    /// container whose init does not reap, an exited postmaster stays one).
    public static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    private static func postmasterPID(_ file: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let first = text.split(separator: "\n").first
        else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    private static func traversableByOthers(_ path: String) -> Bool {
        var url = URL(fileURLWithPath: path)
        while url.path != "/" {
            var st = stat()
            guard stat(url.path, &st) == 0, st.st_mode & 0o001 != 0 else { return false }
            url.deleteLastPathComponent()
        }
        return true
    }

    private static func tail(of file: String) -> String {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: " / ")
    }
}

/// One connection to a throwaway server, with the few calls labs need. Errors come back as
/// `PGQueryError`, which carries the SQLSTATE and the server's message.
public struct PGSession: Sendable {
    public let connection: PostgresConnection

    /// Postgres-NIO logs through swift-log, whose default handler writes to stdout — where
    /// the lab protocol lives. Labs keep its logs out.
    public static let quietLogger = Logger(label: "labkit.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(connection: PostgresConnection) { self.connection = connection }

    /// Runs one statement (values interpolated into `query` are sent as bound parameters)
    /// and returns all its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try Task.checkCancellation()
        do {
            return try await connection.query(query, logger: Self.quietLogger).collect()
        } catch {
            throw PGQueryError(error, sql: query.sql)
        }
    }

    /// Runs a script of one or more statements separated by `;` (no parameters), e.g. DDL,
    /// one statement after the other; each commits on its own unless the script says BEGIN.
    public func execute(_ sql: String) async throws {
        for statement in Self.statements(sql) {
            try Task.checkCancellation()
            do {
                _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.quietLogger).collect()
            } catch {
                throw PGQueryError(error, sql: statement)
            }
        }
    }

    /// Splits a script at the `;` that end statements (not those inside quotes, `--`
    /// comments or dollar-quoted bodies), dropping empty statements.
    public static func statements(_ script: String) -> [String] {
        var out: [String] = [], current = ""
        var quote: Character?  // ' or " while inside one
        var dollarTag: String?  // $tag$ while inside a dollar-quoted body
        let chars = Array(script)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let tag = dollarTag {
                if c == "$", String(chars[i..<min(chars.count, i + tag.count)]) == tag {
                    current += tag; i += tag.count; dollarTag = nil; continue
                }
            } else if let q = quote {
                if c == q { quote = nil }
            } else if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                // A comment runs to the end of the line; quotes in it mean nothing.
                while i < chars.count, chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "$", let end = chars[(i + 1)...].firstIndex(of: "$"),
                chars[(i + 1)..<end].allSatisfy({ $0.isLetter || $0 == "_" })
            {
                let tag = String(chars[i...end])
                current += tag; i = end + 1; dollarTag = tag; continue
            } else if c == ";" {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { out.append(s) }
                current = ""; i += 1; continue
            }
            current.append(c); i += 1
        }
        let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { out.append(s) }
        return out
    }

    /// The first column of the first row.
    public func scalar<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) async throws -> T {
        let rows = try await self.query(query)
        guard let row = rows.first else { throw PGQueryError(sqlState: nil, message: "no rows", sql: query.sql) }
        do {
            return try row.decode(T.self)
        } catch {
            throw PGQueryError(sqlState: nil, message: "cannot read \(T.self): \(error)", sql: query.sql)
        }
    }

    public func close() async {
        try? await connection.close()
    }
}

/// A failed statement: its SQLSTATE (e.g. "40001" serialization failure, "23503" foreign
/// key violation), the server's message, and the SQL that failed.
public struct PGQueryError: Error, CustomStringConvertible, Sendable {
    public var sqlState: String?
    public var message: String
    public var sql: String

    public init(sqlState: String?, message: String, sql: String) {
        self.sqlState = sqlState; self.message = message; self.sql = sql
    }

    public init(_ error: any Error, sql: String) {
        if let already = error as? PGQueryError { self = already; return }
        var found: PSQLError? = error as? PSQLError
        if found == nil, let tx = error as? PostgresTransactionError {
            found = (tx.closureError as? PSQLError) ?? (tx.commitError as? PSQLError)
        }
        if let psql = found, let info = psql.serverInfo {
            self.init(sqlState: info[.sqlState], message: info[.message] ?? "\(psql.code)", sql: sql)
        } else if let psql = found {
            self.init(sqlState: nil, message: "\(psql.code)\(psql.underlying.map { ": \($0)" } ?? "")", sql: sql)
        } else {
            self.init(sqlState: nil, message: "\(error)", sql: sql)
        }
    }

    public var description: String {
        let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return "\(sqlState.map { "SQLSTATE \($0): " } ?? "")\(message) — in: \(oneLine.prefix(160))"
    }
}
