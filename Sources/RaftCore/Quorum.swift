/// Majority arithmetic, kept apart so it is tested on its own.
enum Quorum {
    static func majority(of clusterSize: Int) -> Int { clusterSize / 2 + 1 }

    /// The highest index held by a majority, given every member's match index.
    static func committedIndex(matchIndexes: [LogIndex]) -> LogIndex {
        let sorted = matchIndexes.sorted(by: >)
        return sorted[majority(of: sorted.count) - 1]
    }
}

/// The answers an election has collected, indexed by node id.
struct VoteTally: Sendable, Equatable {
    enum Outcome { case won, lost, pending }

    private var answers: [Bool?]

    init(clusterSize: Int) {
        answers = Array(repeating: nil, count: clusterSize)
    }

    mutating func record(_ voter: NodeID, granted: Bool) {
        if answers[voter] == nil { answers[voter] = granted }
    }

    var outcome: Outcome {
        let quorum = Quorum.majority(of: answers.count)
        let granted = answers.filter { $0 == true }.count
        let refused = answers.filter { $0 == false }.count
        if granted >= quorum { return .won }
        if refused > answers.count - quorum { return .lost }
        return .pending
    }
}

/// Role-only state lives inside the role, so a follower has no replication progress to touch.
enum Role: Sendable, Equatable {
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

/// What a leader knows about each follower, indexed by node id (its own slot is unused),
/// and its ReadIndex bookkeeping.
struct LeaderState: Sendable, Equatable {
    var progress: [Progress]
    /// Per node: the highest read context it has answered in this term.
    var readAcks: [UInt64]
    /// Reads waiting for the next leadership round.
    var queuedReads: [UInt64] = []
    /// The round in flight: its context, the commit index it protects, the reads riding on it.
    var readRound: ReadRound?
    var lastReadContext: UInt64 = 0

    struct ReadRound: Sendable, Equatable {
        var context: UInt64
        var index: LogIndex
        var ids: [UInt64]
    }

    init(progress: [Progress]) {
        self.progress = progress
        self.readAcks = Array(repeating: 0, count: progress.count)
    }
}
