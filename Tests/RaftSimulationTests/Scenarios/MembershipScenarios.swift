import RaftCore
import Testing

/// Membership changes under faults, each checked after every step by the safety checker.
@Suite struct MembershipScenarios {
    /// Waits until the committed configuration satisfies `condition`.
    func awaitCommittedConfiguration(_ cluster: SimCluster, ticks: Int = 200,
                                     _ condition: @escaping (ClusterConfiguration) -> Bool) -> Bool {
        cluster.run(upTo: ticks) { condition($0.checker.committedConfiguration) }
    }

    @Test("a node added under message loss catches up as a learner, then becomes a voter", arguments: scenarioSeeds)
    func addUnderLoss(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitLeaderReadyForChanges())
        cluster.proposeAll((0..<30).map { "before\($0)" }, at: leader)
        cluster.faults.dropRate = 0.2
        let newcomer = cluster.addNode()
        let change = cluster.changeMembership(at: leader, .addLearner(id: newcomer, context: "", promoteWhenCaughtUp: true))
        #expect(throws: Never.self) { try change.get() }
        #expect(awaitCommittedConfiguration(cluster, ticks: 400) { $0.isVoter(newcomer) })
        cluster.faults = .reliable
        let current = try #require(cluster.awaitStableLeader(withinTicks: 200))
        cluster.proposeAll(["after"], at: current)
        #expect(cluster.awaitApplied(["before0", "before29", "after"], on: [newcomer], withinTicks: 200))
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }

    @Test("removing the leader: leadership moves first, then the old leader is removed", arguments: scenarioSeeds)
    func removeLeader(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitLeaderReadyForChanges())
        #expect(cluster.changeMembership(at: leader, .remove(id: leader)).failureValue == .removingLeader)
        let target = (leader + 1) % 3
        #expect(cluster.transferLeadership(from: leader, to: target))
        #expect(cluster.run(upTo: 60) { $0.leader == target })
        let newLeader = try #require(cluster.awaitLeaderReadyForChanges())
        #expect(throws: Never.self) { try cluster.changeMembership(at: newLeader, .remove(id: leader)).get() }
        #expect(awaitCommittedConfiguration(cluster) { !$0.contains(leader) })
        #expect(cluster.run(upTo: 60) { $0.raft(leader)?.configuration.contains(leader) == false }, "the removed node learned it is out")
        cluster.proposeAll(["two voters"], at: newLeader)
        #expect(cluster.awaitApplied(["two voters"], on: cluster.checker.committedConfiguration.voters))
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }

    @Test("a removed node that missed its removal does not disturb the cluster", arguments: scenarioSeeds)
    func removedNodeDoesNotDisrupt(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 4)
        let leader = try #require(cluster.awaitLeaderReadyForChanges())
        let victim = (leader + 1) % 4
        cluster.setPartition([(0..<4).filter { $0 != victim }, [victim]])
        #expect(throws: Never.self) { try cluster.changeMembership(at: leader, .remove(id: victim)).get() }
        #expect(awaitCommittedConfiguration(cluster) { !$0.contains(victim) })
        cluster.run(ticks: 60)  // the cut-off node times out again and again, with pre-votes
        let termBefore = try #require(cluster.raft(leader)).term
        cluster.healPartition()
        cluster.run(ticks: 200)
        #expect(cluster.leader == leader, "the removed node never deposed the leader")
        #expect(cluster.raft(leader)?.term == termBefore, "nor raised anyone's term")
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }

    @Test("leadership transfer under drops: the target leads, or the old leader carries on", arguments: scenarioSeeds)
    func transferUnderDrops(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        cluster.faults.dropRate = 0.15
        for round in 0..<6 {
            guard let leader = cluster.awaitStableLeader(withinTicks: 300) else { return }
            cluster.proposeAll(["round\(round)"], at: leader)
            let target = (leader + 1 + round) % 5
            cluster.transferLeadership(from: leader, to: target)
            cluster.run(ticks: 40)
        }
        cluster.faults = .reliable
        let last = try #require(cluster.awaitStableLeader(withinTicks: 300))
        cluster.proposeAll(["done"], at: last)
        #expect(cluster.awaitApplied(["done"], on: Array(0..<5)))
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }

    /// Ongaro's counterexample (raft-dev, 2015) for single-server changes: an old leader's
    /// uncommitted change and a new leader's change, each from the same configuration, can have
    /// majorities that do not overlap. The fix — a new leader changes nothing before it has
    /// committed an entry of its term — must refuse the second change here; without the fix the
    /// checker reports the committed change as unstable at once.
    @Test("the known single-server flaw: a new leader may not change before committing in its term", arguments: scenarioSeeds)
    func singleServerFlaw(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 4)
        var leader = try #require(cluster.awaitLeaderReadyForChanges())
        let extra = cluster.addNode()
        #expect(throws: Never.self) {
            try cluster.changeMembership(at: leader, .addLearner(id: extra, context: "", promoteWhenCaughtUp: false)).get()
        }
        #expect(awaitCommittedConfiguration(cluster) { $0.learners == [extra] })
        leader = try #require(cluster.awaitLeaderReadyForChanges())
        cluster.proposeAll(["caught up"], at: leader)
        #expect(cluster.awaitApplied(["caught up"], on: [extra]))

        // 1. The old leader promotes the learner; only the learner gets it.
        cluster.setPartition([[leader, extra], (0..<4).filter { $0 != leader }])
        #expect(throws: Never.self) { try cluster.changeMembership(at: leader, .promote(id: extra)).get() }
        // 2. The other three elect a new leader (a majority of the old four).
        let others = (0..<4).filter { $0 != leader }
        #expect(cluster.run(upTo: 300) { cluster in cluster.leader.map(others.contains) ?? false })
        let newLeader = try #require(cluster.leader)
        // 3. Before its no-op reaches node `removed`, cut that node off, and ask for a removal.
        let removed = others.first { $0 != newLeader }!
        let bystander = others.first { $0 != newLeader && $0 != removed }!
        cluster.setPartition([[newLeader, bystander], [removed], [leader, extra]])
        let second = cluster.changeMembership(at: newLeader, .remove(id: removed))
        #expect(second.failureValue == .leaderNotReady, "the new leader must first commit an entry of its own term")
        cluster.run(ticks: 50)  // without the rule, the removal commits here, on a majority that misses the promotion's
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
        // 4. Heal: everyone agrees again, the promotion or the removal may happen, safely.
        cluster.healEverything()
        let final = try #require(cluster.awaitStableLeader(withinTicks: 300))
        cluster.proposeAll(["healed"], at: final)
        #expect(cluster.awaitApplied(["healed"], on: cluster.checker.committedConfiguration.voters, withinTicks: 200))
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }
}
