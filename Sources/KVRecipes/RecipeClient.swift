#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVWire
import KVClient

/// Requests for the recipes (lock, election, lease keepalive), made to survive what a cluster
/// does meanwhile: a connection closed (idle, or its member restarted) is opened again to the
/// same address; `unavailable` (no leader yet) and `timeout` are asked again after a pause. A
/// write is numbered once with this client's session and sent again unchanged, so it is applied
/// at most once however often it goes.
public final class RecipeClient {
    public let host: String
    public let port: Int
    public private(set) var session = WriteSession()
    private var connection: ClientConnection?
    /// Why the last request failed, for messages.
    public private(set) var problem = ""

    public init(host: String, port: Int, connection: ClientConnection? = nil) {
        self.host = host
        self.port = port
        self.connection = connection
    }

    /// The answer to `request` (any status but `unavailable`/`timeout`), or nil when none came
    /// within `seconds` or `interruption` asked to stop (`problem` says why).
    public func ask(_ request: ClientRequest, seconds: Double = 15, interruption: Interruption? = nil) -> JSONObject? {
        let line = RequestEncoder.line(session.numbered(request))
        let deadline = WatchStream.seconds() + seconds
        var pause = 0.05
        while true {
            if let interruption, interruption.shouldStop() {
                problem = "stopped (\(interruption.reason ?? "asked to"))"
                return nil
            }
            if let answer = exchange(line) {
                let code = answer["code"]?.stringValue
                if code != ErrorCode.unavailable.rawValue && code != ErrorCode.timeout.rawValue { return answer }
                problem = "the server answered \(code ?? "?")"
            }
            if WatchStream.seconds() + pause > deadline { return nil }
            if let interruption {
                if case .stop(let why) = interruption.wait(for: nil, timeoutMs: Int(pause * 1000)) {
                    problem = "stopped (\(why))"
                    return nil
                }
            } else {
                usleep(UInt32(pause * 1e6))
            }
            pause = min(0.5, pause * 2)
        }
    }

    private func exchange(_ line: String) -> JSONObject? {
        do {
            if connection == nil { connection = try ClientConnection(host: host, port: port) }
            guard let answer = try connection?.request(line) else {
                connection = nil
                problem = "the server closed the connection"
                return nil
            }
            guard let object = try? JSONParser.parse(answer).objectValue else {
                problem = "an answer that is not JSON: \(answer)"
                return nil
            }
            if object["close"] != nil {  // closed as idle: ask again on a new connection
                connection = nil
                problem = "the server closed the idle connection"
                return nil
            }
            return object
        } catch {
            connection = nil
            problem = "\(error)"
            return nil
        }
    }

    /// One key of a range: its name, value and the revision that created it.
    public struct Item: Equatable, Sendable {
        public var key: String
        public var value: String
        public var createRevision: Int64

        public init(key: String, value: String, createRevision: Int64) {
            self.key = key
            self.value = value
            self.createRevision = createRevision
        }
    }

    /// Every key under `prefix` with its create revision, read linearizably (never stale: a
    /// key just written is there), page after page; and the store's revision of the first page.
    public func keys(under prefix: String, interruption: Interruption? = nil) -> (items: [Item], revision: Int64)? {
        var items: [Item] = []
        var revision: Int64?
        var after: String?
        while true {
            let query = RangeQuery(prefix: prefix, after: after, limit: RangeQuery.maxLimit, consistency: .linearizable)
            guard let answer = ask(ClientRequest(.range(query), revisions: true), interruption: interruption) else { return nil }
            guard answer["status"]?.stringValue == "ok" else {
                problem = answer["error"]?.stringValue ?? answer["code"]?.stringValue ?? "range refused"
                return nil
            }
            if revision == nil { revision = Int64(answer["revision"]?.intValue ?? 0) }
            let page = answer["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
            for item in page {
                guard let key = item["key"]?.stringValue, let created = item["createRevision"]?.intValue else { continue }
                items.append(Item(key: key, value: item["value"]?.stringValue ?? "", createRevision: Int64(created)))
            }
            guard answer["more"]?.boolValue == true, let last = page.last?["key"]?.stringValue else { break }
            after = last
        }
        return (items, revision ?? 0)
    }
}
