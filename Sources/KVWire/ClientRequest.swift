import JSONText

/// Which replica may answer a read.
public enum ReadConsistency: String, Sendable, Equatable {
    /// Any replica's applied state (the seed's behaviour); may be stale.
    case eventual
    /// Never stale: confirmed through the leader.
    case linearizable
}

/// A client's request after validation: what to do, and how to answer.
public struct ClientRequest: Sendable, Equatable {
    public var operation: Operation
    /// `"revisions": true`: answers carry the keys' revisions and the store's revision.
    public var revisions: Bool
    /// `"client"` and `"seq"` on a write: applied at most once (see `ClientSession`).
    public var session: ClientSession?

    public init(_ operation: Operation, revisions: Bool = false, session: ClientSession? = nil) {
        self.operation = operation
        self.revisions = revisions
        self.session = session
    }

    /// What a request asks for.
    public enum Operation: Sendable, Equatable {
        case put(key: String, value: String, lease: Int64?)
        case get(key: String, consistency: ReadConsistency)
        case delete(key: String)
        /// Deletes every key that starts with `prefix`.
        case deletePrefix(String)
        /// Writes `value` if the key holds `expect` (nil: the key must be absent).
        case cas(key: String, expect: String?, value: String)
        /// Writes `value` if the key's `modRevision` is `expectRevision` (0: the key must be absent).
        case casRevision(key: String, expectRevision: Int64, value: String)
        case range(RangeQuery)
        case txn(Transaction)
        case admin(AdminRequest)
        /// Follows a key or prefix: answered once, then event lines on the same connection.
        case watch(WatchRequest)
        /// Stops the watch with this name on this connection.
        case unwatch(name: JSONValue)
        case leaseGrant(ttlMs: Int64)
        case leaseKeepAlive(Int64)
        case leaseRevoke(Int64)
        case leaseInfo(Int64)
        /// Extension: every live lease, as the leader keeps them.
        case leaseList
    }

    public static func put(key: String, value: String) -> ClientRequest { ClientRequest(.put(key: key, value: value, lease: nil)) }
    public static func get(key: String, consistency: ReadConsistency) -> ClientRequest { ClientRequest(.get(key: key, consistency: consistency)) }
    public static func delete(key: String) -> ClientRequest { ClientRequest(.delete(key: key)) }
    public static func cas(key: String, expect: String?, value: String) -> ClientRequest {
        ClientRequest(.cas(key: key, expect: expect, value: value))
    }
    public static func admin(_ request: AdminRequest) -> ClientRequest { ClientRequest(.admin(request)) }

    /// The one key the request is about, if it names one.
    public var key: String? {
        switch operation {
        case .put(let key, _, _), .get(let key, _), .delete(let key), .cas(let key, _, _), .casRevision(let key, _, _): return key
        default: return nil
        }
    }

    /// A replicated write: it goes through the leader and the log.
    public var isWrite: Bool {
        switch operation {
        case .put, .delete, .deletePrefix, .cas, .casRevision, .txn, .leaseGrant, .leaseRevoke: return true
        case .get, .range, .admin, .watch, .unwatch, .leaseKeepAlive, .leaseInfo, .leaseList: return false
        }
    }

    /// The op's name in metrics ("put", "get", "range", ...).
    public var opName: String {
        switch operation {
        case .put: return "put"
        case .get: return "get"
        case .delete, .deletePrefix: return "delete"
        case .cas, .casRevision: return "cas"
        case .range: return "range"
        case .txn: return "txn"
        case .admin: return "admin"
        case .watch, .unwatch: return "watch"
        case .leaseGrant, .leaseKeepAlive, .leaseRevoke, .leaseInfo, .leaseList: return "lease"
        }
    }
}

/// A client's identity for exactly-once writes (Raft dissertation §6.3): a write carrying
/// (`client`, `seq`) is applied at most once; a repeat gets the recorded answer, an older `seq`
/// `stale_request`.
public struct ClientSession: Sendable, Equatable {
    public var client: String
    public var seq: Int64

    public init(client: String, seq: Int64) {
        self.client = client
        self.seq = seq
    }

    /// Longest client id accepted, in UTF-8 bytes.
    public static let maxClientBytes = 64
}

/// Keys in UTF-8 byte order: every key, a prefix, or an interval `[from, to)`; continued after a
/// key; at most `limit` of them.
public struct RangeQuery: Sendable, Equatable {
    public var prefix: String?
    public var from: String?
    /// Exclusive; nil: to the end.
    public var to: String?
    /// Continue after this key (the last key of the previous page).
    public var after: String?
    public var limit: Int
    public var keysOnly: Bool
    public var consistency: ReadConsistency

    public static let defaultLimit = 1000
    public static let maxLimit = 10_000

    public init(prefix: String? = nil, from: String? = nil, to: String? = nil, after: String? = nil,
                limit: Int = RangeQuery.defaultLimit, keysOnly: Bool = false, consistency: ReadConsistency = .eventual) {
        self.prefix = prefix
        self.from = from
        self.to = to
        self.after = after
        self.limit = limit
        self.keysOnly = keysOnly
        self.consistency = consistency
    }
}

/// A watch: its name on the connection, what it follows, and from which revision (nil: from the
/// next change).
public struct WatchRequest: Sendable, Equatable {
    public var name: JSONValue
    public var key: String?
    public var prefix: String?
    public var fromRevision: Int64?

    public init(name: JSONValue, key: String? = nil, prefix: String? = nil, fromRevision: Int64? = nil) {
        self.name = name
        self.key = key
        self.prefix = prefix
        self.fromRevision = fromRevision
    }
}

/// Compares, then the success or the failure branch, atomically in one log entry.
public struct Transaction: Sendable, Equatable {
    public var compare: [Compare]
    public var success: [Step]
    public var failure: [Step]

    public init(compare: [Compare], success: [Step], failure: [Step]) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    /// Compares and steps together, at most.
    public static let maxParts = 128

    /// One condition on one key.
    public enum Compare: Sendable, Equatable {
        /// The key holds `value` (nil: it is absent).
        case value(key: String, equals: String?)
        /// The key's `modRevision` is this (0: absent).
        case modRevision(key: String, equals: Int64)
        case exists(key: String, Bool)

        public var key: String {
            switch self {
            case .value(let key, _), .modRevision(let key, _), .exists(let key, _): return key
            }
        }
    }

    /// What a branch does: a put, get, delete or range, as their requests say.
    public enum Step: Sendable, Equatable {
        case put(key: String, value: String, lease: Int64?)
        case get(key: String)
        case delete(key: String)
        case deletePrefix(String)
        case range(RangeQuery)

        public var isWrite: Bool {
            switch self {
            case .put, .delete, .deletePrefix: return true
            case .get, .range: return false
            }
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
    /// Writes a checksummed backup of the store's state at a committed index to `path`.
    case backup(path: String)
    /// Extension: runs a guided scenario by name ("list" lists them); one process only.
    case scenario(name: String)

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
    /// The request's `"token"`, if it carried one (never logged or passed on).
    public var token: String?
}


extension ClientRequest {
    /// A get or range that any replica may answer from its applied state.
    public var isEventualRead: Bool {
        switch operation {
        case .get(_, let consistency): return consistency == .eventual
        case .range(let query): return query.consistency == .eventual
        default: return false
        }
    }
}

extension ClientRequest {
    /// A watch or unwatch: served by the connection it arrives on, not by the router.
    public var isStreamRequest: Bool {
        switch operation {
        case .watch, .unwatch: return true
        default: return false
        }
    }
}
