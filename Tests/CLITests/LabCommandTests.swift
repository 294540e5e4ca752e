import Foundation
import Testing

@Suite("The lab commands, end to end") struct LabCommandTests {
    /// The fixture plan with two labs linked to its tasks.
    static let planWithLabs = CLI.fixturePlan
        .replacingOccurrences(of: "title: Alpha task", with: "title: Alpha task\n        labs: [coroutines]")
        .replacingOccurrences(of: "title: Gamma task", with: "title: Gamma task\n        labs: [shared-resources, orm]")

    @Test func listAndShowTellWhatEachLabTeachesAndItsKnobs() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let list = try cli.run(["lab", "list", "--json"])
        #expect(list.status == 0)
        let labs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let ids = labs.compactMap { $0["id"] as? String }
        for id in [
            "coroutines", "thread-pools", "coroutines-vs-threads", "shared-resources", "concurrent-services",
            "orm", "migrations", "denormalization", "read-caching", "idempotency", "event-sourcing",
        ] {
            #expect(ids.contains(id), "\(id) missing from lab list")
        }
        let phase4 = try cli.run(["lab", "list", "--phase", "4"])
        #expect(phase4.stdout.contains("coroutines-vs-threads"))
        #expect(!phase4.stdout.contains("event-sourcing"))
        let show = try cli.run(["lab", "show", "coroutines-vs-threads"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("Parameters"))
        #expect(show.stdout.contains("--quick"))
        #expect(show.stdout.contains("Source: Sources/Labs/Concurrency/Phase04/CoroutinesVsThreads.swift"))
        let unknown = try cli.run(["lab", "show", "corutines"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("did you mean coroutines"), "\(unknown.stderr)")
    }

    @Test func everyLabSourceOpensWithItsConcept() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let list = try cli.run(["lab", "list", "--json"])
        let labs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for lab in labs {
            let source = try #require(lab["source"] as? String)
            let text = try String(contentsOf: root.appendingPathComponent(source), encoding: .utf8)
            let opening = text.split(separator: "\n").prefix(3)
            #expect(opening.contains { $0.hasPrefix("//") }, "\(source) should open with a comment explaining its concept")
        }
    }

    @Test func runningALabRecordsItAndShowShowsIt() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        let run = try cli.run(["lab", "run", "coroutines", "--quick"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("PASSED"))
        #expect(run.stdout.contains("✓ every child observed the parent's cancellation"))
        let show = try cli.run(["show", "alpha"])
        #expect(show.stdout.contains("coroutines"))
        #expect(show.stdout.contains("passed"), "\(show.stdout)")
        let log = try cli.run(["log"])
        #expect(log.stdout.contains("ran lab coroutines for alpha: passed"), "\(log.stdout)")
    }

    /// Two queue labs in one run share one broker: started once by a holder process, used by
    /// both labs (their steps say so), and gone when the run ends.
    @Test func queueLabsOfOneRunShareOneBroker() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/lib/rabbitmq/bin/rabbitmq-server") else { return }
        let cli = try CLI(); defer { cli.cleanUp() }
        // Scratch roots in a folder of this test's own, so only its holder is looked for.
        let tmp = cli.folder.appendingPathComponent("tmp").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let run = try cli.run(["lab", "run", "task-queue", "pubsub-notifications", "--quick"], env: ["TMPDIR": tmp])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("One RabbitMQ broker for the 2 queue labs (task-queue, pubsub-notifications), started in"), "\(run.stdout)")
        #expect(run.stdout.components(separatedBy: "Using a throwaway RabbitMQ").count == 3, "\(run.stdout)")
        #expect(!run.stdout.contains("Started a throwaway RabbitMQ"))
        let holders = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int(pid) != nil, let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let line = String(decoding: cmd, as: UTF8.self)
            return line.contains("hold-rabbitmq") && line.contains(tmp)
        }
        #expect(holders.isEmpty, "holder processes left: \(holders)")
    }

    @Test func aTaskIdRunsItsLabsAndJSONGivesTheReports() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        let run = try cli.run(["lab", "run", "gamma", "--quick", "--json"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // One JSON document per lab run.
        let docs = run.stdout.components(separatedBy: "\n}\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        #expect(docs.count == 2)
        for d in docs {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data((d.hasSuffix("}") ? d : d + "\n}").utf8)) as? [String: Any])
            #expect(obj["outcome"] as? String == "passed")
            #expect(((obj["checks"] as? [Any])?.count ?? 0) >= 3)
            #expect(((obj["figures"] as? [Any])?.count ?? 0) >= 1)
        }
    }

    @Test func parametersAreCheckedAgainstTheLab() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let unknown = try cli.run(["lab", "run", "shared-resources", "--param", "threadz=4"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("threads"), "\(unknown.stderr)")
        let range = try cli.run(["lab", "run", "shared-resources", "--param", "threads=0"])
        #expect(range.status == 64)
        #expect(range.stderr.contains("from"), "\(range.stderr)")
        let set = try cli.run(["lab", "run", "shared-resources", "--quick", "--param", "threads=3", "--json"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("\"threads\" : \"3\""), "\(set.stdout.prefix(400))")
        let none = try cli.run(["lab", "run", "nonsense"])
        #expect(none.status == 64)
    }

    @Test func doneVerifyChecksOffOnlyWhenTheLabsPass() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        let r = try cli.run(["done", "alpha", "--verify", "--quick"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("alpha done (verified)"), "\(r.stdout)")
        let list = try cli.run(["list", "--done", "--json"])
        let done = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(done.first?["verified"] as? Bool == true)
        #expect(try cli.run(["status"]).stdout.contains("1 verified by their labs"))
        let noLab = try cli.run(["done", "beta", "--verify", "--force"])
        #expect(noLab.status == 1)
        #expect(noLab.stderr.contains("has no lab"))
    }

    @Test func recheckReRunsTheLabsOfDoneTasks() throws {
        let cli = try CLI(plan: Self.planWithLabs); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        let r = try cli.run(["recheck", "--quick"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Every rechecked task still passes"))
        let log = try cli.run(["log"])
        #expect(log.stdout.contains("rechecked alpha: still passes"))
        let open = try cli.run(["recheck", "gamma"])
        #expect(open.status == 64)
        #expect(open.stderr.contains("is not done"))
    }

    @Test func theWholeCatalogueRunsAndPassesInQuickMode() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let list = try cli.run(["lab", "list", "--json"])
        let count = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any])?.count ?? 0
        let r = try cli.run(["lab", "run", "--all", "--quick"])
        #expect(r.status == 0, "\(r.stdout.suffix(3000))\(r.stderr)")
        #expect(r.stdout.contains("\(count) passed, 0 failed"), "\(r.stdout.suffix(500))")
        // Every run is recorded.
        let log = try cli.run(["log", "-n", "0", "--json"])
        let runs = (try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])?.filter { $0["kind"] as? String == "lab-run" }
        #expect(runs?.count == count)
        // Nothing is left behind in the temporary folder.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("curriculum-lab-") }
        #expect(leftovers.filter { $0.contains("-\(r.pid)-") }.isEmpty)
    }
}
