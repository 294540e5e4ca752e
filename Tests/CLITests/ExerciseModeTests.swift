import Foundation
import Testing

/// Exercise mode from the command line (DESIGN.md §4): the subject flags are checked
/// before any lab starts, each mistake is one sentence with its exit status.
@Suite("Exercise mode: subjects on the command line") struct ExerciseModeTests {
    static let planWithLabs = LabCommandTests.planWithLabs

    @Test func aLabRefusesASubjectItDoesNotAcceptAndSaysWhatItAccepts() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["lab", "run", "shared-resources", "--url", "http://127.0.0.1:1"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("lab shared-resources does not take --url; it accepts its reference implementation only."), "\(r.stderr)")
        // Nothing ran, so nothing was recorded.
        #expect(try cli.run(["log", "-n", "0", "--json"]).stdout.contains("lab-run") == false)
    }

    @Test func oneSubjectAtATime() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["lab", "run", "rest-api", "--url", "http://127.0.0.1:1", "--against", "true"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("give one subject at a time; --url and --against were both given"), "\(r.stderr)")
        let empty = try cli.run(["lab", "run", "rest-api", "--against", " "])
        #expect(empty.status == 64)
        #expect(empty.stderr.contains("--against needs a value"), "\(empty.stderr)")
    }

    @Test func allRunsTheReferencesOnly() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["lab", "run", "--all", "--url", "http://127.0.0.1:1"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("name the lab that should judge your work"), "\(r.stderr)")
    }

    @Test func aSubjectWithoutVerifyIsAMistake() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        let r = try cli.run(["done", "alpha", "--answers", "a.sql"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--answers names your own work for --verify to judge; add --verify"), "\(r.stderr)")
        #expect(try cli.run(["status"]).stdout.contains("0/"), "nothing was checked off")
    }

    @Test func verifyingWithASubjectTheTasksLabsRefuseChecksNothingOff() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        let r = try cli.run(["done", "alpha", "--verify", "--url", "http://127.0.0.1:1"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("lab coroutines does not take --url"), "\(r.stderr)")
        let list = try cli.run(["list", "--done", "--json"])
        #expect(list.stdout.contains("alpha") == false)
    }

    @Test func labInitNeedsALabWithAnExercise() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["lab", "init", "shared-resources", cli.folder.appendingPathComponent("mine").path])
        #expect(r.status == 64)
        #expect(r.stderr.contains("judges its reference implementation only, so it has no starter folder"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.folder.appendingPathComponent("mine").path))
        let unknown = try cli.run(["lab", "init", "rest-apj"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("did you mean rest-api"), "\(unknown.stderr)")
    }

    @Test func labShowSaysWhichSubjectsALabAccepts() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let show = try cli.run(["lab", "show", "shared-resources"])
        #expect(show.stdout.contains("Judges its reference implementation only"), "\(show.stdout)")
        let json = try cli.run(["lab", "list", "--json"])
        let labs = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(labs.allSatisfy { $0["subjects"] is [String] }, "every lab lists the subjects it accepts")
    }
}

/// A run judging the learner's answers is recorded with its subject, and a failed one
/// verifies nothing. (Needs PostgreSQL, which scripts/install-deps.sh installs.)
@Suite("Exercise mode: the learner's answers, end to end") struct AnswersEndToEndTests {
    static let plan = CLI.fixturePlan
        .replacingOccurrences(of: "title: Alpha task", with: "title: Alpha task\n        labs: [sql-mastery]")

    @Test func theStarterAnswersFailAndTheRunIsRecordedAsTheLearners() throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        let starter = cli.folder.appendingPathComponent("mine")
        let initialised = try cli.run(["lab", "init", "sql-mastery", starter.path])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let answers = starter.appendingPathComponent("answers.sql").path
        #expect(FileManager.default.fileExists(atPath: answers))
        // lab init never overwrites what the learner has.
        let again = try cli.run(["lab", "init", "sql-mastery", starter.path])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")

        let run = try cli.run(["lab", "run", "sql-mastery", "--quick", "--answers", answers])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("judging your answers in \(answers)"), "\(run.stdout)")
        let done = try cli.run(["done", "alpha", "--verify", "--quick", "--answers", answers])
        #expect(done.status == 1)
        #expect(done.stderr.contains("alpha was not checked off"), "\(done.stderr)")
        let show = try cli.run(["show", "alpha"])
        #expect(show.stdout.contains("judged your answers in \(answers)"), "\(show.stdout)")
        #expect(show.stdout.contains("State:          ready"), "\(show.stdout)")
        let missing = try cli.run(["lab", "run", "sql-mastery", "--answers", "nowhere.sql"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("--answers"), "\(missing.stderr)")
    }
}

/// The acceptance, through the tracker: a bookshelf server written in another
/// language from the contract alone (Tests/HTTPLabsTests/Fixtures/bookshelf.py) passes
/// `rest-api` with `--against`, its verified check-off is marked as the learner's own
/// everywhere, and the same server with one contract violation fails exactly that check.
@Suite("Exercise mode: a learner's server in another language", .serialized) struct LearnersServerTests {
    static let plan = CLI.fixturePlan
        .replacingOccurrences(of: "title: Alpha task", with: "title: Alpha task\n        labs: [rest-api]")
    static let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HTTPLabsTests/Fixtures/bookshelf.py").path

    @Test func aPythonServerVerifiesTheTaskAsTheLearnersOwnWork() throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        let command = "exec python3 \(Self.server)"
        let done = try cli.run(["done", "alpha", "--verify", "--quick", "--against", command])
        #expect(done.status == 0, "\(done.stdout)\(done.stderr)")
        #expect(done.stdout.contains("judging your server started with `\(command)`"), "\(done.stdout)")
        #expect(done.stdout.contains("✓ your server stops on SIGTERM"), "\(done.stdout)")
        #expect(done.stdout.contains("alpha done (verified against your own work)"), "\(done.stdout)")
        let show = try cli.run(["show", "alpha"])
        #expect(show.stdout.contains("verified by its labs against your own work (your server started with `\(command)`)"), "\(show.stdout)")
        #expect(try cli.run(["list"]).stdout.contains("★"))
        #expect(try cli.run(["status"]).stdout.contains("1 verified by their labs (1 against your own work)"))
        let export = try cli.run(["export", "--format", "json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        let alpha = try #require((doc["tasks"] as? [[String: Any]])?.first { $0["id"] as? String == "alpha" })
        #expect(alpha["verified_against"] as? String == "against")
        #expect(alpha["verified_subject"] as? String == command)
        #expect(try cli.run(["log"]).stdout.contains("(verified against your server started with `\(command)`)"))
    }

    @Test func oneContractViolationFailsExactlyTheCheckAboutIt() throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        let r = try cli.run([
            "lab", "run", "rest-api", "--quick", "--json", "--against",
            "BOOKSHELF_VIOLATION=skip-location exec python3 \(Self.server)",
        ])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let failed = (report["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }
        #expect(failed.count == 1, "\(failed)")
        #expect((failed.first?["name"] as? String)?.contains("Location") == true, "\(failed)")
        #expect((report["subject"] as? [String: Any])?["kind"] as? String == "against")
    }
}
