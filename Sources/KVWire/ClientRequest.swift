import JSONText

/// Which replica may answer a read.
public enum ReadConsistency: String, Sendable, Equatable {
    /// Any replica's applied state (the seed's behaviour); may be stale.
    case eventual
    /// Never stale: confirmed through the leader.
    case linearizable
}

/// A client's request after validation.
public enum ClientRequest: Sendable, Equatable {
    case put(key: String, value: String)
    case get(key: String, consistency: ReadConsistency)
    case delete(key: String)
    case cas(key: String, expect: String?, value: String)
    case admin(AdminRequest)

    public var key: String? {
        switch self {
        case .put(let key, _), .get(let key, _), .delete(let key), .cas(let key, _, _): return key
        case .admin: return nil
        }
    }

    public var isWrite: Bool {
        switch self {
        case .put, .delete, .cas: return true
        case .get, .admin: return false
        }
    }
}

/// The administrative requests of the contract (plus `slow`, `isolate` and `trace`, extensions).
public enum AdminRequest: Sendable, Equatable {
    case status
    case kill(node: Int)
    case restart(node: Int)
    case partition(groups: [[Int]])
    case heal
    /// Extension: node alone on one side, every other node on the other.
    case isolate(node: Int)
    case snapshot(node: Int)
    case logs(node: Int, count: Int)
    case metrics(prometheus: Bool)
    /// Delays every message to and from `node` by `delayMs` (0 removes the delay).
    case slow(node: Int, delayMs: Int)
    // Membership.
    case members
    case add(node: Int, addresses: MemberAddressFields)
    case remove(node: Int)
    case transfer(node: Int)
    // Pause and step (one process).
    case pause
    case messages
    case deliver(message: Int?)
    case drop(message: Int)
    case tick(node: Int, count: Int)
    case resume
    // Disk faults.
    case disk(node: Int, fault: DiskFault)
    case crash(node: Int, loseUnsynced: Bool)
    /// Extension: write the flight recorder of one node (or every node) to traceX.jsonl.
    case trace(node: Int?)
    /// Extension: slow motion — every node's tick, and every client deadline, `factor` times longer.
    case slowMotion(factor: Int)

    /// The node the request is about, when it names one (it is served where that node runs).
    public var targetNode: Int? {
        switch self {
        case .kill(let node), .restart(let node), .snapshot(let node), .disk(let node, _), .crash(let node, _):
            return node
        case .logs(let node, _):
            return node >= 0 ? node : nil
        case .tick(let node, _):
            return node
        case .trace(let node):
            return node
        default:
            return nil
        }
    }
}

/// The addresses an `add` names (each "host:port", any may be left out).
public struct MemberAddressFields: Sendable, Equatable {
    public var raft: String?
    public var client: String?
    public var http: String?

    public init(raft: String? = nil, client: String? = nil, http: String? = nil) {
        self.raft = raft
        self.client = client
        self.http = http
    }

    public var isEmpty: Bool { raft == nil && client == nil && http == nil }
}

/// A fault of one node's disk.
public enum DiskFault: Sendable, Equatable {
    /// Every fsync takes this many milliseconds longer.
    case slow(ms: Int)
    /// Writes fail as on a full disk.
    case full
    /// Clears this node's disk faults.
    case none
}

/// Size limits from the config (`limits`).
public struct WireLimits: Sendable, Equatable {
    public var keyBytes: Int
    public var valueBytes: Int
    public var lineBytes: Int

    public init(keyBytes: Int = 1024, valueBytes: Int = 1_048_576, lineBytes: Int = 4_194_304) {
        self.keyBytes = keyBytes
        self.valueBytes = valueBytes
        self.lineBytes = lineBytes
    }
}

/// One parsed line: the `id` to echo (when the line was an object carrying one) and the request
/// or the error to answer with.
public struct ParsedLine: Sendable {
    public var id: JSONValue?
    public var result: Result<ClientRequest, RequestError>
    /// How many members forwarded this request already (0 from a client).
    public var hops: Int = 0
}

