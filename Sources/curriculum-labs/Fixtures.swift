// Hidden labs for the tracker's own reliability tests (Tests/CLITests/LabHostTests.swift):
// labs that misbehave on purpose, to show that the tracker stops a lab that hangs, survives
// a lab that crashes, and leaves no process or scratch folder behind after Ctrl-C. They
// exist only when CURRICULUM_LABS_FIXTURES=1 and are not in the catalogue.
//
//   fixture-pass      writes a file to its scratch folder, reads it back, checks the bytes
//   fixture-hang      starts a helper process in its own session (a "server" it never
//                     stops), then waits forever; it does honour cancellation
//   fixture-stubborn  like fixture-hang, but blocks in sleep(3) and ignores SIGTERM
//   fixture-crash     reports a step, then traps (an index out of range) before it can report
//   fixture-listen    listens on 127.0.0.1 (an ephemeral port) for two seconds
//   fixture-postgres  starts a throwaway PostgreSQL, says so, then waits forever: for the
//                     tests that stop or kill the tracker mid-lab
import Foundation
import LabCatalog
import LabKit

#if canImport(Glibc)
import Glibc
#endif

enum LabFixtures {
    static let ids = ["fixture-pass", "fixture-hang", "fixture-stubborn", "fixture-crash", "fixture-listen", "fixture-postgres"]

    static var enabled: Bool { ProcessInfo.processInfo.environment["CURRICULUM_LABS_FIXTURES"] == "1" }

    /// The fixture's metadata and type, when fixtures are enabled and `id` is one.
    static func lab(_ id: String) -> (info: LabInfo, type: any Lab.Type)? {
        guard enabled else { return nil }
        let types: [String: any Lab.Type] = [
            FixturePass.id: FixturePass.self, FixtureHang.id: FixtureHang.self, FixtureStubborn.id: FixtureStubborn.self,
            FixtureCrash.id: FixtureCrash.self, FixtureListen.id: FixtureListen.self, FixturePostgres.id: FixturePostgres.self,
        ]
        guard let type = types[id] else { return nil }
        return (type.info, type)
    }

    /// Starts `sleep 3600` in its own session with its working folder in `folder`: a
    /// process that neither Ctrl-C nor the lab's exit stops. Only the tracker's sweep of
    /// the scratch root can.
    static func startOrphan(in folder: URL) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        p.arguments = ["sleep", "3600"]
        p.currentDirectoryURL = folder
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p.processIdentifier
    }
}

struct FixturePass: Lab {
    static let info = LabInfo(
        id: "fixture-pass", title: "Test fixture " + "fixture-pass", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        let file = lab.scratch.appendingPathComponent("probe.txt")
        let text = "written by \(Self.id) at \(Date().timeIntervalSince1970)"
        try Data(text.utf8).write(to: file)
        lab.step("wrote \(text.utf8.count) bytes to the scratch folder")
        let back = String(decoding: try Data(contentsOf: file), as: UTF8.self)
        lab.expect("the scratch file reads back as written", back, equals: text)
    }
}

struct FixtureHang: Lab {
    static let info = LabInfo(
        id: "fixture-hang", title: "Test fixture " + "fixture-hang", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        let pid = try LabFixtures.startOrphan(in: lab.scratch)
        lab.step("started a helper process (pid \(pid)) and never stops it")
        while true { try await Task.sleep(nanoseconds: 100_000_000) }
    }
}

struct FixtureStubborn: Lab {
    static let info = LabInfo(
        id: "fixture-stubborn", title: "Test fixture " + "fixture-stubborn", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        let pid = try LabFixtures.startOrphan(in: lab.scratch)
        lab.step("started a helper process (pid \(pid)); now blocking, deaf to SIGTERM")
        while true { sleep(1) }
    }
}

struct FixtureCrash: Lab {
    static let info = LabInfo(
        id: "fixture-crash", title: "Test fixture " + "fixture-crash", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        lab.step("about to read past the end of an array")
        // A real Swift crash (a runtime trap), as a force unwrap or a bad index would be;
        // the index is computed at run time so the compiler cannot see the trap coming.
        let empty = [Int](repeating: 0, count: Int(getpid() % 1))
        lab.figure("value read", Double(empty[empty.count]), "")
    }
}

struct FixtureListen: Lab {
    static let info = LabInfo(
        id: "fixture-listen", title: "Test fixture " + "fixture-listen", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw LabError("bind/listen: \(String(cString: strerror(errno)))") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        lab.step("listening on 127.0.0.1:\(port)")
        lab.expect("the kernel gave an ephemeral port", port > 0, expected: "a port above 0", observed: "\(port)")
        // Stay listening long enough for a test sampling /proc/net/tcp to see the socket.
        try await Task.sleep(nanoseconds: 2_000_000_000)
    }
}

struct FixturePostgres: Lab {
    static let info = LabInfo(
        id: "fixture-postgres", title: "Test fixture fixture-postgres", phase: 0, tasks: [],
        teaches: "A lab killed mid-run for the tracker's own tests.", needs: [.postgres],
        source: "Sources/curriculum-labs/Fixtures.swift")
    func run(_ lab: LabContext) async throws {
        let server = try await ThrowawayPostgres.start(for: lab)
        lab.step("a throwaway PostgreSQL is running", "\(server)")
        // The test watching from outside waits for this file before it stops the tracker.
        try Data().write(to: lab.scratch.appendingPathComponent("postgres-ready"))
        while true { try await Task.sleep(nanoseconds: 100_000_000) }
    }
}
