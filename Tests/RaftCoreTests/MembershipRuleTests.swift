import Testing
@testable import RaftCore

/// Membership changes (thesis §4.1, single-server changes) and leadership transfer (§3.10), one
/// rule per test.
@Suite struct MembershipRuleTests {
    func ack(_ leader: inout RaftNode, from peer: NodeID, match: LogIndex) {
        leader.receive(Envelope(from: peer, to: leader.id, term: leader.term,
                                message: .appendResponse(AppendResponse(success: true, matchIndex: match))))
    }

    /// A leader of {0,1,2} whose no-op (index 1) is committed and whose followers replicate.
    func readyLeader() -> RaftNode {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        ack(&leader, from: 1, match: 1)
        ack(&leader, from: 2, match: 1)
        Harness.persist(&leader)
        return leader
    }

    // §4.1: a configuration is in force as soon as its entry is in the log, committed or not.
    @Test func test_configuration_shouldTakeEffect_whenAppended() throws {
        var leader = readyLeader()
        let result = leader.proposeConfigurationChange(.addLearner(id: 3, context: "", promoteWhenCaughtUp: false))
        let appended = try result.get()
        #expect(appended.index == 2)
        #expect(leader.configuration.learners == [3])
        #expect(leader.committedConfiguration.learners.isEmpty)
        #expect(leader.configurationChangePending)
        #expect(leader.replicationStatus.map(\.id) == [1, 2, 3], "the leader replicates to the new learner at once")
    }

    // A learner receives the log but never counts toward a quorum.
    @Test func test_learner_shouldNeverCountTowardQuorum() throws {
        var leader = Harness.node(0, of: 2)
        Harness.elect(&leader)
        ack(&leader, from: 1, match: 1)
        Harness.persist(&leader)
        _ = try leader.proposeConfigurationChange(.addLearner(id: 2, context: "", promoteWhenCaughtUp: false)).get()
        ack(&leader, from: 1, match: 2)
        Harness.persist(&leader)
        #expect(leader.commitIndex == 2)
        // Node 1 goes silent; the learner acknowledges a new entry: it must not commit.
        _ = leader.propose("x")
        Harness.persist(&leader)
        ack(&leader, from: 2, match: 3)
        #expect(leader.commitIndex == 2, "voters {0,1} need node 1; the learner's copy does not count")
        ack(&leader, from: 1, match: 3)
        #expect(leader.commitIndex == 3)
    }

    // One change at a time: a second change while one is uncommitted is refused.
    @Test func test_leader_shouldRefuseSecondChange_whileOneIsPending() throws {
        var leader = readyLeader()
        _ = try leader.proposeConfigurationChange(.addLearner(id: 3, context: "", promoteWhenCaughtUp: false)).get()
        let second = leader.proposeConfigurationChange(.addLearner(id: 4, context: "", promoteWhenCaughtUp: false))
        #expect(second.failureValue == .changeInProgress(index: 2))
        #expect(leader.log.lastIndex == 2, "nothing was appended")
    }

