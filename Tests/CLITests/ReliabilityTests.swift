import Foundation
import LabCatalog
import Testing

/// Nothing lost, nothing crashes: concurrent writers and processes killed mid-command.
@Suite("Reliability of the progress database", .serialized) struct ReliabilityTests {
    /// A plan of `phases` × `per` independent tasks named `pP-tT`.
    static func flatPlan(phases: Int, per: Int) -> String {
        var s = "schema: 1\nid: stress\ntitle: Stress\nphases:\n"
        for p in 1...phases {
            s += "  - id: p\(p)\n    number: \(p)\n    title: Phase \(p)\n    tasks:\n"
            for t in 1...per { s += "      - id: p\(p)-t\(t)\n        title: Task \(t) of phase \(p)\n" }
        }
        return s
    }

    static func events(_ cli: CLI) throws -> [[String: Any]] {
        let r = try cli.run(["log", "--json", "-n", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    @Test func eightProcessesCheckingOffAtOnceAllSucceed() throws {
        let cli = try CLI(plan: Self.flatPlan(phases: 8, per: 10)); defer { cli.cleanUp() }
        // Each worker is a shell loop of 50 check-offs and 50 reopens on its own phase's
        // tasks, all on one database, all at once.
        let script = """
            fails=0
            for k in $(seq 1 50); do
              t=p$1-t$(( (k % 10) + 1 ))
              "$BIN" done "$t" --note "w$1-$k" >/dev/null 2>>"$ERR" || fails=$((fails+1))
              "$BIN" reopen "$t" >/dev/null 2>>"$ERR" || fails=$((fails+1))
            done
            echo $fails
            """
        var workers: [(Process, Pipe)] = []
        let err = cli.folder.appendingPathComponent("errors.txt").path
        for w in 1...8 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script, "worker", String(w)]
            p.currentDirectoryURL = cli.folder
            var env = ProcessInfo.processInfo.environment
            env["CURRICULUM_DB"] = cli.db
            env["CURRICULUM_TODAY"] = cli.today
            env["BIN"] = CLI.binary
            env["ERR"] = err
            p.environment = env
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            workers.append((p, out))
        }
        var failures = 0
        for (p, out) in workers {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            failures += Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1000
        }
        let errors = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        #expect(failures == 0, "failures: \(failures); stderr: \(errors.prefix(2000))")
        #expect(!errors.contains("locked"))
        let events = try Self.events(cli)
        #expect(events.count == 8 * 100)
        #expect(events.filter { $0["kind"] as? String == "checked" }.count == 400)
        // The log replays to exactly the current state: doctor checks it.
        let doctor = try cli.run(["doctor"])
        #expect(doctor.stdout.contains("replays to exactly the current state"), "\(doctor.stdout)")
        #expect(try cli.run(["status"]).stdout.contains("0/80 done"))
    }

    @Test func aProcessKilledAtAnyMomentLosesNothingItReported() throws {
        let cli = try CLI(plan: Self.flatPlan(phases: 5, per: 50)); defer { cli.cleanUp() }
        var rng = SeededRandom(seed: 20261125)
        var reported: [String] = []
        var killed = 0
        for n in 0..<220 {
            let task = "p\(n / 50 + 1)-t\(n % 50 + 1)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["done", task, "--note", "op-\(n)"]
            p.currentDirectoryURL = cli.folder
            var env = ProcessInfo.processInfo.environment
            env["CURRICULUM_DB"] = cli.db
            env["CURRICULUM_TODAY"] = cli.today
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Kill at a random moment within the command's lifetime (or not at all).
            let delay = UInt32(rng.next() % 60_000)
            if rng.next() % 4 != 0 {
                usleep(delay)
                kill(p.processIdentifier, SIGKILL)
            }
            p.waitUntilExit()
            if p.terminationReason == .exit && p.terminationStatus == 0 {
                reported.append("op-\(n)")
            } else {
                killed += 1
            }
            if n % 20 == 19 {
                let r = try cli.run(["doctor"])
                #expect(r.stdout.contains("integrity ok"), "after op \(n): \(r.stdout) \(r.stderr)")
            }
        }
        let notes = Set(try Self.events(cli).compactMap { $0["note"] as? String })
        let lost = reported.filter { !notes.contains($0) }
        #expect(lost.isEmpty, "reported success but missing: \(lost)")
        #expect(killed > 20, "the test should really kill processes mid-command (killed \(killed))")
        #expect(reported.count > 20)
        let doctor = try cli.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor.stdout)")
    }
}
