#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVWire

/// One change a watch reports.
public struct WatchEvent: Equatable, Sendable {
    public var type: String
    public var key: String
    public var value: String?
    public var modRevision: Int64
    public var createRevision: Int64?
    public var version: Int64?
    /// The event as the server wrote it.
    public var object: JSONObject

    public init?(_ object: JSONObject) {
        guard let type = object["type"]?.stringValue, let key = object["key"]?.stringValue,
              let revision = object["modRevision"]?.intValue else { return nil }
        self.type = type
        self.key = key
        self.value = object["value"]?.stringValue
        self.modRevision = Int64(revision)
        self.createRevision = object["createRevision"]?.intValue.map(Int64.init)
        self.version = object["version"]?.intValue.map(Int64.init)
        self.object = object
    }

    public var isDelete: Bool { type == "delete" }
}

/// What a watch follows: one key or every key under a prefix.
public enum WatchTarget: Equatable, Sendable {
    case key(String)
    case prefix(String)

    /// "key K" or "prefix P", for messages.
    public var described: String {
        switch self {
        case .key(let key): return "key " + Renderers.commandWord(key)
        case .prefix(let prefix): return "prefix " + Renderers.commandWord(prefix)
        }
    }
}

/// A watch that outlives its connection: when the connection drops (or the server cuts a slow
/// watcher off) it connects again to the same address, with retries, and asks for the changes
/// from the revision after the last event it handed on — so every event is handed on once, in
/// revision order, with none skipped. Events older than one already handed on are dropped,
/// whatever the server sends.
public final class WatchStream {
    public enum Outcome: Equatable {
        /// The interruption asked to stop (Ctrl-C, end of input, …), or `handle` returned false.
        case stopped(String)
        /// The server no longer keeps the changes asked for: it keeps them from `oldestRevision`.
        case compacted(oldestRevision: Int64, asked: Int64?)
        /// The server refused the watch, or could not be reached again in time.
        case failed(String)
    }

    public let host: String
    public let port: Int
    public let target: WatchTarget
    /// The first revision not handed on yet (nil: from the next change, until the first answer).
    public private(set) var nextRevision: Int64?
    /// How long reconnecting is tried before giving up (seconds).
    public var reconnectSeconds: Double
    /// Hears what happens to the connection (lost, reconnected, resumed), for standard error.
    let notice: (String) -> Void
    private var watchNumber = 0
    /// The revision of the last event handed on (nil: none yet).
    public private(set) var lastSeen: Int64?

    public init(host: String, port: Int, target: WatchTarget, fromRevision: Int64?, reconnectSeconds: Double = 60,
                notice: @escaping (String) -> Void) {
        self.host = host
        self.port = port
        self.target = target
        self.nextRevision = fromRevision
        self.reconnectSeconds = reconnectSeconds
        self.notice = notice
    }

