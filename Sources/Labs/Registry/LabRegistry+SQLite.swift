import LabKit

extension LabRegistry {
    static let sqlite: [any Lab.Type] = [
        ORMLab.self,
        MigrationsLab.self,
        DenormalizationLab.self,
        ReadCachingLab.self,
        IdempotencyLab.self,
        EventSourcingLab.self,
    ]
}