    // The single-server rule's fix (Ongaro 2015): a new leader changes nothing before it has
    // committed an entry of its own term.
    @Test func test_newLeader_shouldRefuseChange_beforeCommittingInItsTerm() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        #expect(leader.commitIndex == 0)
        let result = leader.proposeConfigurationChange(.remove(id: 2))
        #expect(result.failureValue == .leaderNotReady)
        ack(&leader, from: 1, match: 1)
        #expect(leader.commitIndex == 1)
        #expect(throws: Never.self) { try leader.proposeConfigurationChange(.remove(id: 2)).get() }
    }

    // The leader never removes itself: leadership moves first.
    @Test func test_leader_shouldRefuseToRemoveItself() {
        var leader = readyLeader()
        #expect(leader.proposeConfigurationChange(.remove(id: 0)).failureValue == .removingLeader)
    }

    // §4.1: cutting a configuration entry from the log puts the previous configuration back.
    @Test func test_follower_shouldRevertConfiguration_whenEntryIsCut() {
        var follower = Harness.node(1)
        let change = ClusterConfiguration.voters([0, 1, 2, 3])
        follower.receive(Envelope(from: 0, to: 1, term: 1, message: .appendRequest(AppendRequest(
            prevLogIndex: 0, prevLogTerm: 0,
            entries: [Entry(index: 1, term: 1, data: ""), Entry(index: 2, term: 1, data: "", configuration: change)],
            leaderCommit: 1))))
        #expect(follower.configuration == change)
        // A leader of term 2 overwrites index 2.
        follower.receive(Envelope(from: 2, to: 1, term: 2, message: .appendRequest(AppendRequest(
            prevLogIndex: 1, prevLogTerm: 1, entries: [Entry(index: 2, term: 2, data: "")], leaderCommit: 1))))
        #expect(follower.configuration == .voters([0, 1, 2]))
        let events = follower.takeReady().events
        #expect(events.contains { if case .configurationReverted = $0 { return true } else { return false } })
    }

    // Learners and nodes outside the configuration never campaign.
    @Test func test_nonVoters_shouldNeverCampaign() {
        let configuration = ClusterConfiguration(members: [Member(id: 0, isVoter: true), Member(id: 1, isVoter: false)])
        var learner = RaftNode(id: 1, bootstrap: configuration, config: Harness.config, seed: 1)
        var stranger = RaftNode(id: 5, bootstrap: configuration, config: Harness.config, seed: 2)
        for _ in 0..<200 {
            learner.tick()
            stranger.tick()
        }
        #expect(learner.roleKind == .follower && learner.term == 0 && learner.takeReady().messages.isEmpty)
        #expect(stranger.roleKind == .follower && stranger.term == 0 && stranger.takeReady().messages.isEmpty)
    }

    // `add` brings a node in as a learner and the leader promotes it once it has caught up.
    @Test func test_leader_shouldPromoteLearner_onceCaughtUp() throws {
        var leader = readyLeader()
        _ = try leader.proposeConfigurationChange(.addLearner(id: 3, context: "", promoteWhenCaughtUp: true)).get()
        Harness.persist(&leader)
        ack(&leader, from: 1, match: 2)  // the learner entry commits
        #expect(leader.commitIndex == 2)
        #expect(leader.configuration.learners == [3], "not promoted before it has caught up")
        ack(&leader, from: 3, match: 2)  // the learner holds everything
        #expect(leader.configuration.voters == [0, 1, 2, 3])
        #expect(leader.configurationIndex == 3)
    }

    // §3.10: the leader brings the target up to date, then tells it to campaign at once; voters
    // set the leader lease aside for that election; proposals wait meanwhile.
    @Test func test_transfer_shouldSendTimeoutNow_andTargetShouldWin() throws {
        var leader = readyLeader()
        try leader.transferLeadership(to: 2).get()
        #expect(leader.propose("x") == .notLeader(leaderHint: nil), "proposals are refused during a transfer")
        let ready = leader.takeReady()
        let timeoutNow = try #require(ready.messages.first { $0.message == .timeoutNow })
        #expect(timeoutNow.to == 2)

        var target = Harness.node(2)
        var voter = Harness.node(1)
        for node in [1, 2] {
            let append = Envelope(from: 0, to: node, term: 1, message: .appendRequest(AppendRequest(
                prevLogIndex: 0, prevLogTerm: 0, entries: [Entry(index: 1, term: 1, data: "")], leaderCommit: 1)))
            if node == 2 { target.receive(append) } else { voter.receive(append) }
        }
        _ = target.takeReady()
        _ = voter.takeReady()
        target.receive(timeoutNow)
        #expect(target.roleKind == .candidate && target.term == 2, "no pre-vote: straight to the election")
        let request = try #require(target.takeReady().messages.first { $0.to == 1 })
        voter.receive(request)  // the voter heard from leader 0 a moment ago, yet grants
        let answer = try #require(voter.takeReady().messages.first)
        #expect(answer.message == .voteResponse(VoteResponse(preVote: false, granted: true)))
        target.receive(answer)
        #expect(target.isLeader)
    }

    // A transfer to a node that never takes over is abandoned after an election timeout.
    @Test func test_transfer_shouldBeAbandoned_afterElectionTimeout() throws {
        var leader = readyLeader()
        try leader.transferLeadership(to: 2).get()
        for _ in 0..<Harness.config.electionTicksMin {
            leader.tick()
            ack(&leader, from: 1, match: 1)  // stay in touch with a quorum
        }
        #expect(leader.isLeader && leader.transferee == nil)
        #expect(leader.propose("x") != .notLeader(leaderHint: nil))
    }

    // A removed node does not disrupt: its pre-votes are refused by nodes that hold its removal.
    @Test func test_removedNode_shouldNotWinPreVote() {
        var member = Harness.node(1, term: 3, log: [Entry(index: 1, term: 3, data: ""),
                                                   Entry(index: 2, term: 3, data: "", configuration: .voters([0, 1]))])
        member.receive(Envelope(from: 2, to: 1, term: 4,
                                message: .voteRequest(VoteRequest(preVote: true, lastLogIndex: 1, lastLogTerm: 3))))
        let answer = member.takeReady().messages.first?.message
        #expect(answer == .voteResponse(VoteResponse(preVote: true, granted: false)))
        #expect(member.term == 3, "a pre-vote never moves the term")
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