    /// Follows until stopped. `started` hears the revision the first answer names (the store's
    /// revision when the watch began); `handle` gets each batch of new events with the revision
    /// its line names, and returns false to stop.
    public func run(_ interruption: Interruption, connection first: ClientConnection? = nil, started: (Int64) -> Void = { _ in },
                    handle: ([WatchEvent], Int64) -> Bool) -> Outcome {
        var connection = first
        var everStarted = false
        var lostAt: Double?
        var lastProblem = ""
        var pause = 0.05
        while true {
            if connection == nil {
                do {
                    connection = try ClientConnection(host: host, port: port)
                } catch {
                    if !everStarted && lostAt == nil { return .failed("\(error)") }
                    lastProblem = "\(error)"
                }
            }
            guard let open = connection else {
                let since = lostAt ?? Self.seconds()
                lostAt = since
                if Self.seconds() - since > reconnectSeconds {
                    return .failed("gave up reconnecting to \(host):\(port) after \(Int(reconnectSeconds)) s: \(lastProblem)")
                }
                if case .stop(let why) = interruption.wait(for: nil, timeoutMs: Int(pause * 1000)) { return .stopped(why) }
                pause = min(1.0, pause * 2)
                continue
            }
            watchNumber += 1
            let name = JSONValue.string("w\(watchNumber)")
            let request = WatchRequest(name: name, key: { if case .key(let key) = target { return key }; return nil }(),
                                       prefix: { if case .prefix(let prefix) = target { return prefix }; return nil }(),
                                       fromRevision: nextRevision)
            var resumed = false
            let outcome = follow(open, request: request, interruption) { revision in
                if !everStarted {
                    everStarted = true
                    started(revision)
                } else {
                    resumed = true
                    notice("reconnected to \(host):\(port); resuming from revision \(request.fromRevision.map(String.init) ?? "now")"
                           + (lastSeen.map { " (the last event seen was at revision \($0))" } ?? " (no event seen yet)"))
                }
                lostAt = nil
                pause = 0.05
            } handle: { events, revision in
                handle(events, revision)
            }
            switch outcome {
            case .finished(let result):
                return result
            case .lost(let why):
                connection = nil
                lastProblem = why
                if lostAt == nil || resumed {
                    notice("\(why); reconnecting to \(host):\(port) to resume from revision \(nextRevision.map(String.init) ?? "now")…")
                }
                lostAt = lostAt ?? Self.seconds()
            }
        }
    }

    private enum Step {
        case finished(Outcome)
        case lost(String)
    }

    /// One connection's watch: until it ends, the connection is lost, or something asks to stop.
    private func follow(_ connection: ClientConnection, request: WatchRequest, _ interruption: Interruption,
                        answered: (Int64) -> Void, handle: ([WatchEvent], Int64) -> Bool) -> Step {
        do {
            try connection.send(RequestEncoder.line(ClientRequest(.watch(request))))
        } catch {
            return .lost("the connection failed (\(error))")
        }
        while true {
            if !connection.hasBufferedLine {
                switch interruption.wait(for: connection.socketDescriptor, timeoutMs: 1000) {
                case .stop(let why): return .finished(.stopped(why))
                case .timeout: continue
                case .readable: break
                }
            }
            let line: String?
            do {
                line = try connection.receiveLine()
            } catch {
                return .lost("the connection failed (\(error))")
            }
            guard let line else { return .lost("the server closed the connection") }
            guard let object = try? JSONParser.parse(line).objectValue else { continue }
            if object["close"] != nil { return .lost("the server closed the idle connection") }
            // Lines of an earlier watch of this connection (none: one watch per connection) are skipped.
            if let name = object["watch"], name != request.name { continue }
            if let events = object["events"]?.arrayValue {
                let revision = Int64(object["revision"]?.intValue ?? 0)
                let floor = nextRevision ?? Int64.min
                let fresh = events.compactMap { $0.objectValue.flatMap(WatchEvent.init) }.filter { $0.modRevision >= floor }
                guard let last = fresh.last else { continue }
                nextRevision = last.modRevision + 1
                lastSeen = last.modRevision
                if !handle(fresh, revision) { return .finished(.stopped("done")) }
                continue
            }
            switch object["status"]?.stringValue {
            case "ok":
                guard let revision = object["revision"]?.intValue else { continue }
                if nextRevision == nil { nextRevision = Int64(revision) + 1 }
                answered(Int64(revision))
            case "error":
                let code = object["code"]?.stringValue ?? "error"
                if code == ErrorCode.compacted.rawValue {
                    return .finished(.compacted(oldestRevision: Int64(object["oldestRevision"]?.intValue ?? 0), asked: request.fromRevision))
                }
                if code == ErrorCode.watchCancelled.rawValue {
                    // Cut off as a slow reader: what was queued is lost, so resume after the last event read.
                    return .lost("the server stopped the watch (\(object["error"]?.stringValue ?? code))")
                }
                if code == ErrorCode.unavailable.rawValue || code == ErrorCode.timeout.rawValue {
                    return .lost("the server answered \(code)")
                }
                return .finished(.failed(object["error"]?.stringValue.map { "\(code): \($0)" } ?? line))
            default:
                continue
            }
        }
    }

    package static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
