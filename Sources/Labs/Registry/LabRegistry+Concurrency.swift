import LabKit

extension LabRegistry {
    static let concurrency: [any Lab.Type] = []
}
