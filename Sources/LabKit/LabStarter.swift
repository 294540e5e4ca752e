import Foundation
import LabCatalog

/// Writes a lab's starter folder (`curriculum lab init LAB DIR`): the README with the task
/// and how its checks judge it, the contract, and for source labs a stub that compiles and
/// fails. It never overwrites a file the learner already has.
public enum LabStarter {
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
        public var status: Int32
    }

    /// Writes every starter file into `folder` (created when missing); returns their paths.
    @discardableResult
    public static func write(_ type: any Lab.Type, into folder: URL) throws -> [String] {
        let files = type.starter()
        let info = type.info
        guard !files.isEmpty else {
            throw Refusal(description: "lab \(info.id) has no starter folder: it judges its reference implementation only", status: LabExit.usage)
        }
        let fm = FileManager.default
        let existing = files.map { folder.appendingPathComponent($0.path).path }.filter { fm.fileExists(atPath: $0) }
        guard existing.isEmpty else {
            throw Refusal(description: "\(existing[0]) already exists; lab init never overwrites your files (choose another folder)", status: LabExit.failed)
        }
        var written: [String] = []
        for file in files {
            let url = folder.appendingPathComponent(file.path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
            if file.executable { chmod(url.path, 0o755) }
            written.append(url.path)
        }
        return written
    }
}
