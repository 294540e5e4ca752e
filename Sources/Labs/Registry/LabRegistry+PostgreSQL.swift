import LabKit

extension LabRegistry {
    static let postgres: [any Lab.Type] = [
        PostgresSetupLab.self, SchemaNormalizationLab.self, SQLMasteryLab.self, TransactionsIsolationLab.self,
        QueryPlansLab.self, OLAPSchemaLab.self, JSONBLab.self, BackgroundJobsLab.self,
    ]
}
