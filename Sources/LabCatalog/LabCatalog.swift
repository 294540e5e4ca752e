/// Every lab built into `curriculum-labs`, in plan order. Each group of labs adds its
/// entries in its own `LabCatalog+Group.swift` file.
public enum LabCatalog {
    public static let all: [LabInfo] = {
        // Each lab's place in the plan looked up once, not on every comparison: this list is
        // built on every command's start-up.
        let keyed = (http + concurrency + sqlite + postgres).map { (phase: $0.phase, order: order($0.id), lab: $0) }
        return keyed.sorted { ($0.phase, $0.order) < ($1.phase, $1.order) }.map(\.lab)
    }()

    private static let byID: [String: LabInfo] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> LabInfo? { byID[id] }

    /// Every lab of LABS.md, in the plan's order; the catalogue sorts by it.
    public static let plannedOrder: [String] = [
        "rest-api", "layered-architecture", "dtos", "logging-errors", "openapi-docs",
        "postgres-setup", "schema-normalization", "sql-mastery", "transactions-isolation", "orm", "query-plans",
        "jwt-auth", "rbac", "https-tls", "input-validation", "token-refresh", "rate-limiting",
        "coroutines", "thread-pools", "coroutines-vs-threads", "shared-resources", "concurrent-services",
        "cpp-rest-api", "cpp-libpqxx", "raw-sockets", "memory-pools", "cpp-threads", "multi-client-server",
        "olap-schema", "jsonb", "denormalization", "migrations", "read-caching",
        "redis-pubsub", "redis-sessions", "n-plus-one", "endpoint-benchmarks", "http-tuning", "preloading",
        "task-queue", "pubsub-notifications", "background-jobs", "retries-dlq",
        "proto-schemas", "grpc-codegen", "grpc-vs-rest", "grpc-streaming", "grpc-tls",
        "api-design", "microservices", "idempotency", "event-sourcing", "load-resilience",
        "knowledge-api", "knowledge-api-auth", "knowledge-api-search", "knowledge-api-versioning",
        "trading-engine", "order-book", "trading-grpc", "async-backend", "architecture-docs", "package-libraries",
    ]

    private static func order(_ id: String) -> Int { plannedOrder.firstIndex(of: id) ?? Int.max }
}

extension LabCatalog {
    /// Bridge for labs whose declaration has not moved into their own file yet.
    public static func entry(_ id: String) -> LabInfo {
        lab(id) ?? LabInfo(id: id, title: id, phase: 0, teaches: "", source: "")
    }
}
