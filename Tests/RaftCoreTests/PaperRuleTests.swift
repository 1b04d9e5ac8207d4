import Testing
@testable import RaftCore

/// The rules of the Raft paper's Figure 2 and §5.4, one test each, named after the rule.
@Suite struct PaperRuleTests {
    func voteRequest(from candidate: NodeID, to voter: NodeID, term: Term, lastIndex: LogIndex, lastTerm: Term,
                     preVote: Bool = false) -> Envelope {
        Envelope(from: candidate, to: voter, term: term,
                 message: .voteRequest(VoteRequest(preVote: preVote, lastLogIndex: lastIndex, lastLogTerm: lastTerm)))
    }

    func granted(_ ready: Ready) -> Bool? {
        for envelope in ready.messages {
            if case .voteResponse(let response) = envelope.message { return response.granted }
        }
        return nil
    }

    // §5.2: each server votes for at most one candidate in a given term.
    @Test func test_voter_shouldGrantAtMostOneVote_perTerm() {
        var voter = Harness.node(0)
        voter.receive(voteRequest(from: 1, to: 0, term: 1, lastIndex: 0, lastTerm: 0))
        #expect(granted(voter.takeReady()) == true)
        voter.receive(voteRequest(from: 2, to: 0, term: 1, lastIndex: 0, lastTerm: 0))
        #expect(granted(voter.takeReady()) == false)
        voter.receive(voteRequest(from: 1, to: 0, term: 1, lastIndex: 0, lastTerm: 0))
        #expect(granted(voter.takeReady()) == true, "a repeated request from the same candidate is granted again")
    }

    // Figure 2: the vote is persisted before the response leaves (both in one Ready, hard state first).
    @Test func test_vote_shouldBePersisted_inTheReadyThatCarriesTheGrant() {
        var voter = Harness.node(0)
        voter.receive(voteRequest(from: 1, to: 0, term: 3, lastIndex: 0, lastTerm: 0))
        let ready = voter.takeReady()
        #expect(ready.hardState == HardState(term: 3, votedFor: 1))
        #expect(granted(ready) == true)
    }

    // Figure 2: a vote in the term the voter already holds is persisted too.
    @Test func test_vote_shouldBePersisted_evenWithoutTermChange() {
        var voter = Harness.node(0, term: 3)
        voter.receive(voteRequest(from: 2, to: 0, term: 3, lastIndex: 0, lastTerm: 0))
        let ready = voter.takeReady()
        #expect(ready.hardState == HardState(term: 3, votedFor: 2))
        #expect(granted(ready) == true)
    }

    // §5.4.1: deny the vote if the candidate's log is less up to date.
    @Test func test_voter_shouldRejectVote_whenCandidateLogIsBehind() {
        var voter = Harness.node(0, term: 2, log: Harness.entries(terms: [1, 2]))
        voter.receive(voteRequest(from: 1, to: 0, term: 3, lastIndex: 5, lastTerm: 1))
        let ready = voter.takeReady()
        #expect(granted(ready) == false)
        #expect(ready.hardState == HardState(term: 3, votedFor: nil), "the higher term is still adopted")
    }

    // Restart: a persisted vote is honoured after a crash.
    @Test func test_restartedVoter_shouldKeepItsVote() {
        var voter = Harness.node(0, term: 4, votedFor: 2)
        voter.receive(voteRequest(from: 1, to: 0, term: 4, lastIndex: 0, lastTerm: 0))
        #expect(granted(voter.takeReady()) == false)
    }

    // PreVote (thesis §9.6): asking does not change anyone's term.
    @Test func test_preVote_shouldNotRaiseTerms() {
        var candidate = Harness.node(0, term: 5)
        let ready = Harness.tickUntilMessages(&candidate)
        #expect(candidate.roleKind == .preCandidate)
        #expect(candidate.term == 5 && ready.hardState == nil)
        var voter = Harness.node(1, term: 5)
        voter.receive(ready.messages.first { $0.to == 1 }!)
        let answer = voter.takeReady()
        #expect(granted(answer) == true)
        #expect(voter.term == 5 && answer.hardState == nil)
    }

