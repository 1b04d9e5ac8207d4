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
