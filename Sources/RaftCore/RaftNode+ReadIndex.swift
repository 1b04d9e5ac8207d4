/// ReadIndex (thesis §6.4): a read is answered from the commit index the leader had when it
/// asked, once a majority has confirmed in this term that it is still the leader. Reads that
/// arrive while a round is in flight share the next round. A follower asks its leader for the
/// read point of its reads (`ReadIndexRequest`); the leader puts them in its next round and
/// answers with the index it protects, and the follower serves them from its own state once it
/// has applied that far.
extension RaftNode {
    /// Asks for a linearizable read point. See `readIndex(ids:)`.
    public mutating func readIndex(id: UInt64) -> Bool {
        readIndex(ids: [id])
    }

    /// Asks for a linearizable read point for several reads at once; they share one leadership
    /// round. A leader runs the round itself; a follower (or learner) that knows its leader asks
    /// it. Returns false when this node knows no leader (a candidate, or a follower that has not
    /// heard from one): ask again later, or elsewhere.
    ///
    /// The reads come back in `Ready.readStates` under their `ids` — or never, if the leader
    /// loses its leadership or a message is lost. The runtime must give up on a read when this
    /// node's term or leader changes, and at a follower after a timeout of its own; the core
    /// keeps nothing for it. `ids` must never repeat, not even across restarts of this node: a
    /// leader's answer to a request made before a crash may arrive after it.
    public mutating func readIndex(ids: [UInt64]) -> Bool {
        guard !ids.isEmpty else { return isLeader || leaderID != nil }
        if withLeaderState({ $0.queuedReads.append(contentsOf: ids) }) != nil {
            startReadRound()
            return true
        }
        guard role == .follower, let leader = leaderID, leader != id else { return false }
        send(to: leader, .readIndexRequest(ReadIndexRequest(ids: ids)))
        return true
    }

    /// A follower's reads join the next round (a leader that has not committed an entry of its
    /// term yet holds them until it has). Anyone but a leader ignores the request: the follower
    /// gives up on its own and asks again.
    mutating func handleReadIndexRequest(from follower: NodeID, _ request: ReadIndexRequest) {
        guard !request.ids.isEmpty,
              withLeaderState({ $0.queuedFollowerReads.append(LeaderState.FollowerReads(follower: follower, ids: request.ids)) }) != nil
        else { return }
        startReadRound()
    }

    /// The leader confirmed a read point for reads this node asked for: they are safe to serve
    /// once the state machine has applied `index`.
    mutating func handleReadIndexResponse(from leader: NodeID, _ response: ReadIndexResponse) {
        pendingReadStates.append(contentsOf: response.ids.map { ReadState(id: $0, index: response.index) })
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
        for reads in round.followerReads {
            send(to: reads.follower, .readIndexResponse(ReadIndexResponse(ids: reads.ids, index: round.index)))
        }
        return true
    }
}

extension LeaderState {
    /// Starts a round for the queued reads that protects `index`; false when a round is already
    /// in flight or no read is queued. A follower's reads asked in several requests are answered
    /// in one message, in the order they came.
    mutating func startReadRound(protecting index: LogIndex) -> Bool {
        guard readRound == nil, !queuedReads.isEmpty || !queuedFollowerReads.isEmpty else { return false }
        lastReadContext += 1
        var followerReads: [FollowerReads] = []
        for reads in queuedFollowerReads {
            if let position = followerReads.firstIndex(where: { $0.follower == reads.follower }) {
                followerReads[position].ids.append(contentsOf: reads.ids)
            } else {
                followerReads.append(reads)
            }
        }
        readRound = ReadRound(context: lastReadContext, index: index, ids: queuedReads, followerReads: followerReads)
        queuedReads.removeAll()
        queuedFollowerReads.removeAll()
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
