import Testing
@testable import RaftCore

/// The four decisions a node takes by quorum — commit, ReadIndex confirmation, CheckQuorum and
/// election — asked of the same configuration with the same nodes answering, agree with each
/// other and with `QuorumRule`; and the leader state they change is changed in place.
@Suite struct QuorumDecisionTests {
    /// Voters 0–3 (an even count: a quorum is 3) and learner 4; or voters 0–4 and learner 5.
    static let configurations: [ClusterConfiguration] = [
        ClusterConfiguration(members: (0...3).map { Member(id: $0, isVoter: true) } + [Member(id: 4, isVoter: false)]),
        ClusterConfiguration(members: (0...4).map { Member(id: $0, isVoter: true) } + [Member(id: 5, isVoter: false)]),
    ]

    /// Every set of nodes besides node 0 that may answer it: voters, learners and stranger 9.
    static let answerSets: [[NodeID]] = {
        let others: [NodeID] = [1, 2, 3, 4, 5, 9]
        return (0..<(1 << others.count)).map { mask in others.indices.filter { mask & (1 << $0) != 0 }.map { others[$0] } }
    }()

    func node(_ configuration: ClusterConfiguration) -> RaftNode {
        RaftNode(id: 0, bootstrap: configuration, config: Harness.config, seed: 1)
    }

    func leader(_ configuration: ClusterConfiguration) -> RaftNode {
        var leader = node(configuration)
        Harness.elect(&leader)
        return leader
    }

    func ack(_ node: inout RaftNode, from peer: NodeID, match: LogIndex = 1, readContext: UInt64 = 0) {
        node.receive(Envelope(from: peer, to: node.id, term: node.term,
                              message: .appendResponse(AppendResponse(success: true, matchIndex: match, readContext: readContext))))
    }

    /// The leader's no-op (index 1) commits once `answering` acknowledged it.
    func commits(_ configuration: ClusterConfiguration, _ answering: [NodeID]) -> Bool {
        var leader = leader(configuration)
        for peer in answering { ack(&leader, from: peer) }
        return leader.commitIndex == 1
    }

    /// A read is answered once `answering` confirmed the leader's round.
    func confirmsRead(_ configuration: ClusterConfiguration, _ answering: [NodeID]) -> Bool {
        var leader = leader(configuration)
        for voter in configuration.voters where voter != 0 { ack(&leader, from: voter) }
        _ = leader.takeReady()
        let accepted = leader.readIndex(id: 7)
        #expect(accepted)
        for peer in answering { ack(&leader, from: peer, readContext: 1) }
        return leader.takeReady().readStates.map(\.id) == [7]
    }

    /// The leader still leads after an election timeout in which only `answering` was heard from.
    func survivesCheckQuorum(_ configuration: ClusterConfiguration, _ answering: [NodeID]) -> Bool {
        var leader = leader(configuration)
        for peer in answering { ack(&leader, from: peer) }
        for _ in 0..<Harness.config.electionTicksMin { leader.tick() }
        return leader.isLeader
    }

    /// Node 0 wins its pre-vote and vote when `answering` grants and every other voter refuses;
    /// otherwise the election is lost at once (not left pending).
    func winsElection(_ configuration: ClusterConfiguration, _ answering: [NodeID]) -> Bool {
        var candidate = node(configuration)
        _ = Harness.tickUntilMessages(&candidate)
        let refusing = configuration.voters.filter { $0 != 0 && !answering.contains($0) }
        for preVote in [true, false] {
            let term = candidate.term + (preVote ? 1 : 0)
            for peer in answering {
                candidate.receive(Envelope(from: peer, to: 0, term: term,
                                           message: .voteResponse(VoteResponse(preVote: preVote, granted: true))))
            }
            for peer in refusing {
                candidate.receive(Envelope(from: peer, to: 0, term: candidate.term,
                                           message: .voteResponse(VoteResponse(preVote: preVote, granted: false))))
            }
            if candidate.roleKind == .follower { return false }
        }
        #expect(candidate.roleKind != .candidate, "an election with every voter's answer is decided")
        return candidate.isLeader
    }

    // One rule, four decisions: each is taken exactly when node 0 and the voters among the
    // answering nodes are a quorum of the configuration.
    @Test(arguments: configurations, answerSets)
    func test_commitReadCheckQuorumAndElection_shouldAgreeWithTheRule(configuration: ClusterConfiguration,
                                                                        answering: [NodeID]) {
        let rule = configuration.quorumRule
        let expected = rule.isQuorum([0] + answering)
        let votersAnswering = answering.filter { configuration.isVoter($0) }.count
        #expect(expected == (votersAnswering + 1 > configuration.voters.count / 2), "a majority of the voters")
        #expect(commits(configuration, answering) == expected, "commit")
        #expect(confirmsRead(configuration, answering) == expected, "ReadIndex")
        #expect(survivesCheckQuorum(configuration, answering) == expected, "CheckQuorum")
        #expect(winsElection(configuration, answering) == expected, "election")
    }

    /// Where the leader state's progress and read-ack maps keep their values.
    func storage(_ node: RaftNode) -> [Int] {
        guard case .leader(let state) = node.role else { return [] }
        return [state.progress.values.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) },
                state.readAcks.values.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }]
    }

    // Leader state is changed in place: proposals, answers, reads, ticks (CheckQuorum) and
    // transfers do not copy the progress or read-ack maps (a copy would move their storage).
    @Test func test_leaderState_shouldBeChangedInPlace() {
        var leader = leader(Self.configurations[1])
        let before = storage(leader)
        #expect(before.count == 2)
        for peer in 1...4 { ack(&leader, from: peer) }
        #expect(leader.commitIndex == 1)
        #expect(leader.propose("x") == .accepted(index: 2, term: 1))
        Harness.persist(&leader)
        for peer in 1...4 { ack(&leader, from: peer, match: 2) }
        #expect(leader.commitIndex == 2)
        let accepted = leader.readIndex(id: 1)
        #expect(accepted)
        for peer in 1...4 { ack(&leader, from: peer, match: 2, readContext: 1) }
        #expect(leader.takeReady().readStates.count == 1)
        for _ in 0..<Harness.config.electionTicksMin { leader.tick() }
        #expect(leader.isLeader)
        #expect(throws: Never.self) { try leader.transferLeadership(to: 2).get() }
        leader.receive(Envelope(from: 3, to: 0, term: leader.term,
                                message: .snapshotResponse(SnapshotChunkResponse(index: 0, received: 0))))
        #expect(storage(leader) == before)
    }
}
