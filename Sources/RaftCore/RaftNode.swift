/// One Raft participant as a deterministic state machine.
///
/// It owns the term, the vote, the role (with role-only state inside it), the log in memory, the
/// configurations its log holds, the commit and applied indexes, its tick counters and its seeded
/// generator. Inputs arrive through `tick()`, `receive(_:)`, `propose(_:)`, `readIndex(ids:)`,
/// `proposeConfigurationChange(_:)`, `transferLeadership(to:)`, `compact(through:data:)` and
/// `persisted(through:term:)`; every effect is handed out by `takeReady()`. No clock, thread,
/// file or socket is touched here, so the same inputs give the same outputs.
public struct RaftNode: Sendable, Equatable, Codable {
    public let id: NodeID
    public let config: RaftConfig

    public internal(set) var term: Term
    public internal(set) var votedFor: NodeID?
    public internal(set) var leaderID: NodeID?
    var role: Role
    public internal(set) var log: RaftLog
    public internal(set) var commitIndex: LogIndex
    /// The last index handed out in `Ready.committedEntries` (or installed by a snapshot).
    public internal(set) var appliedIndex: LogIndex
    /// The last index the runtime has confirmed durable (`persisted(through:term:)`). A leader
    /// counts its own copy toward a quorum only up to here (thesis §10.2.1).
    public internal(set) var stableIndex: LogIndex
    /// The latest snapshot (taken here or received), which lagging followers are sent.
    public internal(set) var snapshot: Snapshot?
    /// Chunks of a snapshot being received.
    var incomingSnapshot: IncomingSnapshot?
    /// The configuration at the snapshot, then one per configuration entry in the log.
    var configurations: ConfigurationHistory
    /// The configuration index last reported committed.
    var reportedCommittedConfiguration: LogIndex

    public internal(set) var electionElapsed = 0
    var heartbeatElapsed = 0
    public internal(set) var electionTimeout: Int
    var random: SplitMix64

    // Work gathered for the next Ready.
    var persistedHardState: HardState
    var firstUnstableIndex: LogIndex?
    var earlyOutbox: [Envelope] = []
    var outbox: [Envelope] = []
    var pendingEvents: [RaftEvent] = []
    var snapshotToInstall: Snapshot?
    var logReplaced = false
    var pendingReadStates: [ReadState] = []

    /// Starts (or restarts) a node from what its storage holds: `log` continues `snapshot`
    /// (its base is the snapshot's index and term). The configuration is the snapshot's, then
    /// whatever configuration entries the log holds; `bootstrap` is used only when the snapshot
    /// records none (a fresh cluster: every node is given the same one; a node waiting to be
    /// added: `.empty`). Commit and applied indexes start at the snapshot: the node learns the
    /// rest from a leader, or by winning an election.
    public init(id: NodeID, bootstrap: ClusterConfiguration, config: RaftConfig, hardState: HardState = HardState(),
                log: RaftLog = RaftLog(), snapshot: Snapshot? = nil, seed: UInt64) {
        precondition(log.snapshotIndex == (snapshot?.index ?? 0) && log.snapshotTerm == (snapshot?.term ?? 0),
                     "the log must continue the snapshot")
        precondition(id >= 0, "node ids are non-negative")
        precondition(config.problem() == nil, config.problem() ?? "")
        self.id = id
        self.config = config
        self.term = hardState.term
        self.votedFor = hardState.votedFor
        self.role = .follower
        self.log = log
        self.commitIndex = log.snapshotIndex
        self.appliedIndex = log.snapshotIndex
        self.stableIndex = log.lastIndex
        var snapshot = snapshot
        if snapshot != nil && snapshot!.configuration == nil { snapshot!.configuration = bootstrap }
        self.snapshot = snapshot
        var configurations = ConfigurationHistory(base: snapshot?.configuration ?? bootstrap)
        for entry in log.entries where entry.isConfiguration { configurations.record(entry) }
        self.configurations = configurations
        self.reportedCommittedConfiguration = log.snapshotIndex
        self.random = SplitMix64(seed: seed)
        self.electionTimeout = config.electionTicksMax
        self.persistedHardState = hardState
        resetElectionTimer()
    }

    /// A node of a fresh cluster whose voters are `0 ..< clusterSize`.
    public init(id: NodeID, clusterSize: Int, config: RaftConfig, hardState: HardState = HardState(),
                log: RaftLog = RaftLog(), snapshot: Snapshot? = nil, seed: UInt64) {
        self.init(id: id, bootstrap: .voters(Array(0..<clusterSize)), config: config, hardState: hardState,
                  log: log, snapshot: snapshot, seed: seed)
    }

