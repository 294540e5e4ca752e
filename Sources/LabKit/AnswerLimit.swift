/// How long a lab waits for one answer (an HTTP reply, an RPC) before the check that asked
/// for it fails. Your server gets 5 s: on loopback a correct answer takes milliseconds. The
/// reference always answers, so a slow answer from it is the machine's load (a test process
/// running many labs at once on two cores saw 5 s pass), not a finding; its limit is only a
/// guard against a run that would hang.
public enum AnswerLimit {
    public static let yourServer = Duration.seconds(5)
    public static let reference = Duration.seconds(30)

    /// The limit of the run in progress: `LabRunner` sets it from the run's subject.
    @TaskLocal public static var current: Duration = yourServer
}
