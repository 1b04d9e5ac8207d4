/// A Raft message on its way between two nodes. `term` is the sender's term, except for a
/// pre-vote request (the term the sender would campaign in) and a granted pre-vote response
/// (the term of the request it grants).
public struct Envelope: Sendable, Equatable, Codable, CustomStringConvertible {
    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var message: Message

    public init(from: NodeID, to: NodeID, term: Term, message: Message) {
        self.from = from
        self.to = to
        self.term = term
        self.message = message
    }

    public var description: String { "\(from)->\(to) t\(term) \(message)" }
}

/// The payloads of the Raft protocol (Figure 2), with PreVote folded into the vote messages.
public enum Message: Sendable, Equatable, Codable, CustomStringConvertible {
    case voteRequest(VoteRequest)
    case voteResponse(VoteResponse)
    case appendRequest(AppendRequest)
    case appendResponse(AppendResponse)
    case snapshotRequest(SnapshotChunk)
    case snapshotResponse(SnapshotChunkResponse)
    /// Leadership transfer (thesis §3.10): the leader tells a caught-up voter to start an
    /// election at once, without a pre-vote, and voters set aside the leader lease for it.
    case timeoutNow
    /// ReadIndex at a follower (thesis §6.4): a follower asks its leader for a read point for
    /// its reads, and the leader answers once a quorum has confirmed it leads.
    case readIndexRequest(ReadIndexRequest)
    case readIndexResponse(ReadIndexResponse)

    public var description: String {
        switch self {
        case .voteRequest(let m): return m.description
        case .voteResponse(let m): return m.description
        case .appendRequest(let m): return m.description
        case .appendResponse(let m): return m.description
        case .snapshotRequest(let m): return m.description
        case .snapshotResponse(let m): return m.description
        case .timeoutNow: return "TimeoutNow"
        case .readIndexRequest(let m): return m.description
        case .readIndexResponse(let m): return m.description
        }
    }
    private enum CodingKeys: String, CodingKey {
        case voteRequest, voteResponse, appendRequest, appendResponse, snapshotRequest, snapshotResponse, timeoutNow
        case readIndexRequest, readIndexResponse
    }

    private struct Nothing: Codable {}

    /// One key naming the kind, holding its fields: `{"appendRequest": {...}}`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath, debugDescription: "a message has exactly one kind"))
        }
        switch key {
        case .voteRequest: self = .voteRequest(try container.decode(VoteRequest.self, forKey: key))
        case .voteResponse: self = .voteResponse(try container.decode(VoteResponse.self, forKey: key))
        case .appendRequest: self = .appendRequest(try container.decode(AppendRequest.self, forKey: key))
        case .appendResponse: self = .appendResponse(try container.decode(AppendResponse.self, forKey: key))
        case .snapshotRequest: self = .snapshotRequest(try container.decode(SnapshotChunk.self, forKey: key))
        case .snapshotResponse: self = .snapshotResponse(try container.decode(SnapshotChunkResponse.self, forKey: key))
        case .timeoutNow: self = .timeoutNow
        case .readIndexRequest: self = .readIndexRequest(try container.decode(ReadIndexRequest.self, forKey: key))
        case .readIndexResponse: self = .readIndexResponse(try container.decode(ReadIndexResponse.self, forKey: key))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .voteRequest(let m): try container.encode(m, forKey: .voteRequest)
        case .voteResponse(let m): try container.encode(m, forKey: .voteResponse)
        case .appendRequest(let m): try container.encode(m, forKey: .appendRequest)
        case .appendResponse(let m): try container.encode(m, forKey: .appendResponse)
        case .snapshotRequest(let m): try container.encode(m, forKey: .snapshotRequest)
        case .snapshotResponse(let m): try container.encode(m, forKey: .snapshotResponse)
        case .timeoutNow: try container.encode(Nothing(), forKey: .timeoutNow)
        case .readIndexRequest(let m): try container.encode(m, forKey: .readIndexRequest)
        case .readIndexResponse(let m): try container.encode(m, forKey: .readIndexResponse)
        }
    }
}

/// RequestVote (§5.2), or its PreVote twin when `preVote` is set. `transfer` marks an election
/// the old leader asked for (TimeoutNow): voters grant it even within the leader lease.
public struct VoteRequest: Sendable, Equatable, Codable, CustomStringConvertible {
    public var preVote: Bool
    public var lastLogIndex: LogIndex
    public var lastLogTerm: Term
    public var transfer: Bool

    public init(preVote: Bool, lastLogIndex: LogIndex, lastLogTerm: Term, transfer: Bool = false) {
        self.preVote = preVote
        self.lastLogIndex = lastLogIndex
        self.lastLogTerm = lastLogTerm
        self.transfer = transfer
    }

    public var description: String {
        "\(preVote ? "PreVote" : "Vote")(last \(lastLogIndex)@\(lastLogTerm)\(transfer ? " transfer" : ""))"
    }
}

public struct VoteResponse: Sendable, Equatable, Codable, CustomStringConvertible {
    public var preVote: Bool
    public var granted: Bool

    public init(preVote: Bool, granted: Bool) {
        self.preVote = preVote
        self.granted = granted
    }

    public var description: String { "\(preVote ? "PreVote" : "Vote")\(granted ? "Granted" : "Refused")" }
}

/// AppendEntries (§5.3); with no entries it is a heartbeat that still checks `prevLogIndex`.
public struct AppendRequest: Sendable, Equatable, Codable, CustomStringConvertible {
    public var prevLogIndex: LogIndex
    public var prevLogTerm: Term
    public var entries: [Entry]
    public var leaderCommit: LogIndex
    /// Non-zero on heartbeats that confirm leadership for ReadIndex; echoed in the response.
    public var readContext: UInt64