    // §5.3: reply false if the log has no entry at prevLogIndex whose term matches prevLogTerm,
    // with the conflict hint (term, first index of that term).
    @Test func test_follower_shouldRejectAppend_withConflictHint() {
        var follower = Harness.node(1, term: 3, log: Harness.entries(terms: [1, 2, 2, 2]))
        follower.receive(Envelope(from: 0, to: 1, term: 3, message: .appendRequest(
            AppendRequest(prevLogIndex: 4, prevLogTerm: 3, entries: [], leaderCommit: 0))))
        let ready = follower.takeReady()
        guard case .appendResponse(let response) = ready.messages.first?.message else {
            Issue.record("no answer"); return
        }
        #expect(!response.success)
        #expect(response.hintTerm == 2 && response.hintIndex == 2)
    }

    // §5.3: delete a conflicting entry and all that follow it; append new ones; keep matching ones.
    @Test func test_follower_shouldTruncateConflictingSuffix_only() {
        var follower = Harness.node(1, term: 3, log: Harness.entries(terms: [1, 1, 2, 2]))
        let incoming = [Entry(index: 2, term: 1, data: "e2"), Entry(index: 3, term: 3, data: "new3")]
        follower.receive(Envelope(from: 0, to: 1, term: 3, message: .appendRequest(
            AppendRequest(prevLogIndex: 1, prevLogTerm: 1, entries: incoming, leaderCommit: 3))))
        let ready = follower.takeReady()
        #expect(follower.log.entries.map(\.term) == [1, 1, 3])
        #expect(ready.entries == [Entry(index: 3, term: 3, data: "new3")], "only the changed suffix is written")
        #expect(follower.commitIndex == 3)
        #expect(ready.committedEntries.map(\.index) == [1, 2, 3])
    }

    // §5.3: an old, reordered AppendEntries must not truncate entries that match.
    @Test func test_follower_shouldIgnoreStaleAppend_withoutTruncating() {
        var follower = Harness.node(1, term: 2, log: Harness.entries(terms: [1, 2, 2]))
        follower.receive(Envelope(from: 0, to: 1, term: 2, message: .appendRequest(
            AppendRequest(prevLogIndex: 0, prevLogTerm: 0, entries: [Entry(index: 1, term: 1, data: "e1")], leaderCommit: 0))))
        #expect(follower.log.lastIndex == 3)
        #expect(follower.takeReady().entries.isEmpty)
    }

    // §5.4.2: a leader never commits an earlier term's entry by counting replicas; it commits
    // its own no-op, and the earlier entry with it.
    @Test func test_leader_shouldNotCommitPreviousTermEntry_byCountingReplicas() {
        var leader = Harness.node(0, term: 2, log: Harness.entries(terms: [1, 2]))
        Harness.elect(&leader)
        #expect(leader.isLeader && leader.term == 3)
        #expect(leader.log.lastIndex == 3, "the new leader appends a no-op")
        // A follower reports it holds index 2 (an entry of term 2): a majority has it, yet no commit.
        leader.receive(Envelope(from: 1, to: 0, term: 3, message: .appendResponse(AppendResponse(success: true, matchIndex: 2))))
        #expect(leader.commitIndex == 0)
        leader.receive(Envelope(from: 1, to: 0, term: 3, message: .appendResponse(AppendResponse(success: true, matchIndex: 3))))
        #expect(leader.commitIndex == 3)
    }

    // A proposal at a follower is refused with the leader it knows.
    @Test func test_follower_shouldRefuseProposal_withLeaderHint() {
        var follower = Harness.node(1, term: 2)
        follower.receive(Envelope(from: 2, to: 1, term: 2, message: .appendRequest(
            AppendRequest(prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0))))
        #expect(follower.propose("x") == .notLeader(leaderHint: 2))
    }

