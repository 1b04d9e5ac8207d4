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
        learnerCatchUpEntries: Int = 1000
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
        if maxInflightAppends < 1 { return "maxInflightAppends must be at least 1" }
        if snapshotChunkBytes < 1 { return "snapshotChunkBytes must be at least 1" }
        if learnerCatchUpEntries < 0 { return "learnerCatchUpEntries must not be negative" }
        return nil
    }
}
