import Foundation
import PostgresNIO

/// One node of a plan from `EXPLAIN (FORMAT JSON)`, with its children: what PostgreSQL
/// decided to do ("Seq Scan", "Index Scan", "Bitmap Heap Scan" …) and, with ANALYZE, what
/// it found doing it.
public struct PGPlan: Sendable, Equatable {
    public var nodeType: String
    public var relation: String?
    public var indexName: String?
    /// With ANALYZE: rows the node returned (per loop) and rows its filter threw away.
    public var actualRows: Double?
    public var rowsRemovedByFilter: Double?
    public var children: [PGPlan]
    /// Top level only, with ANALYZE: milliseconds the executor ran.
    public var executionTime: Double?

    /// This node and all below it, depth first.
    public var allNodes: [PGPlan] { [self] + children.flatMap(\.allNodes) }
    public var nodeTypes: [String] { allNodes.map(\.nodeType) }
    /// Node types in one line, e.g. "Aggregate > Bitmap Heap Scan > Bitmap Index Scan".
    public var summary: String { nodeTypes.joined(separator: " > ") }

    /// The index names any node of the plan used.
    public var indexesUsed: Set<String> { Set(allNodes.compactMap(\.indexName)) }

    /// Parses the text `EXPLAIN (FORMAT JSON)` returns: an array with one object whose "Plan"
    /// is the root node.
    public static func parse(json: String) throws -> PGPlan {
        let any = try JSONSerialization.jsonObject(with: Data(json.utf8))
        guard let top = (any as? [Any])?.first as? [String: Any], let root = top["Plan"] as? [String: Any] else {
            throw LabError("EXPLAIN output is not a JSON plan: \(json.prefix(120))")
        }
        var plan = try node(root)
        plan.executionTime = top["Execution Time"] as? Double
        return plan
    }

    private static func node(_ dict: [String: Any]) throws -> PGPlan {
        guard let type = dict["Node Type"] as? String else { throw LabError("a plan node has no Node Type") }
        let kids = (dict["Plans"] as? [[String: Any]]) ?? []
        return PGPlan(
            nodeType: type, relation: dict["Relation Name"] as? String, indexName: dict["Index Name"] as? String,
            actualRows: (dict["Actual Rows"] as? NSNumber)?.doubleValue,
            rowsRemovedByFilter: (dict["Rows Removed by Filter"] as? NSNumber)?.doubleValue,
            children: try kids.map(node), executionTime: nil)
    }
}

extension PGSession {
    /// Runs `EXPLAIN (<options>, FORMAT JSON) <sql>` and parses the plan. `sql` is sent as
    /// written (no parameters): pass only the lab's own statements.
    public func explain(_ sql: String, analyze: Bool = true) async throws -> PGPlan {
        let options = analyze ? "ANALYZE, BUFFERS, FORMAT JSON" : "FORMAT JSON"
        let text = try await scalar(PostgresQuery(unsafeSQL: "EXPLAIN (\(options)) \(sql)"), as: String.self)
        return try PGPlan.parse(json: text)
    }
}
