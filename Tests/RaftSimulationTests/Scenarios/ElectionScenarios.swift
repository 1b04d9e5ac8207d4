import RaftCore
import Testing

/// Elections: the 6.5840 lab's 3A tests, plus PreVote and CheckQuorum.
@Suite struct ElectionScenarios {
    @Test("initial election: one leader, and the term holds while nothing fails", arguments: scenarioSeeds)
    func initialElection(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitStableLeader())
        let term = cluster.term(of: leader)
        cluster.run(ticks: 200)
        #expect(cluster.violation == nil)
        #expect(cluster.stableLeader == leader)
        #expect((0..<3).allSatisfy { cluster.term(of: $0) == term }, "terms moved without failures")
    }

    @Test("re-election after leader loss; no leader without a quorum; the old leader rejoins quietly",
          arguments: scenarioSeeds)
    func reElection(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let first = try #require(cluster.awaitStableLeader())
        cluster.crash(first)
        let second = try #require(cluster.awaitStableLeader())
        #expect(second != first)
        let secondTerm = cluster.term(of: second)

        cluster.restart(first)
        cluster.run(ticks: 100)
        #expect(cluster.stableLeader == second, "the old leader disrupted the new one")
        #expect(cluster.term(of: second) == secondTerm)

        let others = (0..<3).filter { $0 != second }
        cluster.crash(second)
        cluster.crash(others[0])
        cluster.run(ticks: 200)
        #expect(cluster.leader == nil, "a single node of three elected itself")
        cluster.restart(others[0])
        #expect(cluster.awaitStableLeader(withinTicks: 200) != nil)
        #expect(cluster.violation == nil)
    }

    @Test("PreVote: a node cut off and returning does not raise the cluster's term", arguments: scenarioSeeds)
    func preVoteKeepsTermStable(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let leader = try #require(cluster.awaitStableLeader())
        let term = cluster.term(of: leader)
        let loner = (leader + 1) % 5
        cluster.setPartition([(0..<5).filter { $0 != loner }, [loner]])
        cluster.run(ticks: 300)
        #expect(cluster.term(of: loner) == term, "the cut-off node raised its term")
        cluster.healPartition()
        cluster.run(ticks: 100)
        #expect(cluster.stableLeader == leader)
        #expect(cluster.term(of: leader) == term)
        #expect(cluster.violation == nil)
    }

    @Test("CheckQuorum: a leader in a minority steps down within an election timeout", arguments: scenarioSeeds)
    func checkQuorumStepsDown(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let leader = try #require(cluster.awaitStableLeader())
        let buddy = (leader + 1) % 5
        cluster.setPartition([[leader, buddy], (0..<5).filter { $0 != leader && $0 != buddy }])
        let steppedDown = cluster.run(upTo: 2 * cluster.config.electionTicksMin + 1) { $0.raft(leader)?.isLeader == false }
        #expect(steppedDown, "the minority leader kept leading")
        let majorityLeader = cluster.run(upTo: 200) { cluster in
            guard let newLeader = cluster.leader else { return false }
            return newLeader != leader && newLeader != buddy
        }
        #expect(majorityLeader)
        #expect(cluster.violation == nil)
    }
}
