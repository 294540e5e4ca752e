import ConcurrencyLabs
import DataLabs
import HTTPLabs
import LabKit

/// Every lab implementation, found by id: the families' own lists (each generated from
/// the `Lab` types in its folder by scripts/generate-labs.sh), in plan order.
public enum LabRegistry {
    public static let all: [any Lab.Type] = HTTPLabs.labs + DataLabs.labs + ConcurrencyLabs.labs

    private static let byID: [String: any Lab.Type] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> (any Lab.Type)? { byID[id] }
}
