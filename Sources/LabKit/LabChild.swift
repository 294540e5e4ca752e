import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A lab whose experiment needs a second process (a consumer that is really killed
/// mid-task): the lab re-executes the lab binary as `curriculum-labs child LAB ARG…`,
/// which calls `child(_:)` and exits with what it returns. The child writes no protocol
/// lines; it talks to its lab through files in the scratch folder.
public protocol LabChildProcess {
    static func child(_ arguments: [String]) -> Int32
}

public enum LabChild {
    /// The `curriculum-labs` executable: `$CURRICULUM_LABS_BIN` (tests, whose own
    /// executable is the test runner, set it), else this process when it is curriculum-labs.
    public static func executable(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let bin = environment["CURRICULUM_LABS_BIN"], FileManager.default.isExecutableFile(atPath: bin) { return bin }
        guard let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return URL(fileURLWithPath: me).lastPathComponent == "curriculum-labs" ? me : nil
    }

    /// Starts `curriculum-labs child LAB ARGUMENTS…` in its own process group, its output
    /// in `output`; it carries `CURRICULUM_LAB_ROOT=<scratch>` so the sweep of abandoned
    /// runs finds it. Kill it (`kill(pid, SIGKILL)`) and reap it with `Subprocess.wait`.
    public static func spawn(lab: LabContext, _ arguments: [String], output: String) throws -> pid_t {
        guard let bin = executable() else {
            throw LabError("this lab re-executes curriculum-labs as a child process and cannot find it (set CURRICULUM_LABS_BIN)")
        }
        var env = ProcessInfo.processInfo.environment
        env["CURRICULUM_LAB_ROOT"] = lab.scratch.standardizedFileURL.path
        let pid = try Subprocess.spawn(bin, ["child", lab.info.id] + arguments, environment: env, output: output)
        lab.onCleanup {
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            _ = await Subprocess.wait(pid, timeout: 5)
        }
        return pid
    }
}
