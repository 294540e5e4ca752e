extension LabCatalog {
    static let concurrency: [LabInfo] = []
}
