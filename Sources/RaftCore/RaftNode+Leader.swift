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
        guard case .leader(var state) = role else { return }
        let next = log.lastIndex + 1
        let targets = replicationTargets
        state.progress.reconcile(with: targets) { _ in Progress(next: next) }
        state.readAcks.reconcile(with: targets) { _ in 0 }
        if let target = state.transferee, !configuration.isVoter(target) {
            state.transferee = nil
            pendingEvents.append(.transferAborted(to: target, reason: "node \(target) is no longer a voter"))
        }
        role = .leader(state)
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if case .leader(var state) = role, let target = state.transferee {
            state.transferElapsed += 1
            if state.transferElapsed >= config.electionTicksMin {
                state.transferee = nil
                pendingEvents.append(.transferAborted(to: target, reason: "node \(target) did not take over within an election timeout"))
            }
            role = .leader(state)
        }
        if electionElapsed >= config.electionTicksMin {
            electionElapsed = 0
            if config.checkQuorum, case .leader(var state) = role {
                let active = configuration.quorumRule.count { $0 == id || state.progress[$0]?.recentActive == true }
                for peer in state.progress.ids { state.progress.update(peer) { $0.recentActive = false } }
                role = .leader(state)
                if !active.isQuorum {
                    becomeFollower(term: term, leader: nil, reason: "heard from only \(active) within the election timeout")
                    return
                }
            }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastAppends(mode: .heartbeat)
            broadcastReadRound()  // resend a round whose heartbeats may have been lost
        }
    }

    mutating func broadcastAppends(mode: AppendMode) {
        guard case .leader(let state) = role else { return }
        for peer in state.progress.ids {
            sendAppends(to: peer, mode: mode)
        }
    }

    /// Sends what `peer` should get now: in probe one message, in replicate as many as the window allows.
    mutating func sendAppends(to peer: NodeID, mode: AppendMode) {
        guard case .leader(var state) = role, state.progress[peer] != nil else { return }
        role = .follower  // hold the leader state outside the enum while we change it (no copy)
        var messages: [Message] = []
        var nextMode = mode
        while let message = state.makeAppend(to: peer, log: log, snapshot: snapshot, commitIndex: commitIndex,
                                             config: config, mode: nextMode) {
            messages.append(message)
            nextMode = .entriesOnly
            guard case .appendRequest(let request) = message, !request.entries.isEmpty else { break }
        }
        role = .leader(state)
        for message in messages {
            send(to: peer, message)
        }
    }

    mutating func handleAppendResponse(from peer: NodeID, _ response: AppendResponse) {
        guard case .leader(var state) = role, var progress = state.progress[peer] else { return }
        if response.success && response.matchIndex > log.lastIndex {
            // Only possible if this node lost entries it had written in this very term: its disk
            // broke the promise Raft rests on (a power cut with fsync off). Counting it would
            // commit what this log does not hold; it is dropped and reported.
            pendingEvents.append(.ignoredImpossible(reason: "node \(peer) acknowledged entry \(response.matchIndex) of term \(term), beyond this leader's last entry \(log.lastIndex): this node's disk lost entries it had written (was fsync off?)"))
            return
        }
        progress.recentActive = true
        var matchMoved = false
        var sendMore = false
        if response.success {
            matchMoved = progress.acknowledge(upTo: response.matchIndex)
            if progress.state == .probe || (progress.state == .snapshot && progress.match >= progress.snapshotIndex) {
                progress.becomeReplicate()
            }
            sendMore = true
        } else {
            let stale: Bool
            switch progress.state {
            case .replicate: stale = response.rejectedIndex <= progress.match
            case .probe: stale = response.rejectedIndex != progress.next - 1
            case .snapshot: stale = true
            }
            if !stale {
                var next = response.hintIndex
                if let hintTerm = response.hintTerm, let last = log.lastIndex(ofTerm: hintTerm) {
                    next = last + 1
                }
                next = max(min(next, response.rejectedIndex), progress.match + 1)
                progress.becomeProbe(next: next)
                sendMore = true
            }
        }
        state.progress[peer] = progress
        let handOver = response.success && state.transferee == peer && progress.match == log.lastIndex
        role = .leader(state)
        recordReadAck(from: peer, context: response.readContext)
        if matchMoved { advanceCommit() }
        if sendMore { sendAppends(to: peer, mode: .entriesOnly) }
        if handOver { send(to: peer, .timeoutNow) }
        if matchMoved { maybePromoteLearners() }
    }

    mutating func handleSnapshotResponse(from peer: NodeID, _ response: SnapshotChunkResponse) {
        guard case .leader(var state) = role, var progress = state.progress[peer] else { return }
        progress.recentActive = true
        guard progress.state == .snapshot, progress.snapshotIndex == response.index else {
            state.progress[peer] = progress
            role = .leader(state)
            return
        }
        progress.snapshotOffset = response.received
        progress.probeSent = false
        state.progress[peer] = progress
        role = .leader(state)
        sendAppends(to: peer, mode: .entriesOnly)
    }

    /// Commits the highest index a majority of the voters holds — counting this leader only up
    /// to what it has made durable — but only if it is of the current term: an earlier term's
    /// entry is committed indirectly, through a later one (§5.4.2, Figure 8).
    mutating func advanceCommit() {
        guard case .leader(let state) = role else { return }
        let candidate = configuration.quorumRule.committedIndex { voter in
            voter == id ? stableIndex : state.progress[voter]?.match
        }
        guard candidate > commitIndex, log.term(at: candidate) == term else { return }
        commitIndex = candidate
        // The notice goes out before a committed removal drops the removed node from those we
        // replicate to: it is the removed node's last chance to learn it is out.
        broadcastAppends(mode: .commitNotice)
        noteCommitAdvanced()
        startReadRound()
        maybePromoteLearners()
    }
}

