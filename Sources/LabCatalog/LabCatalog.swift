/// Every lab built into `curriculum-labs`, in plan order. Each lab declares its own `info`
/// beside its `run`; `scripts/generate-labs.sh` copies those declarations here
/// (LabCatalog+Generated.swift), already in the order of curriculum.yaml, so the tracker
/// knows the labs without linking their code and does no sorting at start-up.
public enum LabCatalog {
    public static let all: [LabInfo] = generated

    private static let byID: [String: LabInfo] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lab(_ id: String) -> LabInfo? { byID[id] }
}
