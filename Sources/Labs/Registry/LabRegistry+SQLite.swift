import LabKit

extension LabRegistry {
    static let sqlite: [any Lab.Type] = []
}
