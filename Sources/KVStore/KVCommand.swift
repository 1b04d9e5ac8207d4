import JSONText
import KVWire

/// A state-machine command as it travels in a Raft entry: compact JSON with a fixed member order,
/// e.g. `{"op":"put","key":"a","value":"b"}`, so the same command is the same text everywhere.
/// A write with a client session ends with `"client":C,"seq":N`, and the leader adds the time it
/// proposed it and the session timeout in force (`"t":MS,"st":S`): log time, which expires
/// sessions the same way on every node, whatever each node's clock or configuration says.
public struct KVCommand: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case put(key: String, value: String, lease: Int64?)
        case delete(key: String)
        case deletePrefix(String)
        case cas(key: String, expect: String?, value: String)
        case casRevision(key: String, expectRevision: Int64, value: String)
        case txn(Transaction)
        /// A read ordered through the log (a linearizable read that needs no special machinery).
        case read(key: String)
        /// A new lease of `ttlMs`; its id is the index of the entry that grants it.
        case leaseGrant(ttlMs: Int64)
        /// Ends a lease and deletes its keys: a client's revoke, or (`expired`) its leader's
        /// decision that no keepalive came within its TTL.
        case leaseRevoke(id: Int64, expired: Bool)
    }

    public var operation: Operation
    public var session: ClientSession?
    /// Log time: the leader's wall clock in milliseconds when it proposed the command.
    public var time: Int64?
    /// The session timeout (seconds) the leader had configured.
    public var sessionTimeoutSeconds: Int64?

    public init(_ operation: Operation, session: ClientSession? = nil, time: Int64? = nil, sessionTimeoutSeconds: Int64? = nil) {
        self.operation = operation
        self.session = session
        self.time = time
        self.sessionTimeoutSeconds = sessionTimeoutSeconds
    }

    public static func put(key: String, value: String) -> KVCommand { KVCommand(.put(key: key, value: value, lease: nil)) }
    public static func delete(key: String) -> KVCommand { KVCommand(.delete(key: key)) }
    public static func cas(key: String, expect: String?, value: String) -> KVCommand {
        KVCommand(.cas(key: key, expect: expect, value: value))
    }
    public static func read(key: String) -> KVCommand { KVCommand(.read(key: key)) }

    /// The one key the command is about, if it names one.
    public var key: String? {
        switch operation {
        case .put(let key, _, _), .delete(let key), .cas(let key, _, _), .casRevision(let key, _, _), .read(let key): return key
        case .deletePrefix, .txn, .leaseGrant, .leaseRevoke: return nil
        }
    }

    public var encoded: String {
        var object = JSONObjectWriter()
        switch operation {
        case .put(let key, let value, let lease):
            object.member("op", string: "put")
            object.member("key", string: key)
            object.member("value", string: value)
            if let lease { object.member("lease", .number(String(lease))) }
        case .delete(let key):
            object.member("op", string: "delete")
            object.member("key", string: key)
        case .deletePrefix(let prefix):
            object.member("op", string: "delete")
            object.member("prefix", string: prefix)
        case .cas(let key, let expect, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expect", string: expect)
            object.member("value", string: value)
        case .casRevision(let key, let revision, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expectRevision", .number(String(revision)))
            object.member("value", string: value)
        case .txn(let transaction):
            object.member("op", string: "txn")
            object.member("compare", .array(transaction.compare.map(RequestEncoder.json)))
            object.member("success", .array(transaction.success.map(RequestEncoder.json)))
            object.member("failure", .array(transaction.failure.map(RequestEncoder.json)))
        case .read(let key):
            object.member("op", string: "read")
            object.member("key", string: key)
        case .leaseGrant(let ttl):
            object.member("op", string: "lease_grant")
            object.member("ttlMs", .number(String(ttl)))
        case .leaseRevoke(let id, let expired):
            object.member("op", string: "lease_revoke")
            object.member("lease", .number(String(id)))
            if expired { object.member("expired", .bool(true)) }
        }
        if let session {
            object.member("client", string: session.client)
            object.member("seq", .number(String(session.seq)))
        }
        if let time { object.member("t", .number(String(time))) }
        if let sessionTimeoutSeconds { object.member("st", .number(String(sessionTimeoutSeconds))) }
        return object.finished()
    }

    /// Whether an encoded command carries a client session and so needs the leader's time: its
    /// text ends with `"seq":N}` (a key or value cannot end a command that way).
    public static func needsLogTime(_ text: String) -> Bool {
        var utf8 = text.utf8.reversed().makeIterator()
        guard utf8.next() == UInt8(ascii: "}") else { return false }
        var digits = 0
        var next = utf8.next()
        while let byte = next, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            digits += 1
            next = utf8.next()
        }
        guard digits > 0, next == UInt8(ascii: ":") else { return false }
        for expected in "\"qes\"".utf8 where utf8.next() != expected { return false }
        return true
    }

    /// Adds the leader's time and session timeout to a command that carries a session.
    public static func stamped(_ text: String, time: Int64, sessionTimeoutSeconds: Int64) -> String {
        String(text.dropLast()) + ",\"t\":\(time),\"st\":\(sessionTimeoutSeconds)}"
    }

    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    static let unlimited = WireLimits(keyBytes: 1 << 30, valueBytes: 1 << 30, lineBytes: 1 << 30)

    /// Reads any command `encoded` wrote (and the older shapes, which are the same for put,
    /// delete and cas).
    public static func decode(_ text: String) throws -> KVCommand {
        guard case .object(let object) = try JSONParser.parse(text) else {
            throw DecodingError(description: "command is not a JSON object")
        }
        guard let op = object["op"]?.stringValue else { throw DecodingError(description: "command lacks \"op\"") }
        var command: KVCommand
        do {
            switch op {
            case "read":
                command = KVCommand(.read(key: try RequestParser.key(object, unlimited)))
            case "lease_grant":
                guard let ttl = object["ttlMs"]?.numberText.flatMap({ Int64($0) }) else { throw DecodingError(description: "lease_grant lacks ttlMs") }
                command = KVCommand(.leaseGrant(ttlMs: ttl))
            case "lease_revoke":
                guard let id = object["lease"]?.numberText.flatMap({ Int64($0) }) else { throw DecodingError(description: "lease_revoke lacks lease") }
                command = KVCommand(.leaseRevoke(id: id, expired: object["expired"]?.boolValue ?? false))
            default:
                switch try RequestParser.operation(op, object, unlimited, nested: false) {
                case .put(let key, let value, let lease): command = KVCommand(.put(key: key, value: value, lease: lease))
                case .delete(let key): command = KVCommand(.delete(key: key))
                case .deletePrefix(let prefix): command = KVCommand(.deletePrefix(prefix))
                case .cas(let key, let expect, let value): command = KVCommand(.cas(key: key, expect: expect, value: value))
                case .casRevision(let key, let revision, let value):
                    command = KVCommand(.casRevision(key: key, expectRevision: revision, value: value))
                case .txn(let transaction): command = KVCommand(.txn(transaction))
                default: throw DecodingError(description: "\(op) is not a command")
                }
            }
            command.session = try RequestParser.session(object)
        } catch let error as RequestError {
            throw DecodingError(description: error.message)
        }
        command.time = object["t"]?.numberText.flatMap { Int64($0) }
        command.sessionTimeoutSeconds = object["st"]?.numberText.flatMap { Int64($0) }
        return command
    }
}
