import RaftCore
import RaftVerification

/// Comparisons of a node's state, in words: a recorded core against a replayed one, and a
/// restarted core against what its disk held before.
enum StateComparison {
    /// What a restarted node lacks of what its engine had written (nil: nothing). Every Ready
    /// was synced before the engine went on, so after a clean stop the files hold at least that.
    static func lostDurableState(_ durable: DurableView, loaded core: RaftNode) -> String? {
        var lost: [String] = []
        let written = durable.hardState
        if core.term < written.term {
            lost.append("term \(written.term) became \(core.term)")
        } else if core.term == written.term, let vote = written.votedFor, core.votedFor != vote {
            lost.append("its vote for node \(vote) in term \(written.term) was forgotten")
        }
        let last = durable.last
        if last.index > core.log.snapshotIndex && core.log.term(at: last.index) != last.term {
            lost.append("its log ended at entry \(last.index) (term \(last.term)), now at \(core.log.lastIndex) (term \(core.log.lastTerm))")
        }
        return lost.isEmpty ? nil : lost.joined(separator: "; ")
    }

    /// What differs between a recorded core and the re-run one, in words (nil: they are equal).
    static func difference(recorded: RaftNode, replayed: RaftNode) -> String? {
        guard recorded != replayed else { return nil }
        var fields: [String] = []
        func compare<T: Equatable>(_ name: String, _ a: T, _ b: T) {
            if a != b { fields.append("\(name) recorded \(a), replayed \(b)") }
        }
        compare("term", recorded.term, replayed.term)
        compare("vote", recorded.votedFor.map(String.init) ?? "none", replayed.votedFor.map(String.init) ?? "none")
        compare("role", recorded.roleKind.rawValue, replayed.roleKind.rawValue)
        compare("leader", recorded.leaderID.map(String.init) ?? "none", replayed.leaderID.map(String.init) ?? "none")
        compare("commit index", recorded.commitIndex, replayed.commitIndex)
        compare("last index", recorded.log.lastIndex, replayed.log.lastIndex)
        compare("last term", recorded.log.lastTerm, replayed.log.lastTerm)
        compare("snapshot index", recorded.log.snapshotIndex, replayed.log.snapshotIndex)
        compare("election timer", recorded.electionElapsed, replayed.electionElapsed)
        compare("election timeout", recorded.electionTimeout, replayed.electionTimeout)
        compare("configuration", recorded.configuration.description, replayed.configuration.description)
        compare("replication", recorded.replicationStatus, replayed.replicationStatus)
        return fields.isEmpty ? "internal state (progress, timers or pending work) differs" : fields.joined(separator: "; ")
    }
}
