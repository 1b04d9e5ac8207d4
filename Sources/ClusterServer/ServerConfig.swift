import JSONText
import KVWire
import RaftCore
import RaftStorage
import ClientFront
import ClusterTransport
import MemberNetwork
import NodeHosting
import Observability
import RuntimeSupport

/// One entry of the config's `members`: a node's id and where it listens.
public struct MemberConfig: Sendable, Equatable {
    public var id: Int
    public var raft: String?
    public var client: String?
    public var http: String?
    /// Part of the cluster's first configuration (false: a spare that joins later with `--join`).
    public var initial: Bool

    public init(id: Int, raft: String? = nil, client: String? = nil, http: String? = nil, initial: Bool = true) {
        self.id = id
        self.raft = raft
        self.client = client
        self.http = http
        self.initial = initial
    }
}

/// The server's settings: `config/cluster.json` (keys of the contract, each optional with its
/// default) plus command-line overrides. Milliseconds become ticks here, once; the core only
/// knows ticks.
public struct ServerConfig: Sendable, Equatable {
    public var nodes = 3
    public var proxyHost = "127.0.0.1"
    public var proxyPort = 7070
    public var dataDir = "data"
    public var beatTimeMs = 50
    public var electionTimeoutMinMs = 150
    public var electionTimeoutMaxMs = 300
    public var requestTimeoutMs = 2000
    public var idleTimeoutSeconds = 300
    public var fsync = true
    public var limits = WireLimits()
    public var snapshotEveryEntries = 10_000
    public var adminEnabled = true
    /// Extension: the tick period of every node's timer.
    public var tickMs = 10
    /// Extension: fixes the election randomness (node i uses seed + i); nil draws one at start.
    public var seed: UInt64?
    /// Extension: stretches heartbeats and election timeouts by this factor (slow motion).
    public var slowFactor = 1.0
    /// The members and their addresses, for one node per process (bootstraps a new cluster).
    public var members: [MemberConfig] = []
    /// HTTP: where the API and the web page listen (port 0 picks a free one); off when disabled.
    public var httpHost = "127.0.0.1"
    public var httpPort = 7080
    public var httpEnabled = true
    /// A request whose head or body is still incomplete after this long is answered 408.
    public var httpRequestTimeoutSeconds = 10
    /// Extension, unsafe on purpose: leaders answer linearizable reads from their own state
    /// without confirming leadership, and never step down for lack of a quorum.
    public var unsafeLocalReads = false
    /// Extension: write every node's flight recorder to traceX.jsonl continuously.
    public var record = false
    /// Extension: records each node's flight recorder keeps in memory (0: no recorder).
    public var traceCapacity = 50_000
    /// Idle client sessions (exactly-once writes) are forgotten after this much log time.
    public var sessionTimeoutSeconds = 3600
    /// Entries a log keeps before each snapshot, so a follower a little behind catches up from the
    /// log (and one that just loaded a snapshot is not sent a second).
    public var snapshotCatchUpEntries = 5000
    /// Extension: for a large state, automatic snapshots wait at least `keys / snapshotScaling`
    /// entries, so their cost per write stays the same at any size (0: exactly `snapshotEveryEntries`).
    public var snapshotScaling = 16
    /// Revisions of changes each node keeps so that watchers can resume.
    public var watchHistoryRevisions = 10_000
    /// Tokens, peer secret, TLS and limits against abuse.
    public var security = SecurityConfig()

    public init() {}

    /// Why a configuration was refused: the file, the key and what is wrong.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var key: String?
        public var message: String

