/// The one answer to "is this a quorum?" for a configuration: it owns the list of voters and
/// the majority rule over them, and every decision the core takes by quorum asks it — the
/// commit index (`committedIndex`), elections (`voteResult`), CheckQuorum and ReadIndex
/// confirmation (`count`/`isQuorum`). Learners are not in it, and an id that is not a voter
/// (a learner, a removed node, a stranger) is never asked about, so it never counts.
///
/// Callers describe acknowledgements as a function of the voter (`(NodeID) -> …`), never as a
/// number, so the rule alone decides how they combine. That is what joint consensus needs:
/// a joint rule would hold a second voter list (the outgoing configuration) and combine the
/// two answers — the lower of the two committed indexes; an election won only when won in
/// both and lost when lost in either; a quorum only when a quorum of both — while every call
/// site stays as it is (etcd's `quorum.MajorityConfig` and `quorum.JointConfig`).
///
/// Voters are kept sorted by id and each acknowledgement is asked in that order, so nothing
/// depends on hashing. A rule without voters decides nothing: no index is committed, no
/// election is won, no set of acknowledgements is a quorum.
public struct QuorumRule: Sendable, Equatable, CustomStringConvertible {
    /// The voters, sorted by id, each once.
    public let voters: [NodeID]

    public init(voters: some Sequence<NodeID>) {
        var sorted: [NodeID] = []
        for id in voters.sorted() where sorted.last != id { sorted.append(id) }
        self.voters = sorted
    }

    /// `voters` must already be sorted and free of duplicates (a configuration's are).
    init(sortedVoters voters: [NodeID]) {
        self.voters = voters
    }

    /// Acknowledgements a decision needs: a majority of the voters (one more than half).
    public var size: Int { voters.count / 2 + 1 }

    /// The outcome of an election under this rule.
    public enum VoteResult: Sendable, Equatable {
        /// A quorum granted its vote.
        case won
        /// Too many refused (or can no longer answer) for a quorum to grant it.
        case lost
        /// Neither yet: it depends on voters that have not answered.
        case pending
    }

    /// How many voters acknowledged something, and whether they are a quorum.
    public struct Count: Sendable, Equatable, CustomStringConvertible {
        public let acknowledged: Int
        public let voters: Int
        public let isQuorum: Bool

        /// "2 of 5 voters", as events report it.
        public var description: String { "\(acknowledged) of \(voters) voters" }
    }

    /// The highest index that a quorum of voters has acknowledged: `acked` gives each voter's
    /// highest acknowledged index, nil for none (counted as 0). Sorting the acknowledged indexes
    /// from highest down, it is the `size`-th: that many voters hold it or more.
    public func committedIndex(acked: (NodeID) -> LogIndex?) -> LogIndex {
        guard !voters.isEmpty else { return 0 }
        // A few voters: sort their indexes in a stack buffer, no heap allocation on the commit path.
        return withUnsafeTemporaryAllocation(of: LogIndex.self, capacity: voters.count) { buffer in
            var indexes = buffer  // the buffer pointer is a let; the memory it points to is ours to sort
            for (position, voter) in voters.enumerated() {
                indexes.initializeElement(at: position, to: acked(voter) ?? 0)
            }
            indexes.sort(by: >)
            return indexes[size - 1]
        }
    }

    /// The election's outcome given each voter's answer: true granted, false refused, nil not
    /// yet answered. Decided as soon as the answers in hand decide it.
    public func voteResult(_ vote: (NodeID) -> Bool?) -> VoteResult {
        var granted = 0
        var refused = 0
        for voter in voters {
            switch vote(voter) {
            case true?: granted += 1
            case false?: refused += 1
            case nil: break
            }
        }
        if granted >= size { return .won }
        if refused > voters.count - size { return .lost }  // the rest cannot make a quorum
        return .pending
    }

    /// Counts the voters for which `acked` holds.
    public func count(_ acked: (NodeID) -> Bool) -> Count {
        var acknowledged = 0
        for voter in voters where acked(voter) { acknowledged += 1 }
        return Count(acknowledged: acknowledged, voters: voters.count, isQuorum: acknowledged >= size)
    }

    /// Whether the voters for which `acked` holds are a quorum.
    public func isQuorum(_ acked: (NodeID) -> Bool) -> Bool {
        count(acked).isQuorum
    }

    /// Whether `ids` include a quorum of the voters; other ids and repeats are ignored.
    public func isQuorum(_ ids: some Sequence<NodeID>) -> Bool {
        let ids = Array(ids)
        return isQuorum { ids.contains($0) }
    }

    public var description: String {
        "majority of [\(voters.map(String.init).joined(separator: ","))]"
    }
}

extension ClusterConfiguration {
    /// The rule every quorum of this configuration is counted by: a majority of its voters.
    public var quorumRule: QuorumRule { QuorumRule(sortedVoters: voters) }

    /// Acknowledgements a decision needs (`quorumRule.size`), for code outside the core that
    /// reports or checks a count; the core itself asks `quorumRule`.
    public var quorum: Int { quorumRule.size }
}
