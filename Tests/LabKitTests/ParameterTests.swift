import LabCatalog
import Testing

@Suite struct ParameterTests {
    let info = LabInfo(
        id: "demo", title: "Demo", phase: 4, teaches: "nothing",
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

    /// Knob names are kebab-case; an old snake_case spelling is refused with the new name.
    @Test func snakeCaseNamesAreRefusedWithTheKebabCaseOne() {
        let jobs = LabInfo(
            id: "jobs", title: "Jobs", phase: 8, teaches: "nothing",
            parameters: [LabParameter("job-ms", .int(min: 0, max: 10), default: "3", help: "ms")],
            source: "Sources/Labs/Jobs.swift")
        #expect(throws: LabParameterError.self) { try jobs.resolve(parameters: ["job_ms": "5"], quick: false) }
        do {
            _ = try jobs.resolve(parameters: ["job_ms": "5"], quick: false)
        } catch {
            #expect(error.description == "lab jobs has no parameter job_ms; knob names are kebab-case: use --param job-ms=5")
        }
    }

    /// Every lab in the catalogue spells its knobs in kebab-case.
    @Test func everyCatalogueKnobIsKebabCase() {
        for lab in LabCatalog.all {
            for p in lab.parameters {
                #expect(p.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(lab.id): \(p.name)")
            }
        }
    }
}
