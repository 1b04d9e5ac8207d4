/// Something a person watching the cluster wants to read about. The core reports these in
/// `Ready.events`; the runtime prints them. They never influence the protocol.
public enum RaftEvent: Sendable, Equatable, Codable, CustomStringConvertible {
    case electionStarted(term: Term, preVote: Bool)
    case voteGranted(candidate: NodeID, term: Term, preVote: Bool)
    case voteRefused(candidate: NodeID, term: Term, preVote: Bool, reason: String)
    case becameLeader(term: Term)
    case steppedDown(term: Term, reason: String)
    case followingLeader(leader: NodeID, term: Term)
    case installedSnapshot(index: LogIndex, term: Term, bytes: Int)
    /// A configuration entry entered this node's log (in force from now on), or committed.
    case configurationAppended(index: LogIndex, configuration: ClusterConfiguration)
    case configurationCommitted(index: LogIndex, configuration: ClusterConfiguration)
    /// A configuration entry was cut from the log: the one before it is in force again.
    case configurationReverted(to: ClusterConfiguration)
    case transferStarted(to: NodeID, term: Term)
    case transferAborted(to: NodeID, reason: String)
    /// A message that cannot happen under Raft's assumptions was ignored (a disk lost written data).
    case ignoredImpossible(reason: String)

    /// Worth a warning rather than a note.
    public var isAlarming: Bool {
        if case .ignoredImpossible = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .electionStarted(let term, let preVote):
            return preVote ? "pre-election started for term \(term)" : "election started for term \(term)"
        case .voteGranted(let candidate, let term, let preVote):
            return "\(preVote ? "pre-vote" : "vote") granted to node \(candidate) for term \(term)"
        case .voteRefused(let candidate, let term, let preVote, let reason):
            return "\(preVote ? "pre-vote" : "vote") refused to node \(candidate) for term \(term): \(reason)"
        case .becameLeader(let term):
            return "became leader in term \(term)"
        case .steppedDown(let term, let reason):
            return "stepped down as leader in term \(term): \(reason)"
        case .followingLeader(let leader, let term):
            return "following leader \(leader) in term \(term)"
        case .installedSnapshot(let index, let term, let bytes):
            return "installed the leader's snapshot through entry \(index) (term \(term), \(bytes) bytes)"
        case .configurationAppended(let index, let configuration):
            return "configuration at entry \(index) in force (not yet committed): \(configuration)"
        case .configurationCommitted(let index, let configuration):
            return "configuration at entry \(index) committed: \(configuration)"
        case .configurationReverted(let configuration):
            return "uncommitted configuration cut from the log; back to \(configuration)"
        case .transferStarted(let target, let term):
            return "handing leadership of term \(term) to node \(target)"
        case .transferAborted(let target, let reason):
            return "leadership transfer to node \(target) abandoned: \(reason)"
        case .ignoredImpossible(let reason):
            return "ignored an impossible message: \(reason)"
        }
    }
}
