import Foundation
import LabCatalog
import LabKit
import Labs
import Testing

// The labs declare themselves (DESIGN.md §4): each lab's file holds its `info`, and
// scripts/generate-labs.sh derives two things from the files, the families' Registry.swift
// lists and the tracker's catalogue (LabCatalog+Generated.swift). These tests fail when
// either is stale, so a lab added, changed or moved without running the script is caught.

/// The package root: the working directory `swift test` runs in, else found from this file.
let packageRoot: URL = {
    let fm = FileManager.default
    let cwd = URL(fileURLWithPath: fm.currentDirectoryPath, isDirectory: true)
    if fm.fileExists(atPath: cwd.appendingPathComponent("Package.swift").path),
        fm.fileExists(atPath: cwd.appendingPathComponent("Sources/Labs").path)
    {
        return cwd
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}()

let regenerate = "run scripts/generate-labs.sh"

/// A type's name as written in its declaration.
func typeName(_ type: any Lab.Type) -> String {
    String(String(describing: type).split(separator: ".").last ?? "")
}

/// Swift source without its comments: a type named in a comment is not a declaration.
func withoutComments(_ text: String) throws -> String {
    try text.replacing(Regex(#"/\*[\s\S]*?\*/"#), with: " ").replacing(Regex("//[^\n]*"), with: "")
}

/// Names of the types a source text declares (or extends) conforming to `Lab`.
func labTypes(inSource text: String) throws -> [String] {
    let declaration = try Regex(
        #"(?m)^[ \t]*(?:(?:public|package|internal|fileprivate|private|final|@\w+)\s+)*"#
            + #"(?:struct|class|enum|actor|extension)\s+([A-Za-z_]\w*)\s*(?:<[^>{]*>)?\s*:\s*([^{]*)\{"#)
    return try withoutComments(text).matches(of: declaration).compactMap { match in
        guard let name = match.output[1].substring, let list = match.output[2].substring else { return nil }
        let conformances = (list.split(separator: "where").first ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return conformances.contains("Lab") || conformances.contains("LabKit.Lab") ? String(name) : nil
    }
}

/// The `Lab` types declared in a family's folder, outside its Registry.swift.
func labTypes(inFolder folder: URL) throws -> [String] {
    let registry = folder.appendingPathComponent("Registry.swift").standardizedFileURL.path
    guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else {
        throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: folder.path])
    }
    var types: [String] = []
    for case let file as URL in files where file.pathExtension == "swift" && file.standardizedFileURL.path != registry {
        types += try labTypes(inSource: String(contentsOf: file, encoding: .utf8))
    }
    return types
}

@Suite struct RegistryTests {
    @Test func everyCatalogueEntryHasAnImplementationAndBack() {
        let catalogue = Set(LabCatalog.all.map(\.id))
        let implemented = Set(LabRegistry.all.map { $0.id })
        #expect(catalogue == implemented)
        #expect(LabRegistry.all.count == implemented.count, "two implementations share an id")
    }

    @Test func theGeneratedCatalogueIsEveryLabsOwnDeclarationInOrder() {
        let declared = LabRegistry.all.map { $0.info }
        let generated = LabCatalog.all
        #expect(!declared.isEmpty)
        #expect(
            generated.map(\.id) == declared.map(\.id),
            "LabCatalog+Generated.swift does not list the labs the registry has, in its order: \(regenerate)")
        for (copy, lab) in zip(generated, declared) {
            #expect(copy == lab, "LabCatalog+Generated.swift differs from \(lab.id)'s own info: \(regenerate)")
        }
    }

    @Test(arguments: LabRegistry.all.map { $0.id })
    func everyLabsSourceIsTheFileThatDeclaresIt(id: String) throws {
        let type = try #require(LabRegistry.lab(id))
        let source = type.info.source
        #expect(source.hasPrefix("Sources/Labs/") && source.hasSuffix(".swift"), "\(id): source \(source)")
        let file = packageRoot.appendingPathComponent(source)
        #expect(FileManager.default.fileExists(atPath: file.path), "\(id): its source \(source) does not exist")
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        let declared = try labTypes(inSource: String(contentsOf: file, encoding: .utf8))
        #expect(declared.contains(typeName(type)), "\(id): \(source) does not declare \(typeName(type)): \(declared)")
    }

    @Test func everyFamilyRegistryListsExactlyTheLabTypesInItsFolder() throws {
        let labsFolder = packageRoot.appendingPathComponent("Sources/Labs", isDirectory: true)
        let families = try FileManager.default.contentsOfDirectory(atPath: labsFolder.path).filter { name in
            var isFolder: ObjCBool = false
            return name != "Registry"
                && FileManager.default.fileExists(atPath: labsFolder.appendingPathComponent(name).path, isDirectory: &isFolder)
                && isFolder.boolValue
        }.sorted()
        #expect(families.contains("Data") && families.contains("Concurrency"), "families found: \(families)")

        let rank = Dictionary(LabCatalog.all.enumerated().map { ($1.id, $0) }, uniquingKeysWith: min)
        let idOfType = Dictionary(LabRegistry.all.map { (typeName($0), $0.id) }, uniquingKeysWith: { a, _ in a })
        let listing = try Regex(#"([A-Za-z_]\w*)\.self"#)
        var everyType: [String] = []
        for family in families {
            let folder = labsFolder.appendingPathComponent(family, isDirectory: true)
            let declared = try labTypes(inFolder: folder)
            let registryFile = folder.appendingPathComponent("Registry.swift")
            let registry = try String(contentsOf: registryFile, encoding: .utf8)
            let listed = try withoutComments(registry).matches(of: listing).compactMap { $0.output[1].substring.map(String.init) }
            #expect(
                listed.sorted() == declared.sorted(),
                "Sources/Labs/\(family)/Registry.swift lists \(listed.sorted()), the folder declares \(declared.sorted()): \(regenerate)")
            #expect(registry.contains("public enum \(family)Labs {"), "Sources/Labs/\(family)/Registry.swift: \(regenerate)")
            let ranks = listed.map { idOfType[$0].flatMap { rank[$0] } ?? Int.max }
            #expect(ranks == ranks.sorted(), "Sources/Labs/\(family)/Registry.swift is not in plan order: \(regenerate)")
            everyType += declared
        }
        #expect(
            LabRegistry.all.map(typeName).sorted() == everyType.sorted(),
            "LabRegistry.all should be every family's labs (Sources/Labs/Registry/LabRegistry.swift)")
    }
}
