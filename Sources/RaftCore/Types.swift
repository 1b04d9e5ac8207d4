/// Identifies a node: any non-negative integer, unique within a cluster.
public typealias NodeID = Int
/// A Raft term. Terms only grow.
public typealias Term = Int
/// A position in the replicated log; the first entry has index 1, 0 means "before the log".
public typealias LogIndex = Int

/// The part of a node's state that must be on stable storage before the node acts on it:
/// the current term and the vote cast in it (Raft paper, Figure 2, "Persistent state").
public struct HardState: Sendable, Equatable, Codable, CustomStringConvertible {
    public var term: Term
    public var votedFor: NodeID?

    public init(term: Term = 0, votedFor: NodeID? = nil) {
        self.term = term
        self.votedFor = votedFor
    }

    public var description: String { "term=\(term) vote=\(votedFor.map(String.init) ?? "none")" }
}

/// One log entry. `data` is the client command (opaque to the core). An entry with empty `data`
/// is either the no-op a new leader appends so that it can commit entries of earlier terms
/// (§5.4.2, §8), or, when `configuration` is set, a membership change: the whole new
/// configuration, in force on a node as soon as the entry is in its log (thesis §4.1).
public struct Entry: Sendable, Equatable, Codable, CustomStringConvertible {
    public var index: LogIndex
    public var term: Term
    public var data: String
    public var configuration: ClusterConfiguration?

    public init(index: LogIndex, term: Term, data: String, configuration: ClusterConfiguration? = nil) {
        precondition(configuration == nil || data.isEmpty, "a configuration entry carries no command")
        self.index = index
        self.term = term
        self.data = data
        self.configuration = configuration
    }

    public var isNoop: Bool { data.isEmpty && configuration == nil }
    public var isConfiguration: Bool { configuration != nil }

    public var description: String {
        if let configuration { return "\(index)@\(term)(config \(configuration))" }
        return "\(index)@\(term)" + (isNoop ? "(noop)" : "")
    }
}

/// The roles a node moves between (§5.1, plus the pre-candidate phase of PreVote, thesis §9.6).
public enum RoleKind: String, Sendable, Equatable, Codable {
    case follower, preCandidate, candidate, leader
}

/// What `RaftNode.propose` did with a command.
public enum ProposalResult: Sendable, Equatable, Codable {
    /// Appended at the leader at `index` in `term`. The command is committed when the entry at
    /// `index` is applied with this `term`; if an entry with another term is applied there, it was lost.
    case accepted(index: LogIndex, term: Term)
    /// This node is not the leader (or is handing leadership over); `leaderHint` is the leader
    /// it knows of, if any.
    case notLeader(leaderHint: NodeID?)
}

/// A state-machine snapshot: everything applied through `index` (whose entry had `term`),
/// serialized by the runtime, and the cluster configuration in force at `index`. The core stores
/// and ships the bytes without reading them (they may stay in the runtime's file: see
/// `SnapshotData`). `configuration` is nil only for snapshots written before configurations were
/// recorded; such a node uses its bootstrap configuration.
public struct Snapshot: Sendable, Equatable, Codable, CustomStringConvertible {
    public var index: LogIndex
    public var term: Term
    public var data: SnapshotData
    public var configuration: ClusterConfiguration?

    public init(index: LogIndex, term: Term, data: SnapshotData, configuration: ClusterConfiguration? = nil) {
        self.index = index
        self.term = term
        self.data = data
        self.configuration = configuration
    }

    public init(index: LogIndex, term: Term, data: [UInt8], configuration: ClusterConfiguration? = nil) {
        self.init(index: index, term: term, data: SnapshotData(data), configuration: configuration)
    }

    public var description: String { "snapshot \(index)@\(term) (\(data.count) bytes)" }
}

/// A snapshot arriving from the leader, kept as the chunks received so far: adding one never
/// copies those before it, even while a copy of the node is held elsewhere (a flight
/// recorder's checkpoint), so receiving a large snapshot stays linear in its size.
struct IncomingSnapshot: Sendable, Equatable, Codable {
    var index: LogIndex
    var term: Term
    var configuration: ClusterConfiguration?
    private(set) var chunks: [[UInt8]] = []
    private(set) var received = 0

    init(index: LogIndex, term: Term, configuration: ClusterConfiguration?) {
        self.index = index
        self.term = term
        self.configuration = configuration
    }

    mutating func add(_ chunk: [UInt8]) {
        chunks.append(chunk)
        received += chunk.count
    }

    func assembled() -> Snapshot {
        var data: [UInt8] = []
        data.reserveCapacity(received)
        for chunk in chunks { data.append(contentsOf: chunk) }
        return Snapshot(index: index, term: term, data: data, configuration: configuration)
    }

    private enum CodingKeys: String, CodingKey { case index, term, configuration, chunks }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(LogIndex.self, forKey: .index)
        term = try container.decode(Term.self, forKey: .term)
        configuration = try container.decodeIfPresent(ClusterConfiguration.self, forKey: .configuration)
        for text in try container.decode([String].self, forKey: .chunks) {
            add(try Base64.decode(text, codingPath: container.codingPath))
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(term, forKey: .term)
        try container.encodeIfPresent(configuration, forKey: .configuration)
        try container.encode(chunks.map(Base64.encode), forKey: .chunks)
    }
}

/// A linearizable read is safe to serve once the state machine has applied `index`.
public struct ReadState: Sendable, Equatable, Codable {
    public var id: UInt64
    public var index: LogIndex

    public init(id: UInt64, index: LogIndex) {
        self.id = id
        self.index = index
    }
}
