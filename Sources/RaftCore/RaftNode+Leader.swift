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

    mutating func appendAsLeader(_ commands: [String]) {
        guard !commands.isEmpty else { return }
        let first = log.lastIndex + 1
        for command in commands {
            log.append(Entry(index: log.lastIndex + 1, term: term, data: command))
        }
        markUnstable(from: first)
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTicksMin {
            electionElapsed = 0
            if config.checkQuorum, case .leader(var state) = role {
                let active = 1 + peers.filter { state.progress[$0].recentActive }.count
                for peer in peers { state.progress[peer].recentActive = false }
                role = .leader(state)
                if active < Quorum.majority(of: clusterSize) {
                    becomeFollower(term: term, leader: nil,
                                   reason: "heard from only \(active) of \(clusterSize) nodes within the election timeout")
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
        for peer in peers {
            sendAppends(to: peer, mode: mode)
        }
    }

    /// Sends what `peer` should get now: in probe one message, in replicate as many as the window allows.
    mutating func sendAppends(to peer: NodeID, mode: AppendMode) {
        guard case .leader(var state) = role else { return }
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
        guard case .leader(var state) = role else { return }
        var progress = state.progress[peer]
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
        role = .leader(state)
        recordReadAck(from: peer, context: response.readContext)
        if matchMoved { advanceCommit() }
        if sendMore { sendAppends(to: peer, mode: .entriesOnly) }
    }

    mutating func handleSnapshotResponse(from peer: NodeID, _ response: SnapshotChunkResponse) {
        guard case .leader(var state) = role else { return }
        var progress = state.progress[peer]
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

    /// Commits the highest index a majority holds, but only if it is of the current term: an
    /// earlier term's entry is committed indirectly, through a later one (§5.4.2, Figure 8).
    mutating func advanceCommit() {
        guard case .leader(let state) = role else { return }
        var matches = state.progress.map(\.match)
        matches[id] = log.lastIndex
        let candidate = Quorum.committedIndex(matchIndexes: matches)
        guard candidate > commitIndex, log.term(at: candidate) == term else { return }
        commitIndex = candidate
        broadcastAppends(mode: .commitNotice)
        startReadRound()
    }
}

extension LeaderState {
    /// The next message for `peer` — an AppendEntries, or a snapshot chunk when the entries it
    /// needs are compacted away — or nil when nothing should go out now.
    mutating func makeAppend(to peer: NodeID, log: RaftLog, snapshot: Snapshot?, commitIndex: LogIndex,
                             config: RaftConfig, mode: RaftNode.AppendMode) -> Message? {
        var progress = self.progress[peer]
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
                                                  data: Array(snapshot.data[start..<end]), done: end == snapshot.data.count))
        }
        let prev = progress.next - 1
        let prevTerm = log.term(at: prev)!
        let last = min(log.lastIndex, prev + config.maxEntriesPerAppend)
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
