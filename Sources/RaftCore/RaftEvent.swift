/// Something a person watching the cluster wants to read about. The core reports these in
/// `Ready.events`; the runtime prints them. They never influence the protocol.
public enum RaftEvent: Sendable, Equatable, CustomStringConvertible {
    case electionStarted(term: Term, preVote: Bool)
    case voteGranted(candidate: NodeID, term: Term, preVote: Bool)
    case voteRefused(candidate: NodeID, term: Term, preVote: Bool, reason: String)
    case becameLeader(term: Term)
    case steppedDown(term: Term, reason: String)
    case followingLeader(leader: NodeID, term: Term)
    case installedSnapshot(index: LogIndex, term: Term, bytes: Int)

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
        }
    }
}