    // A proposal at the leader returns its index and term.
    @Test func test_leader_shouldReturnIndexAndTerm_forProposal() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        #expect(leader.propose("x") == .accepted(index: 2, term: 1))
        #expect(leader.propose(batch: ["y", "z"]) == .accepted(index: 3, term: 1))
    }

    // CheckQuorum: a leader that hears from no one for an election timeout steps down.
    @Test func test_leader_shouldStepDown_withoutQuorumContact() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        for _ in 0..<(2 * Harness.config.electionTicksMin) { leader.tick() }
        #expect(!leader.isLeader)
        let events = leader.takeReady().events
        #expect(events.contains { if case .steppedDown = $0 { return true } else { return false } })
    }

    // A one-node cluster elects itself and commits alone, once its own copy is durable.
    @Test func test_singleNode_shouldLeadAndCommitAlone() {
        var node = Harness.node(0, of: 1)
        for _ in 0..<30 { node.tick() }
        #expect(node.isLeader)
        _ = node.propose("solo")
        let written = Harness.persist(&node)
        #expect(written.entries.map(\.data) == ["", "solo"])
        #expect(written.committedEntries.isEmpty, "nothing commits before the leader's own write is durable")
        #expect(node.takeReady().committedEntries.map(\.data) == ["", "solo"])
    }

    // Thesis §10.2.1: the leader sends its entries before writing them, but counts its own copy
    // toward a majority only once the runtime says it is durable.
    @Test func test_leader_shouldCountItsOwnCopy_onlyOncePersisted() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        for follower in [1, 2] {  // both followers hold the no-op: they leave probing and the no-op commits
            leader.receive(Envelope(from: follower, to: 0, term: 1, message: .appendResponse(AppendResponse(success: true, matchIndex: 1))))
        }
        _ = leader.takeReady()
        _ = leader.propose("x")
        let ready = leader.takeReady()
        #expect(ready.entries.map(\.data) == ["x"])
        let replicated = ready.earlyMessages.contains {
            if case .appendRequest(let request) = $0.message { return request.entries.map(\.data).contains("x") }
            return false
        }
        #expect(replicated, "replication leaves before the leader's own write")
        #expect(ready.messages.isEmpty)
        leader.receive(Envelope(from: 1, to: 0, term: 1, message: .appendResponse(AppendResponse(success: true, matchIndex: 2))))
        #expect(leader.commitIndex == 1, "entry 2 is durable on follower 1 only; the leader's copy does not count yet")
        leader.persisted(through: 2, term: 1)
        #expect(leader.commitIndex == 2)
    }

    // ...and two followers are a majority of three without the leader's copy.
    @Test func test_leader_shouldCommit_onFollowersAlone() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        _ = leader.propose("x")
        _ = leader.takeReady()
        for follower in [1, 2] {
            leader.receive(Envelope(from: follower, to: 0, term: 1,
                                    message: .appendResponse(AppendResponse(success: true, matchIndex: 2))))
        }
        #expect(leader.commitIndex == 2)
    }

    // A disk that lost written entries (fsync off, power cut) can bring back a leader of the
    // same term with a shorter log; acknowledgements beyond it are dropped, not trusted.
    @Test func test_leader_shouldIgnoreAcknowledgement_beyondItsLog() {
        var leader = Harness.node(0)
        Harness.elect(&leader)
        _ = leader.propose("x")
        _ = Harness.persist(&leader)
        leader.receive(Envelope(from: 1, to: 0, term: 1, message: .appendResponse(AppendResponse(success: true, matchIndex: 9))))
        #expect(leader.commitIndex == 0)
        #expect(leader.takeReady().events.contains { if case .ignoredImpossible = $0 { return true } else { return false } })
        leader.tick()
        leader.tick()
        #expect(leader.testOnly_checkInvariants() == nil)
        leader.receive(Envelope(from: 1, to: 0, term: 1, message: .appendResponse(AppendResponse(success: true, matchIndex: 2))))
        #expect(leader.commitIndex == 2)
    }

    // Restart: term, vote and log come back; commit is re-learned.
    @Test func test_restart_shouldRestorePersistedState() {
        let node = Harness.node(0, term: 7, votedFor: 1, log: Harness.entries(terms: [3, 7]))
        #expect(node.term == 7 && node.votedFor == 1 && node.log.lastIndex == 2)
        #expect(node.commitIndex == 0 && node.roleKind == .follower)
    }
}
