import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

/// What a lab run judges (DESIGN.md §4, exercise mode), shared by `lab run`, `done --verify`
/// and `recheck`: nothing given means the package's own reference implementation.
struct LabSubjectOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Judge your own server, already running at this URL.", valueName: "url"))
    var url: String?

    @Option(
        help: ArgumentHelp(
            "Start your own server with `sh -c CMD` (PORT, and DATABASE_URL where the lab has a database, in its environment) and judge it.", valueName: "cmd"))
    var against: String?

    @Option(help: ArgumentHelp("Judge your own source file or folder, compiled with the lab's harness.", valueName: "path"))
    var source: String?

    @Option(help: ArgumentHelp("Judge your own answers file (e.g. named SQL queries).", valueName: "file"))
    var answers: String?

    func validate() throws {
        let given = [("--url", url), ("--against", against), ("--source", source), ("--answers", answers)].filter { $0.1 != nil }
        if given.count > 1 {
            throw ValidationError("give one subject at a time; \(given.map(\.0).joined(separator: " and ")) were both given")
        }
        for (flag, value) in given where value?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw ValidationError("\(flag) needs a value")
        }
    }

    /// The subject, with a file path made absolute (the lab runs in its own process and
    /// the run record should say which file was judged).
    var chosen: LabSubject {
        if let url { return LabSubject(.url, url) }
        if let against { return LabSubject(.against, against) }
        if let source { return LabSubject(.source, URL(fileURLWithPath: source).standardizedFileURL.path) }
        if let answers { return LabSubject(.answers, URL(fileURLWithPath: answers).standardizedFileURL.path) }
        return .reference
    }

    /// Whether any subject flag was given.
    var given: Bool { chosen.isOwnWork }
}

extension LabSubject {
    /// Before any lab starts: refuses a subject one of `labs` does not accept (a usage
    /// error that says what they accept), and a source or answers file that is not there.
    func check(for labs: [String]) throws {
        for lab in labs {
            if let info = LabCatalog.lab(lab), let refusal = info.refusal(of: self) { throw CurriculumError.usage(refusal + ".") }
        }
        if kind == .source || kind == .answers, let path = value, !FileManager.default.fileExists(atPath: path) {
            throw CurriculumError.missingFile("\(kind.flag ?? "") \(path): no such file or folder.")
        }
    }
}
