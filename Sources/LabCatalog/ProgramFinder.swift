import Foundation

/// Finds the programs labs need: on PATH, and in the folders Debian installs server
/// binaries to that are not on a non-root user's PATH (PostgreSQL's
/// `/usr/lib/postgresql/<version>/bin` or `$PG_BIN`, RabbitMQ's `/usr/lib/rabbitmq/bin`,
/// `/usr/sbin`).
public enum ProgramFinder {
    /// The C++ compiler entry of `LabNeed.cxx`, satisfied by `compiler(environment:)`.
    public static let cxx = "g++|clang++"

    /// The C++ compiler labs build with: `$CXX` (a name on PATH or a path) when it names a
    /// program, else g++, else clang++; nil when there is none. The kit's build helper and the
    /// `LabNeed.cxx` check both ask here, so they cannot disagree.
    public static func compiler(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let given = environment["CXX"], !given.isEmpty {
            if given.contains("/") {
                if FileManager.default.isExecutableFile(atPath: given) { return given }
            } else if let path = locate(given, environment: environment) {
                return path
            }
        }
        return locate("g++", environment: environment) ?? locate("clang++", environment: environment)
    }

    public static func missing(
        _ needs: [LabNeed], environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [LabNeed] {
        needs.filter { need in !need.programs.allSatisfy { found($0, environment: environment) } }
    }

    /// One entry of `LabNeed.programs`: a program, or alternatives joined by `|`.
    static func found(_ entry: String, environment: [String: String]) -> Bool {
        if entry == cxx { return compiler(environment: environment) != nil }
        return entry.split(separator: "|").contains { locate(String($0), environment: environment) != nil }
    }

    public static func locate(
        _ program: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        let fm = FileManager.default
        var dirs = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        if let pg = postgresBin() { dirs.insert(pg, at: 0) }
        dirs += knownFolders(environment: environment).filter { !dirs.contains($0) }
        for dir in dirs {
            let path = dir + "/" + program
            if fm.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// The folders searched after PATH: `$CURRICULUM_PROGRAM_FOLDERS` (colon-separated) when
    /// set, else where Debian puts server programs a non-root user's PATH leaves out.
    public static func knownFolders(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        if let given = environment["CURRICULUM_PROGRAM_FOLDERS"] { return given.split(separator: ":").map(String.init) }
        return ["/usr/lib/rabbitmq/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]
    }

    /// `$PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
    public static func postgresBin() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["PG_BIN"], !env.isEmpty { return env }
        let base = "/usr/lib/postgresql"
        guard let versions = try? fm.contentsOfDirectory(atPath: base) else { return nil }
        let sorted = versions.compactMap { v in Int(v).map { ($0, v) } }.sorted { $0.0 > $1.0 }
        for (_, v) in sorted where fm.isExecutableFile(atPath: "\(base)/\(v)/bin/initdb") {
            return "\(base)/\(v)/bin"
        }
        return nil
    }
}
