/// Snapshots: compaction on the runtime's request, InstallSnapshot at the receiving end (§7).
extension RaftNode {
    /// The runtime has snapshotted its state machine through `index` (already applied) as
    /// `data`, and stored it; the log entries before it can go — but for a tail of
    /// `snapshotCatchUpEntries`, and at a leader whatever a follower loading a snapshot will need
    /// next. `log.snapshotIndex` (the log's base) may therefore stay below `snapshot.index`.
    public mutating func compact(through index: LogIndex, data: [UInt8]) {
        precondition(index <= appliedIndex, "cannot snapshot past the applied index \(appliedIndex)")
        guard index > (snapshot?.index ?? log.snapshotIndex) else { return }
        let term = log.term(at: index)!
        let configuration = configurations.configuration(at: index)
        snapshot = Snapshot(index: index, term: term, data: data, configuration: configuration)
        let base = compactionBase(for: index)
        if base > log.snapshotIndex {
            log.compact(through: base)
            configurations.compact(through: base)
        }
    }

    /// How far the log may be cut after a snapshot through `index`.
    func compactionBase(for index: LogIndex) -> LogIndex {
        var base = index - config.snapshotCatchUpEntries
        if let state = leaderState {
            for progress in state.progress.values where progress.state == .snapshot && progress.snapshotIndex < index {
                base = min(base, progress.snapshotIndex)
            }
        }
        return max(base, log.snapshotIndex)
    }

    /// The index of the latest snapshot (the log's base may lie below it: see `compact`).
    public var latestSnapshotIndex: LogIndex { snapshot?.index ?? log.snapshotIndex }

    /// The configuration a snapshot of the state through `index` must record.
    public func configuration(at index: LogIndex) -> ClusterConfiguration {
        configurations.configuration(at: index)
    }

    mutating func handleSnapshotChunk(from leader: NodeID, _ chunk: SnapshotChunk) {
        followLeader(leader)
        if chunk.index <= commitIndex {
            incomingSnapshot = nil
            send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: commitIndex)))
            return
        }
        if chunk.offset == 0 {
            incomingSnapshot = IncomingSnapshot(index: chunk.index, term: chunk.term, configuration: chunk.configuration)
        }
        guard var buffer = incomingSnapshot, buffer.index == chunk.index, buffer.term == chunk.term,
              buffer.received == chunk.offset else {
            let received = incomingSnapshot?.index == chunk.index ? incomingSnapshot!.received : 0
            send(to: leader, .snapshotResponse(SnapshotChunkResponse(index: chunk.index, received: received)))
            return
        }
        buffer.add(chunk.data)
        guard chunk.done else {
            incomingSnapshot = buffer
            send(to: leader, .snapshotResponse(SnapshotChunkResponse(index: chunk.index, received: buffer.received)))
            return
        }
        incomingSnapshot = nil
        let complete = buffer.assembled()
        install(complete)
        send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: complete.index)))
    }

    /// Replaces log and state with `snapshot`, unless the log already holds its last entry, in
    /// which case the entries are kept and simply become committed.
    mutating func install(_ incoming: Snapshot) {
        if log.term(at: incoming.index) == incoming.term {
            if incoming.index > commitIndex {
                commitIndex = incoming.index
                noteCommitAdvanced()
            }
            return
        }
        precondition(incoming.index > commitIndex, "a snapshot may not replace committed entries")
        log = RaftLog(snapshotIndex: incoming.index, snapshotTerm: incoming.term, entries: [])
        let before = configuration
        configurations.reset(to: incoming.configuration ?? .empty)
        reportedCommittedConfiguration = incoming.index
        if configuration != before {
            pendingEvents.append(.configurationCommitted(index: incoming.index, configuration: configuration))
        }
        snapshot = incoming
        commitIndex = incoming.index
        appliedIndex = incoming.index
        stableIndex = incoming.index
        snapshotToInstall = incoming
        logReplaced = true
        firstUnstableIndex = nil
        pendingEvents.append(.installedSnapshot(index: incoming.index, term: incoming.term, bytes: incoming.data.count))
    }

    /// A message from the leader of our term: follow it and restart the election timer.
    mutating func followLeader(_ leader: NodeID) {
        switch role {
        case .leader:
            break
        case .preCandidate, .candidate:
            becomeFollower(term: term, leader: leader, reason: "node \(leader) leads term \(term)")
        case .follower:
            if leaderID != leader {
                leaderID = leader
                pendingEvents.append(.followingLeader(leader: leader, term: term))
            }
        }
        electionElapsed = 0
    }
}