        public var description: String {
            if let key { return "\(file): key \"\(key)\": \(message)" }
            return "\(file): \(message)"
        }
    }

    /// Reads `path`. A missing key keeps its default; a key of the wrong type or value is refused.
    public static func load(path: String) throws(Problem) -> ServerConfig {
        let bytes: [UInt8]
        let read: [UInt8]?
        do {
            read = try FileReader.read(path)
        } catch {
            throw Problem(file: path, key: nil, message: "cannot read the file: \(error)")
        }
        guard let read else {
            throw Problem(file: path, key: nil, message: "cannot read the file: it does not exist")
        }
        bytes = read
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw Problem(file: path, key: nil, message: "not valid JSON: \(error)")
        }
        guard case .object(let root) = json else {
            throw Problem(file: path, key: nil, message: "the configuration must be a JSON object")
        }
        return try decode(root, file: path)
    }

    static func decode(_ root: JSONObject, file: String) throws(Problem) -> ServerConfig {
        var config = ServerConfig()
        let reader = Reader(file: file)
        if let value = root["nodes"] { config.nodes = try reader.int(value, "nodes", min: 1, max: ClusterRegistry.maxNodeID + 1) }
        if let value = root["proxy"] {
            let proxy = try reader.object(value, "proxy")
            if let host = proxy["host"] { config.proxyHost = try reader.string(host, "proxy.host") }
            if let port = proxy["port"] { config.proxyPort = try reader.int(port, "proxy.port", min: 0, max: 65535) }
        }
        if let value = root["dataDir"] {
            config.dataDir = try reader.string(value, "dataDir")
            if config.dataDir.isEmpty { throw Problem(file: file, key: "dataDir", message: "must not be empty") }
        }
        if let value = root["beatTimeMs"] { config.beatTimeMs = try reader.int(value, "beatTimeMs", min: 1, max: 60_000) }
        if let value = root["electionTimeoutMs"] {
            let election = try reader.object(value, "electionTimeoutMs")
            if let min = election["min"] { config.electionTimeoutMinMs = try reader.int(min, "electionTimeoutMs.min", min: 1, max: 600_000) }
            if let max = election["max"] { config.electionTimeoutMaxMs = try reader.int(max, "electionTimeoutMs.max", min: 1, max: 600_000) }
        }
        if let value = root["requestTimeoutMs"] { config.requestTimeoutMs = try reader.int(value, "requestTimeoutMs", min: 1, max: 3_600_000) }
        if let value = root["idleTimeoutSeconds"] { config.idleTimeoutSeconds = try reader.int(value, "idleTimeoutSeconds", min: 0, max: 31_536_000) }
        if let value = root["fsync"] { config.fsync = try reader.bool(value, "fsync") }
        if let value = root["limits"] {
            let limits = try reader.object(value, "limits")
            if let key = limits["keyBytes"] { config.limits.keyBytes = try reader.int(key, "limits.keyBytes", min: 1, max: 1 << 30) }
            if let value = limits["valueBytes"] { config.limits.valueBytes = try reader.int(value, "limits.valueBytes", min: 1, max: 1 << 30) }
            if let line = limits["lineBytes"] { config.limits.lineBytes = try reader.int(line, "limits.lineBytes", min: 16, max: 1 << 30) }
        }
        if let value = root["snapshotEveryEntries"] { config.snapshotEveryEntries = try reader.int(value, "snapshotEveryEntries", min: 0, max: Int.max) }
        if let value = root["admin"] {
            let admin = try reader.object(value, "admin")
            if let enabled = admin["enabled"] { config.adminEnabled = try reader.bool(enabled, "admin.enabled") }
        }
        if let value = root["tickMs"] { config.tickMs = try reader.int(value, "tickMs", min: 1, max: 10_000) }
        if let value = root["seed"] { config.seed = UInt64(try reader.int(value, "seed", min: 0, max: Int.max)) }
        if let value = root["slowFactor"] { config.slowFactor = Double(try reader.int(value, "slowFactor", min: 1, max: 1000)) }
        if let value = root["members"] { config.members = try reader.members(value) }
        if let value = root["http"] {
            let http = try reader.object(value, "http")
            if let host = http["host"] { config.httpHost = try reader.string(host, "http.host") }
            if let port = http["port"] { config.httpPort = try reader.int(port, "http.port", min: 0, max: 65535) }
            if let enabled = http["enabled"] { config.httpEnabled = try reader.bool(enabled, "http.enabled") }
            if let seconds = http["requestTimeoutSeconds"] {
                config.httpRequestTimeoutSeconds = try reader.int(seconds, "http.requestTimeoutSeconds", min: 1, max: 3600)
            }
        }
        if let value = root["sessionTimeoutSeconds"] {
            config.sessionTimeoutSeconds = try reader.int(value, "sessionTimeoutSeconds", min: 1, max: 31_536_000)
        }
        if let value = root["snapshotScaling"] {
            config.snapshotScaling = try reader.int(value, "snapshotScaling", min: 0, max: 1_000_000)
        }
        if let value = root["snapshotCatchUpEntries"] {
            config.snapshotCatchUpEntries = try reader.int(value, "snapshotCatchUpEntries", min: 0, max: 100_000_000)
        }
        if let value = root["watchHistoryRevisions"] {
            config.watchHistoryRevisions = try reader.int(value, "watchHistoryRevisions", min: 1, max: 10_000_000)
        }
        try reader.security(root, into: &config.security)
        if let value = root["unsafeLocalReads"] { config.unsafeLocalReads = try reader.bool(value, "unsafeLocalReads") }
        if let value = root["record"] { config.record = try reader.bool(value, "record") }
        if let value = root["traceCapacity"] { config.traceCapacity = try reader.int(value, "traceCapacity", min: 0, max: 100_000_000)
            if config.traceCapacity > 0 && config.traceCapacity < 1000 {
                throw Problem(file: file, key: "traceCapacity", message: "must be 0 (no flight recorder) or at least 1000")
            } }
        try config.validate(file: file)
        return config
    }

    /// Cross-key checks, after overrides too.
    public func validate(file: String) throws(Problem) {
        if electionTimeoutMaxMs < electionTimeoutMinMs {
            throw Problem(file: file, key: "electionTimeoutMs.max", message: "must be at least electionTimeoutMs.min (\(electionTimeoutMinMs))")
        }
        if electionTimeoutMinMs <= beatTimeMs {
            throw Problem(file: file, key: "electionTimeoutMs.min", message: "must be greater than beatTimeMs (\(beatTimeMs)), or followers would time out between heartbeats")
        }
        if limits.lineBytes < limits.keyBytes {
            throw Problem(file: file, key: "limits.lineBytes", message: "must be at least limits.keyBytes")
        }
        if !members.isEmpty && !members.contains(where: \.initial) {
            throw Problem(file: file, key: "members", message: "at least one member must be \"initial\" (the first configuration)")
        }
        if nodes > ClusterRegistry.maxNodeID + 1 {
            throw Problem(file: file, key: "nodes", message: "at most \(ClusterRegistry.maxNodeID + 1) nodes")
        }
    }

    /// The member entry of node `id`, if the config lists it.
    public func member(_ id: Int) -> MemberConfig? { members.first { $0.id == id } }

    /// How every node of this process is set up, in a cluster that starts as `bootstrap`.
    func nodeSettings(bootstrap: ClusterConfiguration) -> NodeSettings {
        var settings = NodeSettings(bootstrap: bootstrap, raftConfig: raftConfig, tickNanos: UInt64(effectiveTickMs) * 1_000_000,
                     snapshotEveryEntries: snapshotEveryEntries, seed: seed,
                     slowWriteWarningNanos: UInt64(Double(beatTimeMs) * slowFactor * 1_000_000),
                     unsafeLocalReads: unsafeLocalReads, traceCapacity: traceCapacity, recordContinuously: record,
                     traceDirectory: dataDirectory, sessionTimeoutSeconds: Int64(sessionTimeoutSeconds))
        settings.watchHistoryRevisions = watchHistoryRevisions
        settings.snapshotScaling = snapshotScaling
        return settings
    }

    /// The first configuration of a cluster of member processes: the initial members, all
    /// voters, with their addresses.
    var memberBootstrap: ClusterConfiguration {
        ClusterConfiguration(members: members.filter(\.initial).map { member in
            Member(id: member.id, isVoter: true,
                   context: MemberAddresses(raft: member.raft, client: member.client, http: member.http).context)
        })
    }

    /// The tick period actually used: `tickMs`, but never longer than a heartbeat.
    public var effectiveTickMs: Int { max(1, min(tickMs, Int(Double(beatTimeMs) * slowFactor))) }

    /// The core's timing in ticks.
    public var raftConfig: RaftConfig {
        let tick = Double(effectiveTickMs)
        let heartbeat = max(1, Int((Double(beatTimeMs) * slowFactor / tick).rounded()))
        let electionMin = max(heartbeat + 1, Int((Double(electionTimeoutMinMs) * slowFactor / tick).rounded()))
        let electionMax = max(electionMin, Int((Double(electionTimeoutMaxMs) * slowFactor / tick).rounded()))
        return RaftConfig(heartbeatTicks: heartbeat, electionTicksMin: electionMin, electionTicksMax: electionMax,
                          checkQuorum: !unsafeLocalReads, snapshotCatchUpEntries: snapshotCatchUpEntries)
    }

    public var dataDirectory: DataDirectory { DataDirectory(path: dataDir) }

    /// Reads typed values, naming the key in every refusal.
    struct Reader {
        let file: String

        func int(_ value: JSONValue, _ key: String, min: Int, max: Int) throws(Problem) -> Int {
            guard let number = value.intValue else {
                throw Problem(file: file, key: key, message: "expected an integer, found \(value.kindName)")
            }
            guard number >= min && number <= max else {
                throw Problem(file: file, key: key, message: "\(number) is out of range (\(min) to \(max))")
            }
            return number
        }

        func string(_ value: JSONValue, _ key: String) throws(Problem) -> String {
            guard let text = value.stringValue else {
                throw Problem(file: file, key: key, message: "expected a string, found \(value.kindName)")
            }
            return text
        }

        func bool(_ value: JSONValue, _ key: String) throws(Problem) -> Bool {
            guard let flag = value.boolValue else {
                throw Problem(file: file, key: key, message: "expected true or false, found \(value.kindName)")
            }
            return flag
        }

        func address(_ value: JSONValue, _ key: String) throws(Problem) -> String {
            let text = try string(value, key)
            guard MemberAddresses.split(text) != nil else {
                throw Problem(file: file, key: key, message: "expected \"host:port\", found \(JSONWriter.quoted(text))")
            }
            return text
        }

        func members(_ value: JSONValue) throws(Problem) -> [MemberConfig] {
            guard let items = value.arrayValue else {
                throw Problem(file: file, key: "members", message: "expected an array of members, found \(value.kindName)")
            }
            var result: [MemberConfig] = []
            for (position, item) in items.enumerated() {
                let key = "members[\(position)]"
                let entry = try object(item, key)
                guard let idValue = entry["id"] else { throw Problem(file: file, key: key + ".id", message: "missing") }
                var member = MemberConfig(id: try int(idValue, key + ".id", min: 0, max: ClusterRegistry.maxNodeID))
                if result.contains(where: { $0.id == member.id }) {
                    throw Problem(file: file, key: key + ".id", message: "node \(member.id) is listed twice")
                }
                if let raft = entry["raft"] { member.raft = try address(raft, key + ".raft") }
                if let client = entry["client"] { member.client = try address(client, key + ".client") }
                if let http = entry["http"] { member.http = try address(http, key + ".http") }
                if let initial = entry["initial"] { member.initial = try bool(initial, key + ".initial") }
                result.append(member)
            }
            return result
        }

        func object(_ value: JSONValue, _ key: String) throws(Problem) -> JSONObject {
            guard let object = value.objectValue else {
                throw Problem(file: file, key: key, message: "expected an object, found \(value.kindName)")
            }
            return object
        }
    }
}
