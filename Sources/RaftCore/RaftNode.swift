/// One Raft participant as a deterministic state machine.
///
/// It owns the term, the vote, the role (with role-only state inside it), the log in memory, the
/// commit and applied indexes, its tick counters and its seeded generator. Inputs arrive through
/// `tick()`, `receive(_:)` and `propose(_:)`; every effect is handed out by `takeReady()`.
/// No clock, thread, file or socket is touched here, so the same inputs give the same outputs.
public struct RaftNode: Sendable {
    public let id: NodeID
    public let clusterSize: Int
    public let config: RaftConfig
    let peers: [NodeID]

    public internal(set) var term: Term
    public internal(set) var votedFor: NodeID?
    public internal(set) var leaderID: NodeID?
    var role: Role
    public internal(set) var log: RaftLog
    public internal(set) var commitIndex: LogIndex
    /// The last index handed out in `Ready.committedEntries` (or installed by a snapshot).
    public internal(set) var appliedIndex: LogIndex
    /// The latest snapshot (taken here or received), which lagging followers are sent.
    public internal(set) var snapshot: Snapshot?
    /// Chunks of a snapshot being received.
    var incomingSnapshot: Snapshot?

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var electionTimeout: Int
    var random: SplitMix64

    // Work gathered for the next Ready.
    var persistedHardState: HardState
    var firstUnstableIndex: LogIndex?
    var outbox: [Envelope] = []
    var pendingEvents: [RaftEvent] = []
    var snapshotToInstall: Snapshot?
    var logReplaced = false
    var pendingReadStates: [ReadState] = []

    /// Starts (or restarts) a node from what its storage holds: `log` continues `snapshot`
    /// (its base is the snapshot's index and term). Commit and applied indexes start at the
    /// snapshot: the node learns the rest from a leader, or by winning an election.
    public init(id: NodeID, clusterSize: Int, config: RaftConfig, hardState: HardState = HardState(),
                log: RaftLog = RaftLog(), snapshot: Snapshot? = nil, seed: UInt64) {
        precondition(log.snapshotIndex == (snapshot?.index ?? 0) && log.snapshotTerm == (snapshot?.term ?? 0),
                     "the log must continue the snapshot")
        precondition(clusterSize >= 1 && id >= 0 && id < clusterSize, "node \(id) is not in a cluster of \(clusterSize)")
        precondition(config.problem() == nil, config.problem() ?? "")
        self.id = id
        self.clusterSize = clusterSize
        self.config = config
        self.peers = (0..<clusterSize).filter { $0 != id }
        self.term = hardState.term
        self.votedFor = hardState.votedFor
        self.role = .follower
        self.log = log
        self.commitIndex = log.snapshotIndex
        self.appliedIndex = log.snapshotIndex
        self.snapshot = snapshot
        self.random = SplitMix64(seed: seed)
        self.electionTimeout = config.electionTicksMax
        self.persistedHardState = hardState
        resetElectionTimer()
    }

    public var roleKind: RoleKind { role.kind }
    public var isLeader: Bool { role.kind == .leader }
    public var hardState: HardState { HardState(term: term, votedFor: votedFor) }

    /// True when `takeReady()` has work to hand out.
    public var hasReady: Bool {
        hardState != persistedHardState || firstUnstableIndex != nil || !outbox.isEmpty
            || commitIndex > appliedIndex || !pendingEvents.isEmpty || snapshotToInstall != nil || logReplaced
            || !pendingReadStates.isEmpty
    }

    // MARK: - Inputs

    /// Advances logical time by one tick: election timeouts for followers and candidates,
    /// heartbeats and CheckQuorum for leaders.
    public mutating func tick() {
        if isLeader {
            tickLeader()
        } else {
            electionElapsed += 1
            if electionElapsed >= electionTimeout {
                campaign(preVote: config.preVote)
            }
        }
    }

