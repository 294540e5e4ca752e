import Foundation
import Logging
import Synchronization

/// Where the reference's log lines go during a lab: kept in memory so the lab can read
/// them back (logging-errors checks one line per request, with status and latency).
/// Nothing is printed: the lab's stdout carries its report.
public final class RequestLogSink: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
        /// The line as a log file would hold it: `message key=value …`, keys sorted.
        public var line: String {
            ([message] + metadata.keys.sorted().map { "\($0)=\(metadata[$0] ?? "")" }).joined(separator: " ")
        }
    }

    private let records = Mutex<[Record]>([])
    public init() {}

    public var all: [Record] { records.withLock { $0 } }

    func append(_ r: Record) { records.withLock { $0.append(r) } }

    /// A logger writing here.
    public func logger(label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in SinkLogHandler(sink: self) }
        logger.logLevel = level
        return logger
    }
}

struct SinkLogHandler: LogHandler {
    let sink: RequestLogSink
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        sink.append(
            .init(
                level: event.level, message: event.message.description,
                metadata: all.mapValues { "\($0)" }))
    }
}

/// A logger that drops everything (the reference's own chatter when no lab reads it).
func silentLogger(_ label: String) -> Logger {
    Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
}