    public init(prevLogIndex: LogIndex, prevLogTerm: Term, entries: [Entry], leaderCommit: LogIndex, readContext: UInt64 = 0) {
        self.prevLogIndex = prevLogIndex
        self.prevLogTerm = prevLogTerm
        self.entries = entries
        self.leaderCommit = leaderCommit
        self.readContext = readContext
    }

    public var description: String {
        let range = entries.isEmpty ? "none" : "\(entries[0].index)...\(entries[entries.count - 1].index)"
        return "Append(prev \(prevLogIndex)@\(prevLogTerm) entries \(range) commit \(leaderCommit)\(readContext > 0 ? " read \(readContext)" : ""))"
    }
}

/// The answer to AppendEntries. On success `matchIndex` is the last index known to match the
/// leader's log. On refusal `rejectedIndex` is the request's `prevLogIndex`, and the conflict
/// hint lets the leader skip a whole term per round trip (§5.3): `hintTerm` is the follower's
/// term at `rejectedIndex` (nil when its log is shorter) and `hintIndex` the first index it holds
/// in that term (or its last index + 1 when its log is shorter).
public struct AppendResponse: Sendable, Equatable, Codable, CustomStringConvertible {
    public var success: Bool
    public var matchIndex: LogIndex
    public var rejectedIndex: LogIndex
    public var hintIndex: LogIndex
    public var hintTerm: Term?
    /// The request's `readContext`, echoed.
    public var readContext: UInt64

    public init(success: Bool, matchIndex: LogIndex, rejectedIndex: LogIndex = 0, hintIndex: LogIndex = 0, hintTerm: Term? = nil,
                readContext: UInt64 = 0) {
        self.success = success
        self.matchIndex = matchIndex
        self.rejectedIndex = rejectedIndex
        self.hintIndex = hintIndex
        self.hintTerm = hintTerm
        self.readContext = readContext
    }

    public var description: String {
        if success { return "AppendOK(match \(matchIndex))" }
        return "AppendRefused(prev \(rejectedIndex) hint \(hintIndex)@\(hintTerm.map(String.init) ?? "-"))"
    }
}

/// One piece of InstallSnapshot (§7): the leader's snapshot at `index`/`term`, sent in chunks
/// of bytes starting at `offset`; `done` marks the last one. Every chunk carries the snapshot's
/// configuration (it is small), so the receiver has it whichever chunk completes the snapshot.
public struct SnapshotChunk: Sendable, Equatable, Codable, CustomStringConvertible {
    public var index: LogIndex
    public var term: Term
    public var offset: Int
    public var data: [UInt8]
    public var done: Bool
    public var configuration: ClusterConfiguration

    public init(index: LogIndex, term: Term, offset: Int, data: [UInt8], done: Bool, configuration: ClusterConfiguration) {
        self.index = index
        self.term = term
        self.offset = offset
        self.data = data
        self.done = done
        self.configuration = configuration
    }

    public var description: String {
        "Snapshot(\(index)@\(term) bytes \(offset)..<\(offset + data.count)\(done ? " done" : ""))"
    }
    private enum CodingKeys: String, CodingKey { case index, term, offset, data, done, configuration }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(LogIndex.self, forKey: .index)
        term = try container.decode(Term.self, forKey: .term)
        offset = try container.decode(Int.self, forKey: .offset)
        data = try Base64.decode(container.decode(String.self, forKey: .data), codingPath: container.codingPath)
        done = try container.decode(Bool.self, forKey: .done)
        configuration = try container.decode(ClusterConfiguration.self, forKey: .configuration)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(term, forKey: .term)
        try container.encode(offset, forKey: .offset)
        try container.encode(Base64.encode(data), forKey: .data)
        try container.encode(done, forKey: .done)
        try container.encode(configuration, forKey: .configuration)
    }
}

/// The follower's answer to a chunk that did not complete a snapshot: it holds `received` bytes
/// of the snapshot at `index` and wants the chunk starting there. (A completed snapshot is
/// answered with a successful `AppendResponse` instead.)
public struct SnapshotChunkResponse: Sendable, Equatable, Codable, CustomStringConvertible {
    public var index: LogIndex
    public var received: Int

    public init(index: LogIndex, received: Int) {
        self.index = index
        self.received = received
    }

    public var description: String { "SnapshotAck(\(index) has \(received))" }
}

/// A follower's reads waiting for a read point: `ids` are the follower's own names for them,
/// which the leader hands back. A follower numbers its reads so that no id repeats, not even
/// across its restarts: an answer may arrive after the follower came back from a crash.
public struct ReadIndexRequest: Sendable, Equatable, Codable, CustomStringConvertible {
    public var ids: [UInt64]

    public init(ids: [UInt64]) {
        self.ids = ids
    }

    public var description: String { "ReadIndex(\(ids.count) read\(ids.count == 1 ? "" : "s"))" }
}

/// The leader's answer to a `ReadIndexRequest`: a quorum confirmed its leadership after the
/// request arrived, so the reads `ids` may be served once the follower has applied `index`.
/// A leader that cannot answer (it lost its leadership) says nothing: the follower gives up on
/// its own (see `RaftNode.readIndex(ids:)`).
public struct ReadIndexResponse: Sendable, Equatable, Codable, CustomStringConvertible {
    public var ids: [UInt64]
    public var index: LogIndex

    public init(ids: [UInt64], index: LogIndex) {
        self.ids = ids
        self.index = index
    }

    public var description: String { "ReadIndexAt(\(index) for \(ids.count) read\(ids.count == 1 ? "" : "s"))" }
}