/// ReadIndex (thesis §6.4): a read is answered from the commit index the leader had when it
/// asked, once a majority has confirmed in this term that it is still the leader. Reads that
/// arrive while a round is in flight share the next round.
extension RaftNode {
    /// Asks for a linearizable read point. Returns false when this node is not the leader; the
    /// read then comes back in `Ready.readStates` with `id` — or never, if leadership is lost
    /// first (the runtime should then retry elsewhere).
    public mutating func readIndex(id: UInt64) -> Bool {
        readIndex(ids: [id])
    }

    /// Several reads at once; they share one leadership round.
    public mutating func readIndex(ids: [UInt64]) -> Bool {
        guard withLeaderState({ $0.queuedReads.append(contentsOf: ids) }) != nil else { return false }
        startReadRound()
        return true
    }

    /// Starts a round for the queued reads once the leader has committed an entry of its own
    /// term (before that, its commit index might lag what earlier leaders committed).
    mutating func startReadRound() {
        guard log.term(at: commitIndex) == term else { return }
        let index = commitIndex
        guard withLeaderState({ $0.startReadRound(protecting: index) }) == true else { return }
        if !completeReadRoundIfConfirmed() {
            broadcastReadRound()
        }
    }

    /// Sends the round's heartbeat: an empty append at each follower's match index, which it
    /// holds, so every follower answers (and echoes the context) without a log check failing.
    mutating func broadcastReadRound() {
        guard case .leader(let state) = role, let round = state.readRound else { return }
        for voter in configuration.voters where voter != id {
            let prev = max(log.snapshotIndex, min(state.progress[voter]?.match ?? 0, log.lastIndex))
            send(to: voter, .appendRequest(AppendRequest(prevLogIndex: prev, prevLogTerm: log.term(at: prev)!, entries: [],
                                                         leaderCommit: commitIndex, readContext: round.context)))
        }
    }

    mutating func recordReadAck(from peer: NodeID, context: UInt64) {
        guard context > 0, withLeaderState({ $0.recordReadAck(from: peer, context: context) }) == true else { return }
        if completeReadRoundIfConfirmed() {
            startReadRound()
        }
    }

    /// Hands out the round's reads once a quorum (counting this leader) confirmed it.
    mutating func completeReadRoundIfConfirmed() -> Bool {
        let rule = configuration.quorumRule
        let leader = id
        guard let round = withLeaderState({ $0.takeConfirmedReadRound(rule: rule, leader: leader) }) ?? nil else {
            return false
        }
        pendingReadStates.append(contentsOf: round.ids.map { ReadState(id: $0, index: round.index) })
        return true
    }
}

extension LeaderState {
    /// Starts a round for the queued reads that protects `index`; false when a round is already
    /// in flight or no read is queued.
    mutating func startReadRound(protecting index: LogIndex) -> Bool {
        guard readRound == nil, !queuedReads.isEmpty else { return false }
        lastReadContext += 1
        readRound = ReadRound(context: lastReadContext, index: index, ids: queuedReads)
        queuedReads.removeAll()
        return true
    }

    /// Notes that `peer` echoed read context `context`; false when `peer` is not tracked.
    mutating func recordReadAck(from peer: NodeID, context: UInt64) -> Bool {
        readAcks.update(peer) { $0 = max($0, context) } != nil
    }

    /// Ends the round in flight and returns it once `rule` finds a quorum confirmed it: `leader`
    /// itself and every voter that echoed the round's context (or a later one).
    mutating func takeConfirmedReadRound(rule: QuorumRule, leader: NodeID) -> ReadRound? {
        guard let round = readRound,
              rule.isQuorum({ $0 == leader || (readAcks[$0] ?? 0) >= round.context }) else { return nil }
        readRound = nil
        return round
    }
}
