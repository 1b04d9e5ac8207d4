/// Leader duties: replication with per-follower progress, conflict-hint back-off, commit by
/// majority of the current term (§5.3, §5.4.2), heartbeats and CheckQuorum.
extension RaftNode {
    enum AppendMode {
        /// Send only when there are entries to send and the follower is not paused.
        case entriesOnly
        /// Also send an empty append, so the follower learns a new commit index.
        case commitNotice
        /// The periodic heartbeat: always sent; re-arms a stalled probe.
        case heartbeat
    }

    /// Appends entries built from `templates` (their command or configuration) at the end of the
    /// log, in this term.
    mutating func appendAsLeader(_ templates: [Entry]) {
        guard !templates.isEmpty else { return }
        let first = log.lastIndex + 1
        for template in templates {
            appendToLog(Entry(index: log.lastIndex + 1, term: term, data: template.data, configuration: template.configuration))
        }
        markUnstable(from: first)
    }

    /// Whom a leader replicates to: every other member of the latest configuration, and a node
    /// the latest configuration removed until that removal commits — so it learns it is out.
    var replicationTargets: [NodeID] {
        var ids = configuration.ids
        for member in committedConfiguration.ids where !ids.contains(member) { ids.append(member) }
        return ids.filter { $0 != id }.sorted()
    }

    /// The configuration in force or the committed one moved: a leader adjusts whom it tracks.
    mutating func configurationChanged() {
        guard isLeader else { return }
        let next = log.lastIndex + 1
        let targets = replicationTargets
        let configuration = self.configuration
        let noLongerVoter = withLeaderState { state -> NodeID? in
            state.progress.reconcile(with: targets) { _ in Progress(next: next) }
            state.readAcks.reconcile(with: targets) { _ in 0 }
            guard let target = state.transferee, !configuration.isVoter(target) else { return nil }
            state.transferee = nil
            return target
        } ?? nil
        if let target = noLongerVoter {
            pendingEvents.append(.transferAborted(to: target, reason: "node \(target) is no longer a voter"))
        }
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        let transferTimeout = config.electionTicksMin
        if let target = withLeaderState({ $0.tickTransfer(timeout: transferTimeout) }) ?? nil {
            pendingEvents.append(.transferAborted(to: target, reason: "node \(target) did not take over within an election timeout"))
        }
        if electionElapsed >= config.electionTicksMin {
            electionElapsed = 0
            if config.checkQuorum, let active = checkQuorumRound(), !active.isQuorum {
                becomeFollower(term: term, leader: nil, reason: "heard from only \(active) within the election timeout")
                return
            }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastAppends(mode: .heartbeat)
            broadcastReadRound()  // resend a round whose heartbeats may have been lost
        }
    }

    /// CheckQuorum (thesis §6.2): counts the voters heard from since the last round, this leader
    /// included, and starts the next round. Nil when this node does not lead.
    mutating func checkQuorumRound() -> QuorumRule.Count? {
        let rule = configuration.quorumRule
        let leader = id
        return withLeaderState { state in
            let active = rule.count { $0 == leader || state.progress[$0]?.recentActive == true }
            state.progress.updateAll { $0.recentActive = false }
            return active
        }
    }

    mutating func broadcastAppends(mode: AppendMode) {
        guard let peers = leaderState?.progress.ids else { return }
        for peer in peers {
            sendAppends(to: peer, mode: mode)
        }
    }

    /// Sends what `peer` should get now: in probe one message, in replicate as many as the window allows.
    mutating func sendAppends(to peer: NodeID, mode: AppendMode) {
        let log = self.log, snapshot = self.snapshot, commitIndex = self.commitIndex, config = self.config
        let messages = withLeaderState { state in
            state.progress.update(peer) { progress in
                progress.appends(log: log, snapshot: snapshot, commitIndex: commitIndex, config: config, mode: mode)
            }
        } ?? nil
        for message in messages ?? [] {
            send(to: peer, message)
        }
    }

    mutating func handleAppendResponse(from peer: NodeID, _ response: AppendResponse) {
        let log = self.log
        let recorded = withLeaderState { state -> (answer: Progress.Answer, handOver: Bool)? in
            guard let answer = state.progress.update(peer, { $0.record(response, log: log) }) else { return nil }
            let handOver = response.success && state.transferee == peer && state.progress[peer]?.match == log.lastIndex
            return (answer, handOver)
        } ?? nil
        guard let (answer, handOver) = recorded else { return }
        guard case .recorded(let matchMoved, let sendMore) = answer else {
            // Only possible if this node lost entries it had written in this very term: its disk
            // broke the promise Raft rests on (a power cut with fsync off). Counting it would
            // commit what this log does not hold; it is dropped and reported.
            pendingEvents.append(.ignoredImpossible(reason: "node \(peer) acknowledged entry \(response.matchIndex) of term \(term), beyond this leader's last entry \(log.lastIndex): this node's disk lost entries it had written (was fsync off?)"))
            return
        }
        recordReadAck(from: peer, context: response.readContext)
        if matchMoved { advanceCommit() }
        if sendMore { sendAppends(to: peer, mode: .entriesOnly) }
        if handOver { send(to: peer, .timeoutNow) }
        if matchMoved { maybePromoteLearners() }
    }

