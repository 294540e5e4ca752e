import LabCatalog
import LabKit

/// Every lab implementation, found by id. Each group of labs lists its types in its own
/// `LabRegistry+Group.swift`; a test checks this matches `LabCatalog.all` exactly.
public enum LabRegistry {
    public static let all: [any Lab.Type] = concurrency + sqlite + postgres

    private static let byID: [String: any Lab.Type] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> (any Lab.Type)? { byID[id] }
}