/// Turns one request line into a `ClientRequest`, validating every field once, here at the edge.
public enum RequestParser {
    public static func parse(_ line: ArraySlice<UInt8>, limits: WireLimits) -> ParsedLine {
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(line))
        } catch {
            return ParsedLine(id: nil, result: .failure(RequestError(.badRequest, "not valid JSON: \(error)")))
        }
        guard case .object(let object) = value else {
            return ParsedLine(id: nil, result: .failure(RequestError(.badRequest, "a request must be a JSON object, not \(value.kindName)")))
        }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .number: break
            default:
                return ParsedLine(id: id, result: .failure(RequestError(.badRequest, "\"id\" must be a string or a number, not \(id.kindName)")))
            }
        }
        do {
            var parsed = ParsedLine(id: id, result: .success(try request(from: object, limits: limits)))
            if let hops = object["hops"]?.intValue, hops > 0 { parsed.hops = hops }
            return parsed
        } catch let error as RequestError {
            return ParsedLine(id: id, result: .failure(error))
        } catch {
            return ParsedLine(id: id, result: .failure(RequestError(.badRequest, "\(error)")))
        }
    }

    static func request(from object: JSONObject, limits: WireLimits) throws -> ClientRequest {
        if let admin = object["admin"] {
            guard let name = admin.stringValue else {
                throw RequestError(.badRequest, "\"admin\" must be a string, not \(admin.kindName)")
            }
            return .admin(try adminRequest(name, object))
        }
        let op: String
        if let opValue = object["op"] {
            guard let name = opValue.stringValue else {
                throw RequestError(.badRequest, "\"op\" must be a string, not \(opValue.kindName)")
            }
            op = name
        } else if object["value"] != nil {
            op = "put"
        } else if object["key"] != nil {
            op = "get"
        } else {
            throw RequestError(.badRequest, "a request needs \"key\" (and \"value\" to write), \"op\", or \"admin\"")
        }
        switch op {
        case "put":
            return .put(key: try key(object, limits), value: try stringValue(object, "value", limits))
        case "get":
            var consistency = ReadConsistency.eventual
            if let field = object["consistency"] {
                guard let name = field.stringValue, let parsed = ReadConsistency(rawValue: name) else {
                    throw RequestError(.badRequest, "\"consistency\" must be \"eventual\" or \"linearizable\"")
                }
                consistency = parsed
            }
            return .get(key: try key(object, limits), consistency: consistency)
        case "delete":
            return .delete(key: try key(object, limits))
        case "cas":
            let key = try key(object, limits)
            guard let expectField = object["expect"] else {
                throw RequestError(.badRequest, "cas needs \"expect\" (a string, or null for an absent key)")
            }
            let expect: String?
            switch expectField {
            case .null: expect = nil
            case .string(let text):
                if text.utf8.count > limits.valueBytes {
                    throw RequestError(.tooLarge, "\"expect\" is \(text.utf8.count) bytes; the limit is \(limits.valueBytes)")
                }
                expect = text
            default:
                throw RequestError(.badRequest, "\"expect\" must be a string or null, not \(expectField.kindName)")
            }
            return .cas(key: key, expect: expect, value: try stringValue(object, "value", limits))
        default:
            throw RequestError(.badRequest, "unknown op \(JSONWriter.quoted(op)); use put, get, delete or cas")
        }
    }

    static func key(_ object: JSONObject, _ limits: WireLimits) throws -> String {
        guard let field = object["key"] else { throw RequestError(.badRequest, "missing \"key\"") }
        guard let key = field.stringValue else {
            throw RequestError(.badRequest, "\"key\" must be a string, not \(field.kindName)")
        }
        if key.isEmpty { throw RequestError(.badRequest, "\"key\" must not be empty") }
        if key.utf8.count > limits.keyBytes {
            throw RequestError(.tooLarge, "key is \(key.utf8.count) bytes; the limit is \(limits.keyBytes)")
        }
        return key
    }

    static func stringValue(_ object: JSONObject, _ name: String, _ limits: WireLimits) throws -> String {
        guard let field = object[name] else { throw RequestError(.badRequest, "missing \"\(name)\"") }
        guard let text = field.stringValue else {
            throw RequestError(.badRequest, "\"\(name)\" must be a string, not \(field.kindName)")
        }
        if text.utf8.count > limits.valueBytes {
            throw RequestError(.tooLarge, "\(name) is \(text.utf8.count) bytes; the limit is \(limits.valueBytes)")
        }
        return text
    }

    static func nodeField(_ object: JSONObject, _ name: String = "node") throws -> Int {
        guard let field = object[name] else { throw RequestError(.badRequest, "missing \"\(name)\"") }
        guard let number = field.intValue else {
            throw RequestError(.badRequest, "\"\(name)\" must be an integer, not \(field.kindName)")
        }
        return number
    }

    static func optionalAddress(_ object: JSONObject, _ name: String) throws -> String? {
        guard let field = object[name] else { return nil }
        if case .null = field { return nil }
        guard let text = field.stringValue, let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536 else {
            throw RequestError(.badRequest, "\"\(name)\" must be an address \"host:port\"")
        }
        return text
    }

    static func adminRequest(_ name: String, _ object: JSONObject) throws -> AdminRequest {
        switch name {
        case "members": return .members
        case "add":
            return .add(node: try nodeField(object), addresses: MemberAddressFields(
                raft: try optionalAddress(object, "raft"), client: try optionalAddress(object, "client"),
                http: try optionalAddress(object, "http")))
        case "remove": return .remove(node: try nodeField(object))
        case "transfer": return .transfer(node: try nodeField(object))
        case "pause": return .pause
        case "messages": return .messages
        case "resume": return .resume
        case "deliver":
            return .deliver(message: object["message"] == nil ? nil : try nodeField(object, "message"))
        case "drop": return .drop(message: try nodeField(object, "message"))
        case "tick":
            let count = object["count"] == nil ? 1 : try nodeField(object, "count")
            if count < 1 || count > 100_000 { throw RequestError(.badRequest, "\"count\" must be between 1 and 100000") }
            return .tick(node: try nodeField(object), count: count)
        case "disk":
            let node = try nodeField(object)
            guard let fault = object["fault"]?.stringValue else {
                throw RequestError(.badRequest, "disk needs \"fault\": \"slow\" (with \"ms\"), \"full\" or \"none\"")
            }
            switch fault {
            case "slow":
                let ms = try nodeField(object, "ms")
                if ms < 0 || ms > 60_000 { throw RequestError(.badRequest, "\"ms\" must be between 0 and 60000") }
                return .disk(node: node, fault: .slow(ms: ms))
            case "full": return .disk(node: node, fault: .full)
            case "none", "ok": return .disk(node: node, fault: .none)
            default:
                throw RequestError(.badRequest, "\"fault\" must be \"slow\", \"full\" or \"none\"")
            }
        case "crash":
            let lose: Bool
            switch object["loseUnsynced"] {
            case nil: lose = false
            case .bool(let flag)?: lose = flag
            default: throw RequestError(.badRequest, "\"loseUnsynced\" must be true or false")
            }
            return .crash(node: try nodeField(object), loseUnsynced: lose)
        case "trace":
            return .trace(node: object["node"] == nil ? nil : try nodeField(object))
        case "slowmotion":
            let factor = try nodeField(object, "factor")
            if factor < 1 || factor > 1000 { throw RequestError(.badRequest, "\"factor\" must be between 1 and 1000") }
            return .slowMotion(factor: factor)
        case "status": return .status
        case "kill": return .kill(node: try nodeField(object))
        case "restart": return .restart(node: try nodeField(object))
        case "heal": return .heal
        case "isolate": return .isolate(node: try nodeField(object))
        case "snapshot": return .snapshot(node: try nodeField(object))
        case "metrics":
            let format = object["format"]?.stringValue ?? "json"
            guard format == "json" || format == "prometheus" else {
                throw RequestError(.badRequest, "\"format\" must be \"json\" or \"prometheus\"")
            }
            return .metrics(prometheus: format == "prometheus")
        case "logs":
            let count = object["count"] == nil ? 10 : try nodeField(object, "count")
            if count < 0 { throw RequestError(.badRequest, "\"count\" must not be negative") }
            return .logs(node: try nodeField(object), count: count)
        case "slow":
            let delay = try nodeField(object, "ms")
            if delay < 0 || delay > 60_000 { throw RequestError(.badRequest, "\"ms\" must be between 0 and 60000") }
            return .slow(node: try nodeField(object), delayMs: delay)
        case "partition":
            guard let groupsField = object["groups"], let groups = groupsField.arrayValue else {
                throw RequestError(.badRequest, "partition needs \"groups\": an array of arrays of node ids")
            }
            var result: [[Int]] = []
            for group in groups {
                guard let members = group.arrayValue else {
                    throw RequestError(.badRequest, "each partition group must be an array of node ids")
                }
                var ids: [Int] = []
                for member in members {
                    guard let id = member.intValue else {
                        throw RequestError(.badRequest, "node ids in \"groups\" must be integers")
                    }
                    ids.append(id)
                }
                result.append(ids)
            }
            return .partition(groups: result)
        default:
            throw RequestError(.badRequest, "unknown admin request \(JSONWriter.quoted(name)); use status, kill, restart, partition, isolate, heal, slow, snapshot, logs, metrics, members, add, remove, transfer, pause, messages, deliver, drop, tick, resume, disk, crash, trace or slowmotion")
        }
    }
}
