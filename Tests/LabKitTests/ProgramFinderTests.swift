import Foundation
import LabCatalog
import Testing

/// What `lab run` and `doctor` call missing: a lab needing a C++ compiler runs with clang++ or
/// `$CXX` alone (the kit's build helper uses them), and server programs Debian keeps off a
/// non-root user's PATH are still found.
@Suite struct ProgramFinderTests {
    /// A folder holding one executable shell script named `name`.
    static func folder(with name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finder-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent(name)
        try "#!/bin/sh\nexit 0\n".write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        return dir
    }

    @Test func clangAloneIsACompiler() throws {
        let dir = try Self.folder(with: "clang++")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(ProgramFinder.missing([.cxx], environment: ["PATH": dir.path]).isEmpty)
        let empty = dir.appendingPathComponent("empty").path
        #expect(ProgramFinder.missing([.cxx], environment: ["PATH": empty]) == [.cxx])
    }

    @Test func cxxNamesTheCompiler() throws {
        let dir = try Self.folder(with: "my-c++")
        defer { try? FileManager.default.removeItem(at: dir) }
        let nowhere = dir.appendingPathComponent("empty").path
        let path = dir.appendingPathComponent("my-c++").path
        #expect(ProgramFinder.missing([.cxx], environment: ["PATH": nowhere, "CXX": path]).isEmpty)
        #expect(ProgramFinder.missing([.cxx], environment: ["PATH": dir.path, "CXX": "my-c++"]).isEmpty)
        // $CXX naming nothing falls back to g++ or clang++, as the build helper does; with
        // neither on PATH the compiler is missing.
        let gpp = try Self.folder(with: "g++")
        defer { try? FileManager.default.removeItem(at: gpp) }
        let fallback = ["PATH": gpp.path, "CXX": "/nonexistent/c++"]
        #expect(ProgramFinder.missing([.cxx], environment: fallback).isEmpty)
        #expect(ProgramFinder.compiler(environment: fallback) == gpp.appendingPathComponent("g++").path)
        #expect(ProgramFinder.missing([.cxx], environment: ["PATH": nowhere, "CXX": "/nonexistent/c++"]) == [.cxx])
        #expect(ProgramFinder.compiler(environment: ["PATH": nowhere, "CXX": path]) == path)
    }

    @Test func everyProgramOfANeedIsRequired() throws {
        let dir = try Self.folder(with: "initdb")
        defer { try? FileManager.default.removeItem(at: dir) }
        let need = LabNeed("two programs", programs: ["initdb", "no-such-program-here"], packages: ["x"])
        #expect(ProgramFinder.missing([need], environment: ["PATH": dir.path]) == [need])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/lib/rabbitmq/bin/rabbitmq-server")))
    func rabbitMQIsFoundOffPath() {
        #expect(ProgramFinder.missing([.rabbitmq], environment: ["PATH": "/nonexistent"]).isEmpty)
        // The known folders can be replaced: then only PATH and they are searched.
        #expect(ProgramFinder.missing([.rabbitmq], environment: ["PATH": "/nonexistent", "CURRICULUM_PROGRAM_FOLDERS": "/nonexistent"]) == [.rabbitmq])
    }
}
