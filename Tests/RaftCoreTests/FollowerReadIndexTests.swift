import Testing
@testable import RaftCore

/// ReadIndex at followers (thesis §6.4): a follower asks its leader for a read point, the leader
/// puts the request in its next leadership round (only once it has committed an entry of its
/// term) and answers with the index that round protects; the follower then holds a `ReadState`
/// for each read, to serve once it has applied that index.
@Suite struct FollowerReadIndexTests {
    /// Three nodes passed messages by hand; `cut` nodes neither send nor receive.
    struct Cluster {
        var nodes: [RaftNode]
        var cut: Set<NodeID> = []
        /// Every Ready's read states, per node, in the order they were handed out.
        var readStates: [[ReadState]] = [[], [], []]
        /// Every message handed out, in order (delivered or not).
        var sent: [Envelope] = []

        /// Node 0 leads term 1, has committed its no-op, and every node knows it.
        static func withLeader() -> Cluster {
            var cluster = Cluster(nodes: (0..<3).map { Harness.node($0) })
            Harness.elect(&cluster.nodes[0])
            cluster.nodes[0].tick()  // a heartbeat, so the followers learn of the leader
            cluster.settle()
            return cluster
        }

        /// Delivers messages until none is left (at most `rounds` passes).
        mutating func settle(rounds: Int = 20) {
            for _ in 0..<rounds {
                var outgoing: [Envelope] = []
                for id in nodes.indices {
                    let ready = Harness.persist(&nodes[id])
                    readStates[id].append(contentsOf: ready.readStates)
                    outgoing.append(contentsOf: ready.allMessages)
                }
                sent.append(contentsOf: outgoing)
                let delivered = outgoing.filter { !cut.contains($0.from) && !cut.contains($0.to) }
                if delivered.isEmpty { return }
                for envelope in delivered { nodes[envelope.to].receive(envelope) }
            }
        }

        func sent(_ kind: (Message) -> Bool) -> [Envelope] { sent.filter { kind($0.message) } }
    }

    static func isRequest(_ message: Message) -> Bool {
        if case .readIndexRequest = message { return true }
        return false
    }

    static func response(_ envelope: Envelope) -> ReadIndexResponse? {
        if case .readIndexResponse(let response) = envelope.message { return response }
        return nil
    }

    // §6.4: the follower's read point is the leader's commit index, confirmed by a quorum after
    // the request arrived; the follower gets it as read states under its own ids.
    @Test func test_follower_shouldServeAtTheLeadersConfirmedCommitIndex() throws {
        var cluster = Cluster.withLeader()
        #expect(cluster.nodes[1].leaderID == 0)
        #expect(cluster.nodes[0].propose("x") == .accepted(index: 2, term: 1))
        cluster.settle()
        #expect(cluster.nodes[0].commitIndex == 2)
        let asked = cluster.nodes[1].readIndex(ids: [41, 42])
        #expect(asked)
        cluster.settle()
        #expect(cluster.readStates[1] == [ReadState(id: 41, index: 2), ReadState(id: 42, index: 2)])
        #expect(cluster.readStates[0].isEmpty && cluster.readStates[2].isEmpty)
        let request = try #require(cluster.sent(Self.isRequest).first)
        #expect(request.from == 1 && request.to == 0 && request.term == 1)
    }

    @Test func test_follower_shouldRefuse_whenItKnowsNoLeader() {
        var node = Harness.node(1)
        let askedWithoutLeader = node.readIndex(ids: [1])
        #expect(!askedWithoutLeader)
        #expect(node.takeReady().messages.isEmpty)
        // A candidate knows no leader either.
        _ = Harness.tickUntilMessages(&node)
        #expect(node.roleKind == .preCandidate)
        let askedAsCandidate = node.readIndex(ids: [2])
        #expect(!askedAsCandidate)
    }

    // §6.4 step 1: a new leader's commit index may lag what earlier leaders committed; it
    // answers no read, its own or a follower's, before an entry of its term commits.
    @Test func test_leader_shouldHoldFollowerReads_untilAnEntryOfItsTermCommits() throws {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        #expect(leader.commitIndex == 0)
        leader.receive(Envelope(from: 1, to: 0, term: leader.term, message: .readIndexRequest(ReadIndexRequest(ids: [7]))))
        let held = leader.takeReady()
        #expect(!held.allMessages.contains { if case .appendRequest(let m) = $0.message { return m.readContext > 0 } else { return false } })
        #expect(!held.allMessages.contains { Self.response($0) != nil })
        for peer in [1, 2] {
            leader.receive(Envelope(from: peer, to: 0, term: leader.term,
                                    message: .appendResponse(AppendResponse(success: true, matchIndex: 1))))
        }
        #expect(leader.commitIndex == 1)
        let round = leader.takeReady().allMessages.compactMap { envelope -> UInt64? in
            if case .appendRequest(let m) = envelope.message, m.readContext > 0 { return m.readContext }
            return nil
        }
        #expect(round.count == 2, "the held read starts a round once the no-op commits")
        leader.receive(Envelope(from: 2, to: 0, term: leader.term,
                                message: .appendResponse(AppendResponse(success: true, matchIndex: 1, readContext: round[0]))))
        let answers = leader.takeReady().messages.compactMap { envelope in Self.response(envelope).map { (envelope.to, $0) } }
        #expect(answers.count == 1)
        #expect(answers.first?.0 == 1 && answers.first?.1 == ReadIndexResponse(ids: [7], index: 1))
    }

