import LabCatalog
import Testing

@Suite struct ParameterTests {
    let info = LabInfo(id: "demo", title: "Demo", phase: 4, teaches: "nothing",
                       parameters: [LabParameter("threads", .int(min: 1, max: 64), default: "8", quick: "2", help: "threads")],
                       source: "Sources/Labs/Demo.swift")

    @Test func defaultsAndQuickValues() throws {
        #expect(try info.resolve(parameters: [:], quick: false) == ["threads": "8"])
        #expect(try info.resolve(parameters: [:], quick: true) == ["threads": "2"])
        #expect(try info.resolve(parameters: ["threads": "16"], quick: true) == ["threads": "16"])
    }

    @Test(arguments: [["threads": "0"], ["threads": "x"], ["thread": "4"]])
    func refusedValuesNameWhatIsAllowed(_ given: [String: String]) {
        #expect(throws: LabParameterError.self) { try info.resolve(parameters: given, quick: false) }
    }

    @Test func unknownParameterListsTheKnownOnes() {
        do {
            _ = try info.resolve(parameters: ["thread": "4"], quick: false)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("its parameters are: threads"))
        }
    }
}
