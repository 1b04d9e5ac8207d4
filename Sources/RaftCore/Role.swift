/// The answers an election has collected from the voters of the candidate's configuration.
/// Answers from anyone else are ignored: learners and strangers do not vote. Whether they win
/// is the configuration's `QuorumRule`'s to say (`voteResult(tally.answer)`).
struct VoteTally: Sendable, Equatable, Codable {
    private var answers: NodeMap<Answer>

    enum Answer: Sendable, Equatable, Codable { case none, granted, refused }

    init(voters: [NodeID]) {
        answers = NodeMap(voters) { _ in .none }
    }

    /// Keeps a voter's first answer; later ones (duplicates, changes of mind) are ignored.
    mutating func record(_ voter: NodeID, granted: Bool) {
        answers.update(voter) { answer in
            if answer == .none { answer = granted ? .granted : .refused }
        }
    }

    /// A voter's answer: true granted, false refused, nil none yet (or not asked).
    func answer(_ voter: NodeID) -> Bool? {
        switch answers[voter] {
        case .granted?: return true
        case .refused?: return false
        case .none?, nil: return nil
        }
    }
}

/// Role-only state lives inside the role, so a follower has no replication progress to touch.
/// Leader state is changed only through `RaftNode.withLeaderState`.
enum Role: Sendable, Equatable, Codable {
    case follower
    case preCandidate(VoteTally)
    case candidate(VoteTally)
    case leader(LeaderState)

    var kind: RoleKind {
        switch self {
        case .follower: return .follower
        case .preCandidate: return .preCandidate
        case .candidate: return .candidate
        case .leader: return .leader
        }
    }
}

/// What a leader knows about each node it replicates to (voters, learners, and a removed node
/// until its removal commits), its ReadIndex bookkeeping, and a leadership transfer in progress.
struct LeaderState: Sendable, Equatable, Codable {
    var progress: NodeMap<Progress>
    /// Per node: the highest read context it has answered in this term.
    var readAcks: NodeMap<UInt64>
    /// Reads waiting for the next leadership round: this node's, and followers' (by follower,
    /// in the order they asked).
    var queuedReads: [UInt64] = []
    var queuedFollowerReads: [FollowerReads] = []
    /// The round in flight: its context, the commit index it protects, the reads riding on it.
    var readRound: ReadRound?
    var lastReadContext: UInt64 = 0
    /// Leadership is being handed to this voter; proposals are refused meanwhile.
    var transferee: NodeID?
    var transferElapsed = 0

    struct ReadRound: Sendable, Equatable, Codable {
        var context: UInt64
        var index: LogIndex
        var ids: [UInt64]
        var followerReads: [FollowerReads]
    }

    /// Reads a follower asked for, answered together once a round confirms them.
    struct FollowerReads: Sendable, Equatable, Codable {
        var follower: NodeID
        var ids: [UInt64]
    }

    init(progress: NodeMap<Progress>) {
        self.progress = progress
        self.readAcks = NodeMap(progress.ids) { _ in 0 }
    }
}

extension RaftNode {
    /// Leader state to read within one expression (`leaderState?.transferee`); nil unless this
    /// node leads. Not to be kept in a variable across a change to the node: that extra reference
    /// would make the change copy the maps.
    var leaderState: LeaderState? {
        if case .leader(let state) = role { return state }
        return nil
    }

    /// Runs `body` on this node's leader state in place and returns what it returns; nil, without
    /// running `body`, when the node does not lead. Every change to leader state goes through here.
    ///
    /// Swift cannot change an enum's payload in place: `if case .leader(var state) = role` copies
    /// it, and while `role` still holds the original, the first write to `state.progress` copies
    /// the whole map (copy-on-write), on every message. So the state is taken out and `role`
    /// holds a payload-free placeholder until `body` returns, which leaves the state's storage
    /// uniquely referenced. `body` is handed the leader state alone: Swift's exclusivity rule
    /// keeps it from reaching the node (`self`) meanwhile, so the placeholder is never seen.
    ///
    /// The alternative, leader state in an optional field beside a payload-free role, needs no
    /// placeholder, but it lets "leads" and "has leader state" disagree, and it changes the
    /// node's Codable form, which the flight recorder's recordings (checkpoints) decode.
    @discardableResult
    mutating func withLeaderState<Result>(_ body: (inout LeaderState) -> Result) -> Result? {
        guard case .leader(var state) = role else { return nil }
        role = .follower  // the placeholder: `state` is now the only reference to its storage
        defer { role = .leader(state) }
        return body(&state)
    }
}
