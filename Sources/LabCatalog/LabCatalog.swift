/// Every lab built into `curriculum-labs`, in plan order. Each lab declares its own `info`
/// beside its `run`; `scripts/generate-labs.sh` copies those declarations here
/// (LabCatalog+Generated.swift), already in the order of curriculum.yaml, so the tracker
/// knows the labs without linking their code and does no sorting at start-up.
public enum LabCatalog {
    public static let all: [LabInfo] = generated

    private static let byID: [String: LabInfo] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> LabInfo? { byID[id] }
}

// removed once every lab declares its info
extension LabCatalog {
    /// Bridge for labs whose declaration has not moved into their own file yet: their
    /// hand-kept metadata, which the generator copies into the catalogue like any other.
    public static func entry(_ id: String) -> LabInfo {
        pending.first { $0.id == id } ?? LabInfo(id: id, title: id, phase: 0, teaches: "", source: "")
    }

    private static let pending: [LabInfo] = [
        LabInfo(
            id: "schema-normalization", title: "From a flat sheet to third normal form", phase: 2,
            teaches: "A flat orders table repeats customer facts on every row, so one careless update leaves them disagreeing; in 3NF each fact lives once, keys and foreign keys refuse orphans, and reports still agree.",
            parameters: [
                LabParameter("orders", .int(min: 10, max: 200_000), default: "5000", quick: "300",
                             help: "orders in the flat sheet"),
                LabParameter("customers", .int(min: 2, max: 10_000), default: "200", quick: "30",
                             help: "distinct customers the orders belong to"),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "42", help: "seed of the generated sheet"),
            ],
            needs: [.postgres], source: "Sources/Labs/Data/Phase02/SchemaNormalization.swift"
        ),
        LabInfo(
            id: "sql-mastery", title: "Ten graded SQL queries", phase: 2,
            teaches: "Joins, outer joins, GROUP BY … HAVING, correlated and EXISTS subqueries, window functions and CTEs, each graded against the same answer computed in plain Swift.",
            parameters: [
                LabParameter("customers", .int(min: 10, max: 50_000), default: "2000", quick: "80",
                             help: "customers in the seeded shop (orders and items grow with it)"),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "7", help: "seed of the shop dataset"),
            ],
            needs: [.postgres], source: "Sources/Labs/Data/Phase02/SQLMastery.swift"
        ),
    ]
}
