/// Timing and feature switches of one node, in ticks. The runtime converts milliseconds to ticks;
/// the core never sees a clock.
public struct RaftConfig: Sendable, Equatable, Codable {
    /// A leader sends heartbeats every `heartbeatTicks` ticks.
    public var heartbeatTicks: Int
    /// Election timeouts are drawn uniformly from `electionTicksMin ... electionTicksMax`.
    /// `electionTicksMin` is also the CheckQuorum period and the leader-lease length.
    public var electionTicksMin: Int
    public var electionTicksMax: Int
    /// Run a pre-election before raising the term (thesis §9.6), so a node returning from a
    /// partition cannot disrupt a working leader.
    public var preVote: Bool
    /// A leader that has not heard from a majority within `electionTicksMin` steps down, and
    /// followers that heard from a leader within that time ignore vote requests.
    public var checkQuorum: Bool
    /// At most this many entries ride in one AppendEntries message...
    public var maxEntriesPerAppend: Int
    /// ...and, beyond the first entry, at most this many bytes of commands.
    public var maxAppendBytes: Int
    /// At most this many AppendEntries carrying entries are unacknowledged per follower.
    public var maxInflightAppends: Int
    /// InstallSnapshot sends the snapshot in chunks of at most this many bytes.
    public var snapshotChunkBytes: Int
    /// A learner added with `promoteWhenCaughtUp` becomes a voter once its log is at most this
    /// many entries behind the leader's.
    public var learnerCatchUpEntries: Int
    /// After a snapshot, the log keeps this many entries before it (and, at a leader, everything a
    /// follower still receiving a snapshot will need next), so a follower a little behind — or one
    /// that just loaded an older snapshot — catches up from the log instead of a second snapshot
    /// (etcd keeps 5,000 the same way).
    public var snapshotCatchUpEntries: Int

    public init(
        heartbeatTicks: Int = 1,
        electionTicksMin: Int = 10,
        electionTicksMax: Int = 20,
        preVote: Bool = true,
        checkQuorum: Bool = true,
        maxEntriesPerAppend: Int = 512,
        maxAppendBytes: Int = 4 << 20,
        maxInflightAppends: Int = 64,
        snapshotChunkBytes: Int = 1 << 20,
        learnerCatchUpEntries: Int = 1000,
        snapshotCatchUpEntries: Int = 5000
    ) {
        self.heartbeatTicks = heartbeatTicks
        self.electionTicksMin = electionTicksMin
        self.electionTicksMax = electionTicksMax
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        self.maxEntriesPerAppend = maxEntriesPerAppend
        self.maxAppendBytes = maxAppendBytes
        self.maxInflightAppends = maxInflightAppends
        self.snapshotChunkBytes = snapshotChunkBytes
        self.learnerCatchUpEntries = learnerCatchUpEntries
        self.snapshotCatchUpEntries = snapshotCatchUpEntries
    }

    private enum CodingKeys: String, CodingKey {
        case heartbeatTicks, electionTicksMin, electionTicksMax, preVote, checkQuorum, maxEntriesPerAppend, maxAppendBytes
        case maxInflightAppends, snapshotChunkBytes, learnerCatchUpEntries, snapshotCatchUpEntries
    }

    /// Reads recordings made before `snapshotCatchUpEntries` existed (their cores kept no tail: 0).
    public init(from decoder: Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        heartbeatTicks = try values.decode(Int.self, forKey: .heartbeatTicks)
        electionTicksMin = try values.decode(Int.self, forKey: .electionTicksMin)
        electionTicksMax = try values.decode(Int.self, forKey: .electionTicksMax)
        preVote = try values.decode(Bool.self, forKey: .preVote)
        checkQuorum = try values.decode(Bool.self, forKey: .checkQuorum)
        maxEntriesPerAppend = try values.decode(Int.self, forKey: .maxEntriesPerAppend)
        maxAppendBytes = try values.decode(Int.self, forKey: .maxAppendBytes)
        maxInflightAppends = try values.decode(Int.self, forKey: .maxInflightAppends)
        snapshotChunkBytes = try values.decode(Int.self, forKey: .snapshotChunkBytes)
        learnerCatchUpEntries = try values.decode(Int.self, forKey: .learnerCatchUpEntries)
        snapshotCatchUpEntries = try values.decodeIfPresent(Int.self, forKey: .snapshotCatchUpEntries) ?? 0
    }

    /// Describes the first setting that cannot work, or nil when the configuration is usable.
    public func problem() -> String? {
        if heartbeatTicks < 1 { return "heartbeatTicks must be at least 1" }
        if electionTicksMin <= heartbeatTicks {
            return "electionTicksMin (\(electionTicksMin)) must be greater than heartbeatTicks (\(heartbeatTicks))"
        }
        if electionTicksMax < electionTicksMin { return "electionTicksMax must be at least electionTicksMin" }
        if maxEntriesPerAppend < 1 { return "maxEntriesPerAppend must be at least 1" }
        if maxAppendBytes < 1 { return "maxAppendBytes must be at least 1" }
        if snapshotCatchUpEntries < 0 { return "snapshotCatchUpEntries must not be negative" }
        if maxInflightAppends < 1 { return "maxInflightAppends must be at least 1" }
        if snapshotChunkBytes < 1 { return "snapshotChunkBytes must be at least 1" }
        if learnerCatchUpEntries < 0 { return "learnerCatchUpEntries must not be negative" }
        return nil
    }
}
