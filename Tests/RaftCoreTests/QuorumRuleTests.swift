import Testing
@testable import RaftCore

/// `QuorumRule`, the one answer to "is this a quorum?", one rule per test.
@Suite struct QuorumRuleTests {
    // A quorum is a majority, one more than half: 1 of 1, 2 of 2, 2 of 3, 3 of 4, 3 of 5, 4 of 6.
    @Test func test_quorum_shouldBeAMajority_ofOddAndEvenVoterCounts() {
        for (voters, size) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)] {
            let rule = QuorumRule(voters: 0..<voters)
            #expect(rule.size == size)
            #expect(rule.isQuorum(0..<size), "\(size) of \(voters)")
            #expect(!rule.isQuorum(0..<(size - 1)), "\(size - 1) of \(voters)")
            let count = rule.count { $0 < size }
            #expect(count == QuorumRule.Count(acknowledged: size, voters: voters, isQuorum: true))
            #expect(count.description == "\(size) of \(voters) voters")
        }
    }

    // Learners receive the log but are not voters: no decision counts them.
    @Test func test_learners_shouldNeverCount() {
        let configuration = ClusterConfiguration(members: [
            Member(id: 0, isVoter: true), Member(id: 1, isVoter: true), Member(id: 2, isVoter: true),
            Member(id: 3, isVoter: false), Member(id: 4, isVoter: false),
        ])
        let rule = configuration.quorumRule
        #expect(rule.voters == [0, 1, 2])
        #expect(configuration.quorum == 2)
        #expect(!rule.isQuorum([0, 3, 4]))
        #expect(!rule.count { $0 == 0 || $0 >= 3 }.isQuorum)
        #expect(rule.committedIndex { $0 >= 3 ? 100 : ($0 == 0 ? 7 : nil) } == 0)
        #expect(rule.voteResult { $0 == 0 || $0 >= 3 ? true : nil } == .pending)
    }

    // Only voters are asked, in id order; other ids and repeated ones count for nothing.
    @Test func test_strangersAndRepeats_shouldBeIgnored() {
        let rule = QuorumRule(voters: [5, 1, 3, 3])
        #expect(rule.voters == [1, 3, 5])
        #expect(!rule.isQuorum([1, 1, 1, 9, -2]))
        #expect(rule.isQuorum([9, 5, 1]))
        var asked: [NodeID] = []
        _ = rule.committedIndex { asked.append($0); return 1 }
        _ = rule.voteResult { asked.append($0); return nil }
        _ = rule.count { asked.append($0); return false }
        #expect(asked == [1, 3, 5, 1, 3, 5, 1, 3, 5])
    }

    // The commit index is the highest index a quorum holds; a voter that acknowledged nothing
    // holds 0, and the order of the voters does not matter.
    @Test func test_committedIndex_shouldBeTheHighestIndexAQuorumHolds() {
        let cases: [([LogIndex?], LogIndex)] = [
            ([4], 4), ([nil], 0),
            ([5, 3, 1], 3), ([5, nil, 1], 1), ([nil, 6, 6], 6), ([nil, nil, 9], 0),
            ([5, 5, 1, 1], 1), ([10, 10, 10, nil], 10), ([10, 10, nil, nil], 0), ([2, 8, 8, 3], 3),
            ([9, 8, 7, 2, 1], 7), ([1, 2, 7, 8, 9], 7), ([nil, 4, nil, 4, 4], 4), ([3, 3, 3, 3, 3], 3),
            ([6, 5, 4, 3, 2, 1], 3),
        ]
        for (acks, expected) in cases {
            let rule = QuorumRule(voters: 0..<acks.count)
            #expect(rule.committedIndex { acks[$0] } == expected, "\(acks)")
            #expect(rule.committedIndex { acks.reversed()[$0] } == expected, "\(acks) reversed")
        }
        #expect(QuorumRule(voters: [3, 7, 20]).committedIndex { [3: 12, 7: 11, 20: 2][$0] } == 11)
    }

    // An election is won once a quorum granted, lost once a quorum can no longer grant, and
    // pending in between.
    @Test func test_voteResult_shouldBeDecidedAsSoonAsTheAnswersDecideIt() {
        func result(_ answers: [Bool?]) -> QuorumRule.VoteResult {
            QuorumRule(voters: 0..<answers.count).voteResult { answers[$0] }
        }
        #expect(result([true]) == .won)
        #expect(result([false]) == .lost)
        #expect(result([nil]) == .pending)
        #expect(result([true, nil, nil]) == .pending)
        #expect(result([true, true, nil]) == .won)
        #expect(result([true, false, nil]) == .pending)
        #expect(result([false, false, nil]) == .lost)
        #expect(result([true, true, false, false]) == .lost, "2 of 4 is not a quorum, and no one is left")
        #expect(result([true, true, false, nil]) == .pending)
        #expect(result([true, true, true, false]) == .won)
        #expect(result([true, false, nil, nil, nil]) == .pending)
        #expect(result([true, false, false, false, nil]) == .lost)
        #expect(result([true, true, true, false, false]) == .won)
    }

    // A rule without voters (a node waiting to be added) decides nothing.
    @Test func test_ruleWithoutVoters_shouldDecideNothing() {
        let rule = ClusterConfiguration.empty.quorumRule
        #expect(rule.voters.isEmpty)
        #expect(rule.committedIndex { _ in 5 } == 0)
        #expect(rule.voteResult { _ in true } == .lost)
        #expect(!rule.isQuorum([0, 1, 2]))
    }

    // A tally keeps each voter's first answer; answers from anyone else are dropped.
    @Test func test_voteTally_shouldKeepEachVotersFirstAnswerOnly() {
        let rule = QuorumRule(voters: 0..<3)
        var tally = VoteTally(voters: rule.voters)
        tally.record(0, granted: true)
        tally.record(0, granted: true)
        tally.record(7, granted: true)
        #expect(rule.voteResult(tally.answer) == .pending, "a duplicate or a stranger's answer counted")
        tally.record(1, granted: false)
        tally.record(1, granted: true)
        #expect(tally.answer(1) == false)
        #expect(tally.answer(7) == nil)
        tally.record(2, granted: true)
        #expect(rule.voteResult(tally.answer) == .won)
    }
}
