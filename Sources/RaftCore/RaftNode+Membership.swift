/// Membership changes, one node at a time (thesis §4.1, with the fix Ongaro posted in 2015: a new
/// leader commits an entry of its own term before it appends a change), learner promotion, and
/// leadership transfer (thesis §3.10).
///
/// A configuration is in force on a node as soon as its entry is in that node's log. Because
/// consecutive configurations differ by one node, any majority of the old voters and any majority
/// of the new voters share a node, so two leaders cannot be elected in one term across a change —
/// provided only one change is ever uncommitted. A leader therefore refuses a change while an
/// earlier one is uncommitted, and until it has committed an entry of its own term (before that,
/// a change appended by an earlier leader might still be hiding in some log).
extension RaftNode {
    /// Appends `change` at the leader. It is in force at once; it is done when committed.
    public mutating func proposeConfigurationChange(_ change: ConfigurationChange)
        -> Result<(index: LogIndex, term: Term), ConfigurationChangeError> {
        guard isLeader, transferee == nil else {
            return .failure(.notLeader(leaderHint: isLeader ? nil : leaderID))
        }
        guard log.term(at: commitIndex) == term else { return .failure(.leaderNotReady) }
        guard configurations.latestIndex <= commitIndex else {
            return .failure(.changeInProgress(index: configurations.latestIndex))
        }
        if case .remove(let target) = change, target == id { return .failure(.removingLeader) }
        switch configuration.applying(change) {
        case .failure(let error):
            return .failure(error)
        case .success(let next):
            appendAsLeader([Entry(index: 0, term: 0, data: "", configuration: next)])
            broadcastAppends(mode: .entriesOnly)
            advanceCommit()
            return .success((configurations.latestIndex, term))
        }
    }

    /// Promotes a learner added with `promoteWhenCaughtUp` once it is replicating and at most
    /// `learnerCatchUpEntries` behind, when no other change is pending.
    mutating func maybePromoteLearners() {
        if let learner = learnerToPromote {
            _ = proposeConfigurationChange(.promote(id: learner))
        }
    }

    /// The first learner `maybePromoteLearners` should promote now, if any.
    var learnerToPromote: NodeID? {
        guard let state = leaderState, state.transferee == nil,
              configurations.latestIndex <= commitIndex, log.term(at: commitIndex) == term else { return nil }
        return configuration.members.first { member in
            guard !member.isVoter, member.promoteWhenCaughtUp, let progress = state.progress[member.id] else { return false }
            return progress.state == .replicate && progress.match + config.learnerCatchUpEntries >= log.lastIndex
        }?.id
    }

    /// Starts handing leadership to `target`, a voter. The leader stops taking proposals, brings
    /// the target's log up to date, then tells it to campaign at once (TimeoutNow). If the target
    /// has not taken over within an election timeout, the leader carries on.
    public mutating func transferLeadership(to target: NodeID) -> Result<Void, TransferError> {
        guard isLeader else { return .failure(.notLeader(leaderHint: leaderID)) }
        guard target != id else { return .failure(.alreadyLeader) }
        guard configuration.isVoter(target), let match = leaderState?.progress[target]?.match else {
            return .failure(.notAVoter(target))
        }
        if transferee == target { return .success(()) }
        withLeaderState { state in
            state.transferee = target
            state.transferElapsed = 0
        }
        pendingEvents.append(.transferStarted(to: target, term: term))
        if match == log.lastIndex {
            send(to: target, .timeoutNow)
        } else {
            sendAppends(to: target, mode: .entriesOnly)
        }
        return .success(())
    }

    /// What a leader knows of each node it replicates to, in id order (empty unless leader).
    public var replicationStatus: [ReplicationStatus] {
        guard case .leader(let state) = role else { return [] }
        return state.progress.entries.map { entry in
            ReplicationStatus(id: entry.id, match: entry.value.match, next: entry.value.next,
                              state: entry.value.state.name, recentlyActive: entry.value.recentActive)
        }
    }
}

/// Why a leadership transfer could not start.
public enum TransferError: Error, Sendable, Equatable, CustomStringConvertible {
    case notLeader(leaderHint: NodeID?)
    case alreadyLeader
    case notAVoter(NodeID)

    public var description: String {
        switch self {
        case .notLeader(let hint): return "not the leader" + (hint.map { " (node \($0) leads)" } ?? "")
        case .alreadyLeader: return "this node already leads"
        case .notAVoter(let id): return "node \(id) is not a voter of the current configuration"
        }
    }
}

/// One follower or learner as its leader sees it.
public struct ReplicationStatus: Sendable, Equatable {
    public var id: NodeID
    public var match: LogIndex
    public var next: LogIndex
    /// "probe", "replicate" or "snapshot".
    public var state: String
    public var recentlyActive: Bool

    public init(id: NodeID, match: LogIndex, next: LogIndex, state: String, recentlyActive: Bool) {
        self.id = id
        self.match = match
        self.next = next
        self.state = state
        self.recentlyActive = recentlyActive
    }
}

extension Progress.State {
    var name: String {
        switch self {
        case .probe: return "probe"
        case .replicate: return "replicate"
        case .snapshot: return "snapshot"
        }
    }
}
