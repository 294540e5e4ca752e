import Foundation
import Testing

@testable import CurriculumKit

@Suite struct PlanCacheTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plan-cache-\(UUID().uuidString)")

    @Test func theBuiltInPlanIsCachedByItsContent() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let env = ["XDG_CACHE_HOME": folder.path]
        let first = PlanCache.loadBuiltIn(text: BuiltInPlan.text, file: "built-in", knownLabs: Tracker.knownLabs, environment: env)
        let cached = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/curriculum")
        #expect(cached.count == 1)
        let second = PlanCache.loadBuiltIn(text: BuiltInPlan.text, file: "built-in", knownLabs: Tracker.knownLabs, environment: env)
        #expect(second.plan?.tasks == first.plan?.tasks)
        #expect(second.plan?.phases == first.plan?.phases)
        #expect(second.warnings.map(\.message) == first.warnings.map(\.message))
        // Another text is another cache entry, never the old copy.
        let edited = BuiltInPlan.text.replacingOccurrences(of: "title: Backend Development Studies", with: "title: Edited")
        let other = PlanCache.loadBuiltIn(text: edited, file: "built-in", knownLabs: Tracker.knownLabs, environment: env)
        #expect(other.plan?.title == "Edited")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/curriculum").count == 2)
    }

    @Test func anEditedPlanFileIsNeverReadFromAStaleCache() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let env = ["XDG_CACHE_HOME": folder.path]
        let path = folder.appendingPathComponent("curriculum.yaml").path
        let text = "schema: 1\nid: p\ntitle: One\nphases:\n  - id: ph\n    number: 1\n    title: P\n    tasks:\n      - id: t\n        title: T\n"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try PlanCache.load(path: path, knownLabs: [], environment: env).plan?.title == "One")
        // Same size, same second: only the content tells them apart.
        try text.replacingOccurrences(of: "title: One", with: "title: Two").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try PlanCache.load(path: path, knownLabs: [], environment: env).plan?.title == "Two")
    }
}
