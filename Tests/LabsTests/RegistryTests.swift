import LabCatalog
import LabKit
import Labs
import Testing

@Suite struct RegistryTests {
    @Test func everyCatalogueEntryHasAnImplementationAndBack() {
        let catalogue = Set(LabCatalog.all.map(\.id))
        let implemented = Set(LabRegistry.all.map { $0.id })
        #expect(catalogue == implemented)
        #expect(LabRegistry.all.count == implemented.count, "two implementations share an id")
    }
}
