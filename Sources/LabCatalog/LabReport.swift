/// What a lab run produced: the steps it took, what it measured and what it checked.
/// This is also the payload of the lab protocol's final message (see `LabProtocol`).
public struct LabReport: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// Every check passed (and there was at least one).
        case passed
        /// A check failed, the lab threw, crashed or ran out of time.
        case failed
        /// Something the lab needs is not installed; nothing was judged.
        case unavailable
    }

    public struct Step: Codable, Sendable, Equatable {
        public var title: String
        /// What to observe, or what happened, in a sentence or two.
        public var detail: String?
        public init(title: String, detail: String? = nil) { self.title = title; self.detail = detail }
    }

    public struct Figure: Codable, Sendable, Equatable {
        public var name: String
        public var value: Double
        public var unit: String
        public init(name: String, value: Double, unit: String) { self.name = name; self.value = value; self.unit = unit }
    }

    public struct Check: Codable, Sendable, Equatable {
        public var name: String
        public var passed: Bool
        public var expected: String
        public var observed: String
        public init(name: String, passed: Bool, expected: String, observed: String) {
            self.name = name; self.passed = passed; self.expected = expected; self.observed = observed
        }
    }

    public var lab: String
    public var title: String
    public var quick: Bool
    public var parameters: [String: String]
    public var steps: [Step] = []
    public var figures: [Figure] = []
    public var checks: [Check] = []
    public var outcome: Outcome = .failed
    /// Why the run failed other than by a check (a thrown error, a crash, a time-out), or
    /// for `unavailable`, what is missing and how to install it.
    public var error: String?
    /// Which engine ran, where a lab can run on more than one ("PostgreSQL 15.18").
    public var engine: String?
    public var seconds: Double = 0
    /// What the run judged; nil (or `.reference`) for the package's own implementation.
    public var subject: LabSubject?

    public init(lab: String, title: String, quick: Bool, parameters: [String: String]) {
        self.lab = lab; self.title = title; self.quick = quick; self.parameters = parameters
    }

    /// Passed exactly when nothing went wrong, at least one check ran, and all passed.
    public mutating func settle() {
        if outcome == .unavailable { return }
        outcome = error == nil && !checks.isEmpty && checks.allSatisfy(\.passed) ? .passed : .failed
        if error == nil && checks.isEmpty { error = "the lab made no checks" }
    }
}
