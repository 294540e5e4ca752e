extension LabCatalog {
    static let sqlite: [LabInfo] = []
}
