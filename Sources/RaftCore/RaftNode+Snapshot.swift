/// Snapshots: compaction on the runtime's request, InstallSnapshot at the receiving end (§7).
extension RaftNode {
    /// The runtime has snapshotted its state machine through `index` (already applied) as
    /// `data`, and stored it; the log entries before it can go — but for a tail of
    /// `snapshotCatchUpEntries`, and at a leader whatever a follower loading a snapshot will need
    /// next. `log.snapshotIndex` (the log's base) may therefore stay below `snapshot.index`.
    /// Returns the entries dropped from the log (a runtime may free them on another thread:
    /// tens of thousands of entries take milliseconds to free).
    @discardableResult
    public mutating func compact(through index: LogIndex, data: SnapshotData) -> [Entry] {
        precondition(index <= appliedIndex, "cannot snapshot past the applied index \(appliedIndex)")
        guard index > (snapshot?.index ?? log.snapshotIndex) else { return [] }
        let term = log.term(at: index)!
        let configuration = configurations.configuration(at: index)
        snapshot = Snapshot(index: index, term: term, data: data, configuration: configuration)
        let base = compactionBase(for: index)
        guard base > log.snapshotIndex else { return [] }
        let removed = log.compact(through: base)
        configurations.compact(through: base)
        return removed
    }

    /// The runtime has stored the latest snapshot's bytes (`index`) where it can read them back —
    /// the same bytes, so nothing the core does changes — and the core drops its in-memory copy.
    public mutating func snapshotBytesStored(index: LogIndex, as data: SnapshotData) {
        guard let current = snapshot, current.index == index, current.data.count == data.count,
              !current.data.isExternal else { return }
        snapshot!.data = data
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
