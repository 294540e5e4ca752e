import LabKit

extension LabRegistry {
    static let postgres: [any Lab.Type] = []
}
