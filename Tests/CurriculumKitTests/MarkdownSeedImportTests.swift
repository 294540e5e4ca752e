import Foundation
import Testing

@testable import CurriculumKit

// The seed note, copied byte for byte into Fixtures/, and small notes of the same shape.

/// Reads a fixture next to this file.
func markdownFixture(_ name: String, filePath: String = #filePath) throws -> Data {
    let url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
    return try Data(contentsOf: url)
}

/// The seed imported, as the tests below see it.
func importedSeed() throws -> ImportedNote {
    try NoteImporter.importNote(
        data: markdownFixture("backend-development-studies.md"),
        file: "backend-development-studies.md")
}

/// The seed's 58 task titles in order, as written in the note without the `**` markers
/// (extracted independently from the note with a regular expression, not by the importer).
let seedTitles: [String] = [
    // 🏗️ Phase 1: Building REST APIs with Production Structure
    "Create a REST API in Kotlin with Ktor (or Java Spring if necessary)",
    "Design a layered architecture (Controller, Service, Repository)",
    "Use DTOs for communication",
    "Configure logging and exception handling properly",
    "Add Swagger/OpenAPI documentation",
    // 🗃️ Phase 2: Relational Database Mastery
    "Install and use PostgreSQL (or MariaDB/MySQL as alt)",
    "Model real-world schemas with proper normalization",
    "Master SQL: `JOIN`, `GROUP BY`, subqueries, indexing",
    "Understand Transactions and Isolation Levels",
    "Use ORM (Hibernate/JPA or Kotlin Exposed DSL) effectively",
    "Write efficient queries with query plans",
    // 🔄 Phase 3: Authentication & Security in Backend
    "Implement JWT-based authentication",
    "Secure API routes with role-based access",
    "Use HTTPS and understand TLS basics",
    "Handle input validation and escaping (SQLi, XSS protection)",
    "Build token refresh and expiration logic",
    "Rate limiting (e.g., using Redis or middleware)",
    // 🧵 Phase 4: Async, Concurrency, and Multithreading
    "Use Kotlin Coroutines (`suspend`, `flow`, `channel`) properly",
    "Understand thread pools and context propagation",
    "Benchmark coroutines vs threads",
    "Handle shared resources (mutex, atomic counters)",
    "Design concurrent-safe service layers",
    // 📡 Phase 5: C++ Backend Systems & Low-Level Backend
    "Write a REST API in C++ using `cpp-httplib` or `crowcpp`",
    "Use libpqxx to connect PostgreSQL to your C++ backend",
    "Understand raw sockets and TCP/IP",
    "Implement custom memory allocators and pools",
    "Write multithreaded code with `std::thread`, `std::mutex`, `std::condition_variable`",
    "Build a custom web server handling multiple clients",
    // 🧠 Phase 6: Advanced Data Design & Storage
    "Design schema for analytical workloads (OLAP)",
    "Use JSONB in PostgreSQL for semi-structured data",
    "Study normalization vs denormalization tradeoffs",
    "Handle migrations properly (Flyway or Liquibase)",
    "Experiment with caching reads (Redis or in-memory)",
    // ⚙️ Phase 7: Caching and Performance Tuning
    "Integrate Redis for caching and pub/sub",
    "Use Redis to cache queries and sessions",
    "Profile SQL queries and reduce n+1 problems",
    "Benchmark API endpoints (JMH for JVM, Google Benchmark for C++)",
    "Enable HTTP compression, connection pooling, and keep-alive",
    "Preload frequently accessed data in memory",
    // 📬 Phase 8: Message Queues and Async Processing
    "Use RabbitMQ or Kafka to queue long tasks",
    "Design pub/sub consumers for notification systems",
    "Implement background job processing system",
    "Handle retries, DLQ (Dead Letter Queues), and backpressure",
    // 📜 Phase 9: Protocol Buffers & gRPC
    "Define `.proto` schemas",
    "Generate gRPC clients and servers in Kotlin and C++",
    "Compare gRPC vs REST performance",
    "Use streaming RPCs for real-time data exchange",
    "Secure gRPC with TLS",
    // 🧬 Phase 10: System Design & Scalable Backend Thinking
    "Design REST APIs for real-world systems (e.g., ride sharing, auth service, etc.)",
    "Split a monolith into microservices (theoretical & practical)",
    "Design idempotent services and retry logic",
    "Apply event sourcing or CQRS in system designs",
    "Work on performance under load (throttling, bulkheads, etc.)",
    // 🚧 Phase 11: Build & Document Serious Projects
    "Build a real knowledge API backend (auth, search, versioned content)",
    "Implement a gRPC-based trading engine in C++",
    "Create an async backend with Kotlin handling thousands of concurrent users",
    "Document your architecture with diagrams and markdown",
    "Package and share your backend libraries or services",
]