    /// The single door for messages: settle the term first, then votes, then the role's handler.
    public mutating func receive(_ envelope: Envelope) {
        guard envelope.to == id, envelope.from != id, envelope.from >= 0, envelope.from < clusterSize else { return }
        let from = envelope.from
        if envelope.term > term {
            switch envelope.message {
            case .voteRequest(let request):
                if inLeaderLease {
                    // A leader we heard from recently is alive: ignore the disruption (CheckQuorum).
                    pendingEvents.append(.voteRefused(candidate: from, term: envelope.term, preVote: request.preVote,
                                                      reason: "heard from leader \(leaderID!) within the election timeout"))
                    return
                }
                if !request.preVote {
                    becomeFollower(term: envelope.term, leader: nil, reason: "node \(from) campaigns in term \(envelope.term)")
                }
            case .voteResponse(let response) where response.preVote && response.granted:
                break  // a granted pre-vote carries the term we would campaign in; not a newer term
            case .appendRequest, .snapshotRequest:
                becomeFollower(term: envelope.term, leader: from, reason: "node \(from) leads term \(envelope.term)")
            default:
                becomeFollower(term: envelope.term, leader: nil, reason: "node \(from) is in term \(envelope.term)")
            }
        } else if envelope.term < term {
            // Tell a stale sender our term so it steps down (Figure 2: reply false if term < currentTerm).
            switch envelope.message {
            case .appendRequest(let request):
                send(to: from, .appendResponse(AppendResponse(success: false, matchIndex: 0,
                                                              rejectedIndex: request.prevLogIndex)))
            case .snapshotRequest:
                send(to: from, .appendResponse(AppendResponse(success: false, matchIndex: 0)))
            case .voteRequest(let request):
                send(to: from, .voteResponse(VoteResponse(preVote: request.preVote, granted: false)))
            default:
                break
            }
            return
        }

        switch envelope.message {
        case .voteRequest(let request): handleVoteRequest(from: from, term: envelope.term, request)
        case .voteResponse(let response): handleVoteResponse(from: from, response)
        case .appendRequest(let request): handleAppendRequest(from: from, request)
        case .appendResponse(let response): handleAppendResponse(from: from, response)
        case .snapshotRequest(let chunk): handleSnapshotChunk(from: from, chunk)
        case .snapshotResponse(let response): handleSnapshotResponse(from: from, response)
        }
    }

    /// Appends one command at the leader. See `ProposalResult` for how to learn its fate.
    public mutating func propose(_ command: String) -> ProposalResult {
        propose(batch: [command])
    }

    /// Appends several commands at the leader in one go; command `k` of the batch gets index
    /// `index + k` of the accepted result. An empty batch is refused as `notLeader` only when not leader.
    public mutating func propose(batch commands: [String]) -> ProposalResult {
        guard isLeader else { return .notLeader(leaderHint: leaderID) }
        precondition(!commands.contains { $0.isEmpty }, "empty commands are reserved for the leader's no-op")
        let first = log.lastIndex + 1
        appendAsLeader(commands)
        broadcastAppends(mode: .entriesOnly)
        advanceCommit()
        return .accepted(index: first, term: term)
    }

    /// Hands out everything gathered since the last call. See `Ready` for the order of the work.
    public mutating func takeReady() -> Ready {
        var ready = Ready()
        ready.snapshot = snapshotToInstall
        snapshotToInstall = nil
        ready.logReplaced = logReplaced
        logReplaced = false
        let current = hardState
        if current != persistedHardState {
            ready.hardState = current
            persistedHardState = current
        }
        if let first = firstUnstableIndex {
            precondition(first <= log.lastIndex, "a truncation must be followed by an append")
            ready.entries = log.entries(from: first, through: log.lastIndex)
            firstUnstableIndex = nil
        }
        ready.messages = outbox
        outbox.removeAll()
        if commitIndex > appliedIndex {
            ready.committedEntries = log.entries(from: appliedIndex + 1, through: commitIndex)
            appliedIndex = commitIndex
        }
        ready.readStates = pendingReadStates
        pendingReadStates.removeAll()
        ready.events = pendingEvents
        pendingEvents.removeAll()
        return ready
    }

