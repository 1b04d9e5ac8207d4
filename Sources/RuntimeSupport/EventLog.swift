#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import Synchronization

/// Readable events on stderr, one line each, with a timestamp and the node they concern:
///
///     12:04:31.207 node 2   became leader in term 3
///
/// or one JSON object per line with `format: .json`, for tools.
public final class EventLog: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug = 0, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }

        public var name: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warning: return "warning"
            case .error: return "error"
            }
        }
    }

    public enum Format: Sendable { case text, json }

    public let minimumLevel: Level
    public let format: Format
    private let sink: Callback<String>?
    /// Also sees every event (the web page's feed), whatever the level and format.
    private let observer = Mutex<Callback<EventRecord>?>(nil)
    /// Lines go out whole, one at a time.
    private let writing = Mutex(())

    /// `sink` receives each finished line (for tests); by default lines go to stderr.
    public init(minimumLevel: Level = .info, format: Format = .text, sink: (@Sendable (String) -> Void)? = nil) {
        self.minimumLevel = minimumLevel
        self.format = format
        self.sink = sink.map(Callback.init)
    }

    /// A log that drops everything (for tests that do not read events).
    public static let silent = EventLog(minimumLevel: .error, sink: { _ in })

    /// A cluster-wide event at info level.
    public func log(_ message: String) {
        log(.info, node: nil, message)
    }

    /// One event, for observers.
    public struct EventRecord: Sendable {
        public var time: String
        public var level: Level
        public var node: Int?
        public var message: String
    }

    /// Sends every event of level info and above to `observer` too (nil stops it).
    public func observe(_ observer: (@Sendable (EventRecord) -> Void)?) {
        let box = observer.map(Callback.init)
        self.observer.withLock { $0 = box }
    }

    public func log(_ level: Level = .info, node: Int? = nil, _ message: String) {
        if level >= .info, let observer = observer.withLock({ $0 }) {
            observer.call(EventRecord(time: Self.timestamp(), level: level, node: node, message: message))
        }
        guard level >= minimumLevel else { return }
        let line = Self.format(level: level, node: node, message: message, format: format, timestamp: Self.timestamp())
        writing.withLock { _ in
            if let sink {
                sink.call(line)
            } else {
                var bytes = Array((line + "\n").utf8)
                bytes.withUnsafeMutableBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                        if written <= 0 { break }
                        offset += written
                    }
                }
            }
        }
    }

    public static func format(level: Level, node: Int?, message: String, format: Format, timestamp: String) -> String {
        switch format {
        case .text:
            let who = node.map { "node \($0)" } ?? "cluster"
            let padded = who + String(repeating: " ", count: max(0, 8 - who.count))
            let marker = level >= .warning ? level.name.uppercased() + ": " : ""
            return "\(timestamp) \(padded) \(marker)\(message)"
        case .json:
            var object = JSONObjectWriter()
            object.member("time", string: timestamp)
            object.member("level", string: level.name)
            if let node { object.member("node", int: node) }
            object.member("event", string: message)
            return object.finished()
        }
    }

    /// Wall-clock time of day, UTC, to the millisecond.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(spec.tv_nsec / 1_000_000)
        let milliText = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(milliText)"
    }
}

/// Monotonic time in nanoseconds, for timeouts and "last heard from" figures.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

/// Wall-clock time, for what must make sense across processes (log time for client sessions).
public enum WallClock {
    public static func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