    public var roleKind: RoleKind { role.kind }
    public var isLeader: Bool { role.kind == .leader }
    public var hardState: HardState { HardState(term: term, votedFor: votedFor) }

    /// The configuration in force: the latest in the log, committed or not.
    public var configuration: ClusterConfiguration { configurations.latest }
    /// The latest configuration the commit index covers.
    public var committedConfiguration: ClusterConfiguration { configurations.configuration(at: commitIndex) }
    /// The index of the configuration entry in force (0: the snapshot's or the bootstrap one).
    public var configurationIndex: LogIndex { configurations.latestIndex }
    /// A configuration change is appended but not yet committed.
    public var configurationChangePending: Bool { configurations.latestIndex > commitIndex }
    /// The voter leadership is being handed to, while a transfer is in progress.
    public var transferee: NodeID? {
        leaderState?.transferee
    }

    /// True when `takeReady()` has work to hand out.
    public var hasReady: Bool {
        hardState != persistedHardState || firstUnstableIndex != nil || !outbox.isEmpty || !earlyOutbox.isEmpty
            || commitIndex > appliedIndex || !pendingEvents.isEmpty || snapshotToInstall != nil || logReplaced
            || !pendingReadStates.isEmpty
    }

    // MARK: - Inputs

    /// Advances logical time by one tick: election timeouts for followers and candidates,
    /// heartbeats, CheckQuorum and transfer timeouts for leaders. Learners and nodes outside
    /// the configuration never campaign.
    public mutating func tick() {
        if isLeader {
            tickLeader()
        } else {
            electionElapsed += 1
            if electionElapsed >= electionTimeout {
                if configuration.isVoter(id) {
                    campaign(preVote: config.preVote)
                } else {
                    resetElectionTimer()
                }
            }
        }
    }

