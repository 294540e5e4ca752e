import Foundation

/// Finds the programs labs need: on PATH, and in the folders Debian installs server
/// binaries to that are not on PATH (PostgreSQL's `/usr/lib/postgresql/<version>/bin`,
/// or `$PG_BIN`).
public enum ProgramFinder {
    public static func missing(_ needs: [LabNeed]) -> [LabNeed] {
        needs.filter { need in !need.programs.allSatisfy { locate($0) != nil } }
    }

    public static func locate(_ program: String) -> String? {
        let fm = FileManager.default
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        if let pg = postgresBin() { dirs.insert(pg, at: 0) }
        for dir in dirs {
            let path = dir + "/" + program
            if fm.isExecutableFile(atPath: path) { return path }
        }
        return nil
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