extension LeaderState {
    /// The next message for `peer` — an AppendEntries, or a snapshot chunk when the entries it
    /// needs are compacted away — or nil when nothing should go out now.
    mutating func makeAppend(to peer: NodeID, log: RaftLog, snapshot: Snapshot?, commitIndex: LogIndex,
                             config: RaftConfig, mode: RaftNode.AppendMode) -> Message? {
        guard var progress = self.progress[peer] else { return nil }
        defer { self.progress[peer] = progress }
        if mode == .heartbeat {
            if progress.state == .replicate {
                // Checks the follower holds everything sent so far; a gap makes it refuse, which
                // sends us back to probing from its hint. An answer frees a window lost to drops.
                let prev = progress.next - 1
                if let prevTerm = log.term(at: prev) {
                    return .appendRequest(AppendRequest(prevLogIndex: prev, prevLogTerm: prevTerm, entries: [],
                                                        leaderCommit: commitIndex))
                }
            }
            progress.probeSent = false  // re-arm a probe or a snapshot chunk that may have been lost
        }
        if progress.next > log.lastIndex + 1 { progress.becomeProbe(next: log.lastIndex + 1) }  // defensive: never past the log
        if progress.state != .snapshot && log.term(at: progress.next - 1) == nil {
            guard let snapshot else { preconditionFailure("entry \(progress.next - 1) is compacted but there is no snapshot") }
            progress.becomeSnapshot(index: snapshot.index)
        }
        if progress.isPaused(maxInflight: config.maxInflightAppends) { return nil }
        if progress.state == .snapshot {
            guard let snapshot else { return nil }
            if snapshot.index != progress.snapshotIndex {
                progress.becomeSnapshot(index: snapshot.index)  // a newer snapshot replaced it
            }
            let start = min(progress.snapshotOffset, snapshot.data.count)
            let end = min(snapshot.data.count, start + config.snapshotChunkBytes)
            progress.probeSent = true
            return .snapshotRequest(SnapshotChunk(index: snapshot.index, term: snapshot.term, offset: start,
                                                  data: Array(snapshot.data[start..<end]), done: end == snapshot.data.count,
                                                  configuration: snapshot.configuration ?? .empty))
        }
        let prev = progress.next - 1
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
            switch progress.state {
            case .probe:
                progress.probeSent = true
            case .replicate:
                progress.next = last + 1
                progress.inflight.append(last)
            case .snapshot:
                break
            }
        }
        return .appendRequest(AppendRequest(prevLogIndex: prev, prevLogTerm: prevTerm, entries: entries, leaderCommit: commitIndex))
    }
}
