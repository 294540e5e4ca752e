extension LabCatalog {
    static let postgres: [LabInfo] = []
}