    // MARK: - Shared helpers

    /// CheckQuorum's lease: we heard from a live leader within the minimum election timeout.
    var inLeaderLease: Bool {
        config.checkQuorum && leaderID != nil && electionElapsed < config.electionTicksMin
    }

    mutating func send(to peer: NodeID, term messageTerm: Term? = nil, _ message: Message) {
        outbox.append(Envelope(from: id, to: peer, term: messageTerm ?? term, message: message))
    }

    mutating func resetElectionTimer() {
        electionElapsed = 0
        electionTimeout = Int.random(in: config.electionTicksMin...config.electionTicksMax, using: &random)
    }

    mutating func markUnstable(from index: LogIndex) {
        firstUnstableIndex = min(firstUnstableIndex ?? index, index)
    }

    mutating func becomeFollower(term newTerm: Term, leader: NodeID?, reason: String) {
        if isLeader {
            pendingEvents.append(.steppedDown(term: term, reason: reason))
        }
        if newTerm > term {
            term = newTerm
            votedFor = nil
        }
        role = .follower
        if let leader, leader != leaderID {
            pendingEvents.append(.followingLeader(leader: leader, term: term))
        }
        leaderID = leader
        resetElectionTimer()
    }

    /// §5.2 and PreVote: one vote per term, only for a candidate whose log is at least as up to date.
    mutating func handleVoteRequest(from candidate: NodeID, term requestTerm: Term, _ request: VoteRequest) {
        let canVote = votedFor == candidate
            || (votedFor == nil && leaderID == nil)
            || (request.preVote && requestTerm > term)
        let upToDate = log.isUpToDate(lastIndex: request.lastLogIndex, lastTerm: request.lastLogTerm)
        if canVote && upToDate {
            if !request.preVote {
                votedFor = candidate
                resetElectionTimer()
            }
            send(to: candidate, term: request.preVote ? requestTerm : term,
                 .voteResponse(VoteResponse(preVote: request.preVote, granted: true)))
            pendingEvents.append(.voteGranted(candidate: candidate, term: requestTerm, preVote: request.preVote))
        } else {
            let reason: String
            if !upToDate {
                reason = "its log ends at \(request.lastLogIndex)@\(request.lastLogTerm), ours at \(log.lastIndex)@\(log.lastTerm)"
            } else if let votedFor {
                reason = "already voted for node \(votedFor) in term \(term)"
            } else {
                reason = "following leader \(leaderID.map(String.init) ?? "?") in term \(term)"
            }
            send(to: candidate, .voteResponse(VoteResponse(preVote: request.preVote, granted: false)))
            pendingEvents.append(.voteRefused(candidate: candidate, term: requestTerm, preVote: request.preVote, reason: reason))
        }
    }

    /// Checks the invariants the core relies on; returns a description of the first broken one.
    public func testOnly_checkInvariants() -> String? {
        if appliedIndex > commitIndex { return "applied \(appliedIndex) > commit \(commitIndex)" }
        if commitIndex > log.lastIndex { return "commit \(commitIndex) > last index \(log.lastIndex)" }
        if commitIndex < log.snapshotIndex { return "commit below snapshot" }
        var previous = log.snapshotTerm
        for (offset, entry) in log.entries.enumerated() {
            if entry.index != log.snapshotIndex + 1 + offset { return "log not contiguous at \(entry.index)" }
            if entry.term < previous { return "term decreases at \(entry.index)" }
            if entry.term > term { return "entry \(entry.index) has term \(entry.term) above current \(term)" }
            previous = entry.term
        }
        switch role {
        case .candidate:
            if votedFor != id { return "candidate did not vote for itself" }
        case .leader(let state):
            if leaderID != id { return "leader does not know itself as leader" }
            for peer in peers where state.progress[peer].match > log.lastIndex {
                return "match of \(peer) beyond the log"
            }
        default:
            break
        }
        return nil
    }
}