    /// The single door for messages: settle the term first, then votes, then the role's handler.
    public mutating func receive(_ envelope: Envelope) {
        guard envelope.to == id, envelope.from != id, envelope.from >= 0 else { return }
        let from = envelope.from
        // Vote requests are answered whoever asks: a voter whose log predates a candidate's
        // arrival must still be able to elect it. A removed node cannot disrupt anyone: it never
        // wins a pre-vote against the nodes that hold its removal, and without one it never
        // raises a term (thesis §4.2.3).
        if envelope.term > term {
            switch envelope.message {
            case .voteRequest(let request):
                if inLeaderLease && !request.transfer {
                    // A leader we heard from recently is alive: ignore the disruption (CheckQuorum).
                    pendingEvents.append(.voteRefused(candidate: from, term: envelope.term, preVote: request.preVote,
                                                      reason: "heard from leader \(leaderID!) within the election timeout"))
                    return
                }
                if !request.preVote {
                    becomeFollower(term: envelope.term, leader: nil, reason: "node \(from) campaigns in term \(envelope.term)",
                                   cause: from)
                }
            case .voteResponse(let response) where response.preVote && response.granted:
                break  // a granted pre-vote carries the term we would campaign in; not a newer term
            case .appendRequest, .snapshotRequest, .timeoutNow:
                becomeFollower(term: envelope.term, leader: from, reason: "node \(from) leads term \(envelope.term)", cause: from)
            default:
                becomeFollower(term: envelope.term, leader: nil, reason: "node \(from) is in term \(envelope.term)", cause: from)
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
        case .timeoutNow: handleTimeoutNow(from: from)
        case .readIndexRequest(let request): handleReadIndexRequest(from: from, request)
        case .readIndexResponse(let response): handleReadIndexResponse(from: from, response)
        }
    }

    /// Appends one command at the leader. See `ProposalResult` for how to learn its fate.
    public mutating func propose(_ command: String) -> ProposalResult {
        propose(batch: [command])
    }

    /// Appends several commands at the leader in one go; command `k` of the batch gets index
    /// `index + k` of the accepted result. Refused while leadership is being handed over.
    public mutating func propose(batch commands: [String]) -> ProposalResult {
        guard isLeader, transferee == nil else {
            return .notLeader(leaderHint: isLeader ? nil : leaderID)
        }
        precondition(!commands.contains { $0.isEmpty }, "empty commands are reserved for the leader's no-op")
        let first = log.lastIndex + 1
        appendAsLeader(commands.map { Entry(index: 0, term: 0, data: $0) })
        broadcastAppends(mode: .entriesOnly)
        advanceCommit()
        return .accepted(index: first, term: term)
    }

    /// The runtime has made every entry through `index` (whose term is `entryTerm`) durable.
    /// Call it after writing a Ready's `entries`; an index whose term no longer matches (the
    /// log was cut meanwhile) is ignored.
    public mutating func persisted(through index: LogIndex, term entryTerm: Term) {
        guard index > stableIndex, log.term(at: index) == entryTerm else { return }
        stableIndex = index
        if isLeader { advanceCommit() }
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
        ready.earlyMessages = earlyOutbox
        earlyOutbox.removeAll()
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

    /// Queues a message. A leader's AppendEntries and snapshot chunks may leave before the
    /// Ready's log write (they promise nothing about this node's disk); everything else waits.
    /// One exception: a configuration entry leaves only once the leader's own copy is durable.
    /// Otherwise a leader that crashes mid-write could come back without a change its followers
    /// hold — and a follower that change made a non-voter would neither campaign nor vote for
    /// the leader's shorter log: no one could ever be elected.
    mutating func send(to peer: NodeID, term messageTerm: Term? = nil, _ message: Message) {
        let envelope = Envelope(from: id, to: peer, term: messageTerm ?? term, message: message)
        var early = false
        if isLeader {
            switch message {
            case .appendRequest(let request):
                early = !request.entries.contains { $0.isConfiguration && $0.index > stableIndex }
            case .snapshotRequest:
                early = true
            default:
                break
            }
        }
        if early { earlyOutbox.append(envelope) } else { outbox.append(envelope) }
    }

    mutating func resetElectionTimer() {
        electionElapsed = 0
        electionTimeout = Int.random(in: config.electionTicksMin...config.electionTicksMax, using: &random)
    }

    mutating func markUnstable(from index: LogIndex) {
        firstUnstableIndex = min(firstUnstableIndex ?? index, index)
    }

    /// Appends `entry` to the log, noting a configuration it carries (in force from now on).
    mutating func appendToLog(_ entry: Entry) {
        log.append(entry)
        if let configuration = entry.configuration {
            configurations.record(entry)
            pendingEvents.append(.configurationAppended(index: entry.index, configuration: configuration))
            configurationChanged()
        }
    }

    /// Cuts every entry after `index`; a configuration among them gives way to the one before.
    mutating func truncateLog(after index: LogIndex) {
        let before = configurations.latestIndex
        log.truncate(after: index)
        configurations.truncate(after: index)
        stableIndex = min(stableIndex, index)
        if configurations.latestIndex != before {
            pendingEvents.append(.configurationReverted(to: configuration))
            configurationChanged()
        }
    }

    /// The commit index moved: report a configuration that became committed.
    mutating func noteCommitAdvanced() {
        let latest = configurations.latestIndex
        guard latest > reportedCommittedConfiguration, latest <= commitIndex else { return }
        reportedCommittedConfiguration = latest
        pendingEvents.append(.configurationCommitted(index: latest, configuration: configuration))
        configurationChanged()
    }

    /// `cause` is the node whose message made us step down, when there is one.
    mutating func becomeFollower(term newTerm: Term, leader: NodeID?, reason: String, cause: NodeID? = nil) {
        if case .leader(let state) = role {
            if let target = state.transferee, target != cause {
                pendingEvents.append(.transferAborted(to: target, reason: reason))
            }
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
        if stableIndex > log.lastIndex { return "stable index \(stableIndex) beyond the log (\(log.lastIndex))" }
        var previous = log.snapshotTerm
        var nextConfiguration = 0
        let changes = configurations.changes
        var expectedIndex = log.snapshotIndex + 1
        for entry in log.entries {
            if entry.index != expectedIndex { return "log not contiguous at \(entry.index)" }
            if entry.term < previous { return "term decreases at \(entry.index)" }
            if entry.term > term { return "entry \(entry.index) has term \(entry.term) above current \(term)" }
            if entry.configuration != nil {
                guard nextConfiguration < changes.count, changes[nextConfiguration].index == entry.index else {
                    return "configuration entry \(entry.index) is missing from the configuration history"
                }
                nextConfiguration += 1
            }
            previous = entry.term
            expectedIndex += 1
        }
        if nextConfiguration != changes.count { return "the configuration history holds entries the log does not" }
        switch role {
        case .candidate:
            if votedFor != id { return "candidate did not vote for itself" }
            if !configuration.isVoter(id) { return "candidate is not a voter" }
        case .leader(let state):
            if leaderID != id { return "leader does not know itself as leader" }
            for (position, progress) in state.progress.values.enumerated() where progress.match > log.lastIndex {
                return "match of \(state.progress.ids[position]) beyond the log"
            }
            for voter in configuration.voters where voter != id && state.progress[voter] == nil {
                return "leader does not replicate to voter \(voter)"
            }
        default:
            break
        }
        return nil
    }
}