    mutating func handleSnapshotResponse(from peer: NodeID, _ response: SnapshotChunkResponse) {
        let sendNext = withLeaderState { state in
            state.progress.update(peer) { $0.record(response) }
        } ?? nil
        if sendNext == true {
            sendAppends(to: peer, mode: .entriesOnly)
        }
    }

    /// Commits the highest index a majority of the voters holds — counting this leader only up
    /// to what it has made durable — but only if it is of the current term: an earlier term's
    /// entry is committed indirectly, through a later one (§5.4.2, Figure 8).
    mutating func advanceCommit() {
        guard let candidate = quorumIndex, candidate > commitIndex, log.term(at: candidate) == term else { return }
        commitIndex = candidate
        // The notice goes out before a committed removal drops the removed node from those we
        // replicate to: it is the removed node's last chance to learn it is out.
        broadcastAppends(mode: .commitNotice)
        noteCommitAdvanced()
        startReadRound()
        maybePromoteLearners()
    }

    /// The highest index a quorum of the voters holds, this leader counting its own copy only up
    /// to what it has made durable; nil unless this node leads.
    var quorumIndex: LogIndex? {
        guard let progress = leaderState?.progress else { return nil }
        return configuration.quorumRule.committedIndex { voter in
            voter == id ? stableIndex : progress[voter]?.match
        }
    }
}

extension LeaderState {
    /// Counts a tick against a leadership transfer in progress; returns the target when it has
    /// had `timeout` ticks without taking over (the transfer is then abandoned).
    mutating func tickTransfer(timeout: Int) -> NodeID? {
        guard let target = transferee else { return nil }
        transferElapsed += 1
        guard transferElapsed >= timeout else { return nil }
        transferee = nil
        return target
    }
}

extension Progress {
    /// The messages this follower should get now: one in probe (or one snapshot chunk), in
    /// replicate as many as the window allows. `mode` applies to the first.
    mutating func appends(log: RaftLog, snapshot: Snapshot?, commitIndex: LogIndex, config: RaftConfig,
                          mode: RaftNode.AppendMode) -> [Message] {
        var messages: [Message] = []
        var nextMode = mode
        while let message = makeAppend(log: log, snapshot: snapshot, commitIndex: commitIndex, config: config, mode: nextMode) {
            messages.append(message)
            nextMode = .entriesOnly
            guard case .appendRequest(let request) = message, !request.entries.isEmpty else { break }
        }
        return messages
    }

    /// The next message for this follower — an AppendEntries, or a snapshot chunk when the
    /// entries it needs are compacted away — or nil when nothing should go out now.
    mutating func makeAppend(log: RaftLog, snapshot: Snapshot?, commitIndex: LogIndex,
                             config: RaftConfig, mode: RaftNode.AppendMode) -> Message? {
        if mode == .heartbeat {
            if state == .replicate {
                // Checks the follower holds everything sent so far; a gap makes it refuse, which
                // sends us back to probing from its hint. An answer frees a window lost to drops.
                let prev = next - 1
                if let prevTerm = log.term(at: prev) {
                    return .appendRequest(AppendRequest(prevLogIndex: prev, prevLogTerm: prevTerm, entries: [],
                                                        leaderCommit: commitIndex))
                }
            }
            probeSent = false  // re-arm a probe or a snapshot chunk that may have been lost
        }
        if next > log.lastIndex + 1 { becomeProbe(next: log.lastIndex + 1) }  // defensive: never past the log
        if state != .snapshot && log.term(at: next - 1) == nil {
            guard let snapshot else { preconditionFailure("entry \(next - 1) is compacted but there is no snapshot") }
            becomeSnapshot(index: snapshot.index)
        }
        if isPaused(maxInflight: config.maxInflightAppends) { return nil }
        if state == .snapshot {
            guard let snapshot else { return nil }
            if snapshot.index != snapshotIndex {
                becomeSnapshot(index: snapshot.index)  // a newer snapshot replaced it
            }
            let start = min(snapshotOffset, snapshot.data.count)
            let end = min(snapshot.data.count, start + config.snapshotChunkBytes)
            // Read from the runtime's file when the bytes live there. A medium that fails sends
            // nothing now; the next heartbeat re-arms the chunk and it is tried again.
            guard let bytes = try? snapshot.data.read(start..<end) else { return nil }
            probeSent = true
            return .snapshotRequest(SnapshotChunk(index: snapshot.index, term: snapshot.term, offset: start,
                                                  data: bytes, done: end == snapshot.data.count,
                                                  configuration: snapshot.configuration ?? .empty))
        }
        let prev = next - 1
        let prevTerm = log.term(at: prev)!
        var last = min(log.lastIndex, prev + config.maxEntriesPerAppend)
        var bytes = 0
        var index = prev + 1
        while index <= last {
            bytes += log.entry(at: index).data.utf8.count + 16
            if bytes > config.maxAppendBytes && index > prev + 1 {
                last = index - 1
                break
            }
            index += 1
        }
        let entries = log.entries(from: prev + 1, through: last)
        if entries.isEmpty && mode == .entriesOnly { return nil }
        if !entries.isEmpty {
            switch state {
            case .probe:
                probeSent = true
            case .replicate:
                next = last + 1
                inflight.append(last)
            case .snapshot:
                break
            }
        }
        return .appendRequest(AppendRequest(prevLogIndex: prev, prevLogTerm: prevTerm, entries: entries, leaderCommit: commitIndex))
    }
}
