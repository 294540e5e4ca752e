// swift-tools-version:6.1
// Two executables share one package: `curriculum` (the tracker: argument parser, Yams,
// SQLite and nothing heavy, so it builds in about a minute) and `curriculum-labs` (the lab
// kit and every lab, which may pull in server packages). The tracker runs the labs as a
// child process; both link `LabCatalog`, the labs' metadata, so the validator and
// `lab list` never need the lab code.
import PackageDescription

// Lab families whose own code orchestrates (starts servers, sends requests, compares the
// answers) while the work they time runs in packages, servers and C++ that are optimised:
// built without optimisation in release builds too, as in the debug builds the tests and
// `swift run` use. It takes about 100 of the 1,733 CPU-seconds of a clean release build of
// everything off (README "Build times"). ConcurrencyLabs stays optimised: what its labs time
// is their own Swift.
let unoptimisedInRelease: [SwiftSetting] = [.unsafeFlags(["-Onone"], .when(configuration: .release))]

let package = Package(
    name: "curriculum",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "curriculum", targets: ["curriculum"]),
        .executable(name: "curriculum-labs", targets: ["curriculum-labs"]),
        .library(name: "CurriculumKit", targets: ["CurriculumKit"]),
        .library(name: "LabKit", targets: ["LabKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Without its default trait ConfigurationSupport (swift-configuration's readers), which
        // nothing here uses: one package fewer to build.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // swift-crypto 4: jwt-kit 5.8.0 asks for 4.1.0..<6.0.0.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        // Phase 9: gRPC over HTTP/2 (NIO) with protobuf messages; the generated code is committed
        // (scripts/generate-grpc.sh), so no build plugin and no protoc at build time.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Metadata of every lab (ids, titles, tasks, parameters, needs): no lab code.
        .target(name: "LabCatalog"),
        // Starting a child program (posix_spawn, every inherited descriptor closed): the one
        // spawner the tracker and the lab kit share.
        .target(name: "Spawn"),
        // The tracker's logic: plan, graph, store, exports. Knows nothing of the CLI.
        .target(
            name: "CurriculumKit",
            dependencies: [
                "LabCatalog", "Spawn",
                .product(name: "Yams", package: "Yams"),
                // SQLite's C API only (GRDB's module for it): the store is a few statements.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // One static executable in release builds (the Swift runtime, Foundation, SQLite and
        // glibc inside, no dynamic loader): a command spends most of its time starting up,
        // and loading and binding a dozen shared libraries at every launch cost more than
        // all its work (bench/RESULTS.md). It runs on the glibc it was built against.
        .executableTarget(
            name: "curriculum",
            dependencies: [
                "CurriculumKit", "LabCatalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Release only: tests link the debug module into their bundle, which must stay
            // dynamic. The compiler needs the flag too (it records which libraries to link).
            swiftSettings: [.unsafeFlags(["-static-executable"], .when(configuration: .release))],
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(configuration: .release))]
        ),
        // The lab kit: runner, report, checks, knobs, subjects, scratch folders, throwaway
        // servers (Servers/), clients (Clients/), and what several labs of a family share.
        .target(
            name: "LabKit",
            dependencies: [
                "LabCatalog", "Spawn", "CRabbitMQ",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The labs, one target per family (DESIGN.md §4), one folder per phase inside it and
        // one file per lab: each family links only what it needs, and its labs' types stay in
        // their own namespace.
        .target(
            name: "DataLabs",
            dependencies: [
                "LabKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Sources/Labs/Data",
            swiftSettings: unoptimisedInRelease
        ),
        .target(
            name: "ConcurrencyLabs",
            dependencies: ["LabKit", .product(name: "AsyncAlgorithms", package: "swift-async-algorithms")],
            path: "Sources/Labs/Concurrency"
        ),
        .target(
            name: "HTTPLabs",
            dependencies: [
                "LabKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Sources/Labs/HTTP",
            // Swift 6.3.1's optimizer crashes on the phase-1 labs' run functions in a release
            // build (SIL ownership verifier, "Found ownership error", signal 6): this family is
            // built unoptimised until the compiler is fixed. Debug builds are unaffected.
            swiftSettings: [.unsafeFlags(["-Onone"], .when(configuration: .release))]
        ),
        .target(
            name: "QueueLabs",
            dependencies: ["LabKit", .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "Sources/Labs/Queue",
            swiftSettings: unoptimisedInRelease
        ),
        // Phase 7: caching and performance on a real Redis, Hummingbird services and SQLite;
        // percentiles from HdrHistogram, gzip through the system zlib.
        .target(
            name: "CacheLabs",
            dependencies: [
                "LabKit", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/Labs/Cache",
            swiftSettings: unoptimisedInRelease
        ),
        // zlib's C API (deflate/inflate with a gzip header), from the system (zlib1g-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Phase 3: auth and security, on the bookshelf of HTTPLabs (JWTs, roles, TLS,
        // injection, refresh tokens, rate limits).
        .target(
            name: "AuthLabs",
            dependencies: [
                "LabKit", "HTTPLabs",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Sources/Labs/Auth",
            swiftSettings: unoptimisedInRelease
        ),
        // Phase 5: C++17 sources (Phase05/cpp, embedded into the binary by scripts/embed-cpp.sh)
        // compiled at run time by the kit's CppBuild; cpp-rest-api reuses HTTPLabs' checks.
        .target(
            name: "NativeLabs",
            dependencies: [
                "LabKit", "HTTPLabs",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Sources/Labs/Native",
            exclude: ["Phase05/cpp"],
            swiftSettings: unoptimisedInRelease
        ),
        // Phase 9: Protocol Buffers and gRPC. bookshelf.proto (Proto/) and the Swift generated
        // from it (Generated/, by scripts/generate-grpc.sh, committed); the C++ twin (Phase09/cpp)
        // is generated by protoc at run time, compiled by the kit's CppBuild and run as
        // NativeLabs' NativeServer; grpc-vs-rest puts HTTPLabs' REST bookshelf beside the gRPC
        // one; grpc-tls makes its CA with AuthLabs' LabPKI (swift-certificates).
        .target(
            name: "GRPCLabs",
            dependencies: [
                "LabKit", "HTTPLabs", "NativeLabs", "AuthLabs",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Sources/Labs/GRPC",
            exclude: ["Proto", "Phase09/cpp"],
            swiftSettings: unoptimisedInRelease
        ),
        // Every family's labs, found by id.
        .target(
            name: "Labs", dependencies: ["LabKit", "DataLabs", "ConcurrencyLabs", "HTTPLabs", "AuthLabs", "NativeLabs", "CacheLabs", "QueueLabs", "GRPCLabs"],
            path: "Sources/Labs/Registry"),
        .executableTarget(name: "curriculum-labs", dependencies: ["Labs", "LabKit", "LabCatalog", "CLabSupport"]),
        // prctl(2) for curriculum-labs (a variadic C call Swift cannot make).
        .target(name: "CLabSupport"),
        // AMQP 0-9-1 through librabbitmq, the maintained C client (Debian librabbitmq-dev).
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .testTarget(name: "CurriculumKitTests", dependencies: ["CurriculumKit"], exclude: ["Fixtures"]),
        .testTarget(
            name: "LabKitTests", dependencies: ["LabKit", "LabCatalog", .product(name: "PostgresNIO", package: "postgres-nio")], exclude: ["Fixtures"]),
        .testTarget(name: "LabsTests", dependencies: ["Labs", "LabKit", "LabCatalog"]),
        .testTarget(
            name: "DataLabsTests",
            dependencies: ["DataLabs", "LabKit", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ConcurrencyLabsTests", dependencies: ["ConcurrencyLabs", "LabKit"]),
        .testTarget(name: "HTTPLabsTests", dependencies: ["HTTPLabs", "LabKit", "LabCatalog"], exclude: ["Fixtures"]),
        .testTarget(name: "QueueLabsTests", dependencies: ["QueueLabs", "LabKit"]),
        .testTarget(name: "CacheLabsTests", dependencies: ["CacheLabs", "LabKit", "LabCatalog"], exclude: ["Fixtures"]),
        .testTarget(name: "AuthLabsTests", dependencies: ["AuthLabs", "HTTPLabs", "LabKit", "LabCatalog"], exclude: ["Fixtures"]),
        .testTarget(name: "NativeLabsTests", dependencies: ["NativeLabs", "LabKit", "LabCatalog"], exclude: ["Fixtures"]),
        .testTarget(
            name: "GRPCLabsTests",
            dependencies: [
                "GRPCLabs", "LabKit", "LabCatalog", "AuthLabs",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]),
        .testTarget(name: "CLITests", dependencies: ["CurriculumKit", "curriculum"]),
    ]
)