let seedPhases: [(number: Int, icon: String, title: String, count: Int)] = [
    (1, "\u{1F3D7}\u{FE0F}", "Building REST APIs with Production Structure", 5),
    (2, "\u{1F5C3}\u{FE0F}", "Relational Database Mastery", 6),
    (3, "\u{1F504}", "Authentication & Security in Backend", 6),
    (4, "\u{1F9F5}", "Async, Concurrency, and Multithreading", 5),
    (5, "\u{1F4E1}", "C++ Backend Systems & Low-Level Backend", 6),
    (6, "\u{1F9E0}", "Advanced Data Design & Storage", 5),
    (7, "\u{2699}\u{FE0F}", "Caching and Performance Tuning", 6),
    (8, "\u{1F4EC}", "Message Queues and Async Processing", 4),
    (9, "\u{1F4DC}", "Protocol Buffers & gRPC", 5),
    (10, "\u{1F9EC}", "System Design & Scalable Backend Thinking", 5),
    (11, "\u{1F6A7}", "Build & Document Serious Projects", 5),
]

@Suite("Markdown import of the seed note")
struct MarkdownSeedImportTests {
    @Test func fixtureIsTheSeedByteForByte() throws {
        let data = try markdownFixture("backend-development-studies.md")
        // The mangled icon of phase 1, exactly as the seed stores it.
        let mangled = Data("\u{F8FF}üèóÔ∏è Phase 1".utf8)
        #expect(data.range(of: mangled) != nil)
        #expect(data.count == 4_707)
    }

    @Test func phasesHaveTheirNumbersRealIconsAndTitles() throws {
        let plan = try importedSeed().plan
        try #require(plan.phases.count == 11)
        for (phase, expected) in zip(plan.phases, seedPhases) {
            #expect(phase.number == expected.number)
            #expect(phase.icon.map { Array($0.unicodeScalars) } == Array(expected.icon.unicodeScalars))
            #expect(phase.title == expected.title)
            #expect(phase.tasks.count == expected.count)
        }
    }

    @Test func tasksAreTheSeedsInOrderAndWording() throws {
        let plan = try importedSeed().plan
        #expect(plan.tasks.count == 58)
        #expect(plan.tasks.map(\.title) == seedTitles)
        // Phase membership and positions agree with the phase lists.
        for (p, phase) in plan.phases.enumerated() {
            for (k, i) in phase.tasks.enumerated() {
                #expect(plan.tasks[i].phase == p)
                #expect(plan.tasks[i].position == k + 1)
            }
        }
        #expect(plan.phases.flatMap(\.tasks) == Array(0..<58))
        // " - [ ] **Implement a gRPC-based trading engine…**" is indented one space: a sibling.
        #expect(plan.tasks.allSatisfy { $0.decomposedFrom == nil })
    }

    @Test func planHeaderComesFromTheNote() throws {
        let note = try importedSeed()
        #expect(note.plan.title == "Backend Development Studies")
        #expect(note.plan.id == "backend-development-studies")
        #expect(note.plan.frontMatter == "sticker: lucide//rocket")
        #expect(note.plan.generatedFrom == "backend-development-studies.md")
        #expect(note.plan.schema == 1)
        #expect(note.plan.start == nil)
        #expect(note.plan.tasks.allSatisfy { $0.due == nil && $0.requires.isEmpty })
        #expect(note.ticked.isEmpty)
        // One warning about the repaired icons, located on phase 1's heading (line 9).
        let repair = note.warnings.filter { $0.message.contains("Mac Roman") }
        #expect(repair.count == 1)
        #expect(repair.first?.location?.line == 9)
        #expect(repair.first?.message.contains("11 lines") == true)
    }

    @Test func idsAreUniqueKebabCaseShortAndStable() throws {
        let first = try importedSeed().plan
        let second = try importedSeed().plan
        let ids = first.phases.map(\.id) + first.tasks.map(\.id)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(PlanValidator.isKebab(id), "\(id)")
            #expect(id.split(separator: "-").count <= 6, "\(id)")
        }
        #expect(second.tasks.map(\.id) == first.tasks.map(\.id))
        #expect(second.phases.map(\.id) == first.phases.map(\.id))
        #expect(second.tasks == first.tasks)
        #expect(second.phases == first.phases)
    }

    @Test func someIdsReadAsExpected() throws {
        let plan = try importedSeed().plan
        let id = { (title: String) in plan.tasks.first { $0.title == title }?.id }
        #expect(id("Implement JWT-based authentication") == "jwt-based-authentication")
        #expect(id("Benchmark coroutines vs threads") == "benchmark-coroutines-vs-threads")
        #expect(id("Create a REST API in Kotlin with Ktor (or Java Spring if necessary)") == "rest-api-kotlin-ktor")
        #expect(id("Define `.proto` schemas") == "proto-schemas")
        #expect(plan.phases[4].id == "cpp-backend-systems-low-level")
    }
}
