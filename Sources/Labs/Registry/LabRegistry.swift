import AuthLabs
import CacheLabs
import ConcurrencyLabs
import DataLabs
import GRPCLabs
import HTTPLabs
import LabKit
import NativeLabs
import QueueLabs

/// Every lab implementation, found by id: the families' own lists (each generated from
/// the `Lab` types in its folder by scripts/generate-labs.sh), in plan order.
public enum LabRegistry {
    /// Each family lists its labs in plan order; merged here by the generated catalogue's
    /// order, which is the plan's (curriculum.yaml) across families. A lab the catalogue does
    /// not know yet comes last, and a test asks for scripts/generate-labs.sh.
    public static let all: [any Lab.Type] = {
        let families: [any Lab.Type] =
            HTTPLabs.labs + DataLabs.labs + ConcurrencyLabs.labs + QueueLabs.labs + CacheLabs.labs + AuthLabs.labs + NativeLabs.labs + GRPCLabs.labs
        let rank = Dictionary(LabCatalog.all.enumerated().map { ($1.id, $0) }, uniquingKeysWith: min)
        return families.enumerated()
            .sorted { (rank[$0.element.id] ?? Int.max, $0.offset) < (rank[$1.element.id] ?? Int.max, $1.offset) }
            .map(\.element)
    }()

    private static let byID: [String: any Lab.Type] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> (any Lab.Type)? { byID[id] }
}
