// The C++ twin of the bookshelf (Phase09/cpp/bookshelf-grpc/main.cpp): the lab runs Debian's
// protoc with grpc_cpp_plugin on bookshelf.proto to get the C++ messages and stubs, and compiles
// them with the program through the kit's CppBuild (`pkg-config grpc++ protobuf`, cached by
// content: a second run compiles nothing). One binary is both server and client.
import Foundation
import LabKit
import NativeLabs

enum CppGRPC {
    static let need = LabNeed(
        "gRPC for C++", programs: ["protoc", "grpc_cpp_plugin", "pkg-config"],
        packages: ["g++", "libgrpc++-dev", "protobuf-compiler-grpc", "protobuf-compiler", "pkg-config"])

    /// Generates the C++ from the .proto and compiles the program (or finds it in the cache);
    /// records the "compiles" check, and returns nil when the compiler refused it.
    static func build(_ lab: LabContext) async throws -> CppBuild.Executable? {
        guard let protoc = ProgramFinder.locate("protoc"), let plugin = ProgramFinder.locate("grpc_cpp_plugin") else {
            throw LabUnavailable(need, detail: "protoc and grpc_cpp_plugin generate the C++ from bookshelf.proto")
        }
        let folder = lab.scratch.appendingPathComponent("cpp-generated", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(BookshelfProto.text.utf8).write(to: folder.appendingPathComponent(BookshelfProto.fileName))
        let arguments = [
            "-I", folder.path, "--cpp_out=\(folder.path)", "--grpc_out=\(folder.path)",
            "--plugin=protoc-gen-grpc=\(plugin)", folder.appendingPathComponent(BookshelfProto.fileName).path,
        ]
        let generated = try await Subprocess.capture(protoc, arguments, timeout: 60)
        guard generated.termination.succeeded else {
            throw LabError("protoc failed on bookshelf.proto (\(generated.termination)): \(generated.output)")
        }
        func file(_ name: String) throws -> CppBuild.File {
            CppBuild.File(name, try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
        guard let main = CppSources.files["bookshelf-grpc/main.cpp"] else {
            preconditionFailure("no embedded bookshelf-grpc/main.cpp; run scripts/embed-cpp.sh")
        }
        lab.step(
            "Generated the C++ from bookshelf.proto",
            "protoc --cpp_out --grpc_out (grpc_cpp_plugin): bookshelf.pb.h/.cc (messages) and bookshelf.grpc.pb.h/.cc (the Bookshelf::Service base class and the Bookshelf::Stub client)"
        )
        let build = CppBuild(
            name: "bookshelf_grpc",
            sources: [CppBuild.File("main.cpp", main), try file("bookshelf.pb.cc"), try file("bookshelf.grpc.pb.cc")],
            headers: [try file("bookshelf.pb.h"), try file("bookshelf.grpc.pb.h")],
            pkgConfig: ["grpc++", "protobuf"])
        return try await lab.compile(build, check: "the C++ server and client compile from the generated code")
    }

    /// Starts the C++ server on a free port (stopped by the run's clean-up).
    static func startServer(_ lab: LabContext, _ program: CppBuild.Executable, fault: String? = nil) async throws -> NativeServer {
        try await NativeServer.start(lab, program, ["server"], environment: fault.map { ["LAB_BREAK": $0] } ?? [:])
    }

    /// Runs the C++ client against host:port and returns its transcript's lines.
    static func client(_ program: CppBuild.Executable, host: String, port: Int) async throws -> [String] {
        let run = try await Subprocess.capture(program.url.path, ["client", "\(host):\(port)"], timeout: 60)
        guard run.termination.succeeded else {
            return ["the C++ client \(run.termination): " + run.output.split(separator: "\n").suffix(5).joined(separator: " / ")]
        }
        return run.output.split(separator: "\n").map(String.init)
    }
}