    // A leader cut off from the quorum confirms nothing: the follower's read is never answered
    // (its runtime gives up on it), and the leader steps down by CheckQuorum.
    @Test func test_leader_shouldNotAnswer_withoutAQuorum() {
        var cluster = Cluster.withLeader()
        cluster.cut = [2]
        let asked = cluster.nodes[1].readIndex(ids: [5])
        #expect(asked)
        // Node 1's request reaches the leader; then node 1 is cut off too, before it can confirm.
        let request = cluster.nodes[1].takeReady().messages
        cluster.cut = [1, 2]
        for envelope in request { cluster.nodes[0].receive(envelope) }
        for _ in 0..<2 * Harness.config.electionTicksMin {  // CheckQuorum counts whom it heard from in the last timeout
            cluster.nodes[0].tick()
            cluster.settle()
        }
        #expect(!cluster.nodes[0].isLeader)
        #expect(cluster.sent { if case .readIndexResponse = $0 { return true } else { return false } }.isEmpty)
        #expect(cluster.readStates.allSatisfy { $0.isEmpty })
    }

    @Test func test_nodeThatDoesNotLead_shouldIgnoreReadIndexRequests() {
        var cluster = Cluster.withLeader()
        cluster.nodes[2].receive(Envelope(from: 1, to: 2, term: 1, message: .readIndexRequest(ReadIndexRequest(ids: [9]))))
        #expect(cluster.nodes[2].takeReady().messages.isEmpty)
    }

    // Requests that arrive while a round is in flight share the next round, and each follower
    // gets one answer for all its reads in it, in the order it asked.
    @Test func test_leader_shouldAnswerEachFollowerOncePerRound_inOrder() {
        var cluster = Cluster.withLeader()
        let asked = cluster.nodes[0].readIndex(ids: [100])  // a round in flight
        #expect(asked)
        var leader = cluster.nodes[0]
        let round = leader.takeReady()
        for (from, ids) in [(1, [1, 2] as [UInt64]), (2, [3]), (1, [4])] {
            leader.receive(Envelope(from: from, to: 0, term: 1, message: .readIndexRequest(ReadIndexRequest(ids: ids))))
        }
        #expect(leader.takeReady().messages.allSatisfy { Self.response($0) == nil }, "they wait for the next round")
        let context = round.allMessages.compactMap { envelope -> UInt64? in
            if case .appendRequest(let m) = envelope.message, m.readContext > 0 { return m.readContext }
            return nil
        }.first ?? 0
        leader.receive(Envelope(from: 1, to: 0, term: 1,
                                message: .appendResponse(AppendResponse(success: true, matchIndex: 1, readContext: context))))
        let second = leader.takeReady()
        #expect(second.readStates == [ReadState(id: 100, index: 1)])
        let nextContext = second.allMessages.compactMap { envelope -> UInt64? in
            if case .appendRequest(let m) = envelope.message, m.readContext > 0 { return m.readContext }
            return nil
        }.first ?? 0
        #expect(nextContext == context + 1)
        leader.receive(Envelope(from: 2, to: 0, term: 1,
                                message: .appendResponse(AppendResponse(success: true, matchIndex: 1, readContext: nextContext))))
        let answers = leader.takeReady().messages.compactMap { envelope in Self.response(envelope).map { (envelope.to, $0) } }
        #expect(answers.map(\.0) == [1, 2])
        #expect(answers.map(\.1) == [ReadIndexResponse(ids: [1, 2, 4], index: 1), ReadIndexResponse(ids: [3], index: 1)])
    }

    // An answer from an earlier term is stale: a node in a later term ignores it (Figure 2).
    @Test func test_answerFromAnEarlierTerm_shouldBeIgnored() {
        var node = Harness.node(1, term: 3)
        node.receive(Envelope(from: 0, to: 1, term: 2, message: .readIndexResponse(ReadIndexResponse(ids: [1], index: 5))))
        #expect(node.takeReady().readStates.isEmpty)
        node.receive(Envelope(from: 0, to: 1, term: 3, message: .readIndexResponse(ReadIndexResponse(ids: [2], index: 5))))
        #expect(node.takeReady().readStates == [ReadState(id: 2, index: 5)])
    }

    // The read point protects every write committed before the read was asked, even one the
    // follower itself has not heard is committed yet: its read state waits for that index.
    @Test func test_followerReadState_shouldCoverWritesItHasNotAppliedYet() {
        var cluster = Cluster.withLeader()
        cluster.cut = [1]
        #expect(cluster.nodes[0].propose("w") == .accepted(index: 2, term: 1))
        cluster.settle()
        #expect(cluster.nodes[0].commitIndex == 2)
        #expect(cluster.nodes[1].commitIndex < 2)
        cluster.cut = []
        let asked = cluster.nodes[1].readIndex(ids: [8])
        #expect(asked)
        // Only the request and the answer travel; whatever else node 1 gets is dropped.
        let request = cluster.nodes[1].takeReady().messages.filter { Self.isRequest($0.message) }
        for envelope in request { cluster.nodes[0].receive(envelope) }
        var leaderReady = cluster.nodes[0].takeReady()
        let heartbeats = leaderReady.allMessages.filter { $0.to == 2 }
        for envelope in heartbeats { cluster.nodes[2].receive(envelope) }
        for envelope in cluster.nodes[2].takeReady().messages { cluster.nodes[0].receive(envelope) }
        leaderReady = cluster.nodes[0].takeReady()
        let answers = leaderReady.messages.filter { Self.response($0) != nil }
        #expect(answers.count == 1)
        for envelope in answers { cluster.nodes[1].receive(envelope) }
        let states = cluster.nodes[1].takeReady().readStates
        #expect(states == [ReadState(id: 8, index: 2)])
        #expect(cluster.nodes[1].appliedIndex < 2, "the runtime must wait for the follower to apply index 2")
    }
}
