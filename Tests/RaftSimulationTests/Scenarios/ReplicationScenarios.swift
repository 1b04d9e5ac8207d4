import RaftCore
import Testing

/// Agreement: the 6.5840 lab's 3B/3C tests.
@Suite struct ReplicationScenarios {
    @Test("no agreement without a quorum, agreement again once it returns", arguments: scenarioSeeds)
    func noAgreementWithoutQuorum(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let leader = try #require(cluster.awaitStableLeader())
        cluster.proposeAll(["before"], at: leader)
        #expect(cluster.awaitApplied(["before"], on: Array(0..<5)))
        let buddy = (leader + 1) % 5
        let rest = (0..<5).filter { $0 != leader && $0 != buddy }
        cluster.setPartition([[leader, buddy]] + rest.map { [$0] })
        let commitBefore = try #require(cluster.raft(leader)).commitIndex
        cluster.proposeAll(["lonely"], at: leader)
        cluster.run(ticks: 150)
        #expect(cluster.leader == nil, "someone leads without a majority")
        for node in 0..<5 {
            #expect(cluster.raft(node)!.commitIndex == commitBefore, "node \(node) committed without a quorum")
        }
        cluster.healPartition()
        let newLeader = try #require(cluster.awaitStableLeader(withinTicks: 300))
        cluster.proposeAll(["after"], at: newLeader)
        #expect(cluster.awaitApplied(["after"], on: Array(0..<5)))
        #expect(cluster.violation == nil)
    }

    @Test("concurrent proposals commit once each, in one order everywhere", arguments: scenarioSeeds)
    func concurrentProposals(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitStableLeader())
        let commands = (0..<300).map { "cmd\($0)" }
        cluster.proposeAll(commands, at: leader)
        #expect(cluster.awaitApplied(commands, on: [0, 1, 2]))
        for node in 0..<3 {
            #expect(cluster.appliedCommands(node) == commands)
        }
        #expect(cluster.violation == nil)
    }

    @Test("a partitioned leader rejoins: its uncommitted entries give way to the majority's", arguments: scenarioSeeds)
    func partitionedLeaderRejoins(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let oldLeader = try #require(cluster.awaitStableLeader())
        cluster.proposeAll(["shared"], at: oldLeader)
        #expect(cluster.awaitApplied(["shared"], on: [0, 1, 2]))
        let majority = (0..<3).filter { $0 != oldLeader }
        cluster.setPartition([[oldLeader], majority])
        cluster.proposeAll(["lost1", "lost2", "lost3"], at: oldLeader)
        let newLeaderFound = cluster.run(upTo: 200) { cluster in
            guard let leader = cluster.leader else { return false }
            return leader != oldLeader
        }
        #expect(newLeaderFound)
        let newLeader = try #require(cluster.leader)
        cluster.proposeAll(["won1", "won2"], at: newLeader)
        #expect(cluster.awaitApplied(["won1", "won2"], on: majority))
        cluster.healPartition()
        #expect(cluster.awaitApplied(["won1", "won2"], on: [oldLeader], withinTicks: 200))
        for node in 0..<3 {
            #expect(!cluster.appliedCommands(node).contains("lost1"), "node \(node) applied an entry that never reached a majority")
        }
        #expect(cluster.raft(oldLeader)!.log.entries == cluster.raft(newLeader)!.log.entries.prefix(cluster.raft(oldLeader)!.log.entries.count).map { $0 })
        #expect(cluster.violation == nil)
    }

    @Test("fast backup over long divergent logs takes a handful of refusals, not one per entry",
          arguments: scenarioSeeds)
    func fastBackupOverDivergentLogs(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let oldLeader = try #require(cluster.awaitStableLeader())
        let oldBuddy = (oldLeader + 1) % 5
        let majority = (0..<5).filter { $0 != oldLeader && $0 != oldBuddy }
        cluster.setPartition([[oldLeader, oldBuddy], majority])
        cluster.proposeAll((0..<300).map { "stale\($0)" }, at: oldLeader)
        cluster.run(ticks: 5)
        let newLeaderFound = cluster.run(upTo: 300) { cluster in
            guard let leader = cluster.leader else { return false }
            return majority.contains(leader)
        }
        #expect(newLeaderFound)
        let newLeader = try #require(cluster.leader)
        let fresh = (0..<400).map { "fresh\($0)" }
        cluster.proposeAll(fresh, at: newLeader)
        #expect(cluster.awaitApplied(fresh, on: majority, withinTicks: 300))

        let refusalsBefore = cluster.appendRejections
        cluster.healPartition()
        #expect(cluster.awaitApplied(fresh, on: [oldLeader, oldBuddy], withinTicks: 300))
        let refusals = cluster.appendRejections - refusalsBefore
        // Without the conflict hint each of the two followers would refuse once per stale entry.
        #expect(refusals < 40, "catching up over 300 divergent entries took \(refusals) refusals")
        #expect(cluster.violation == nil)
    }

    @Test("committed entries survive every node crashing at once", arguments: scenarioSeeds)
    func persistenceAcrossCrashes(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitStableLeader())
        let commands = (0..<20).map { "durable\($0)" }
        cluster.proposeAll(commands, at: leader)
        #expect(cluster.awaitApplied(commands, on: [leader]))
        for node in 0..<3 { cluster.crash(node) }
        cluster.run(ticks: 10)
        for node in 0..<3 { cluster.restart(node) }
        let newLeader = try #require(cluster.awaitStableLeader(withinTicks: 200))
        cluster.proposeAll(["after-restart"], at: newLeader)
        #expect(cluster.awaitApplied(commands + ["after-restart"], on: [0, 1, 2]))
        for node in 0..<3 {
            #expect(Array(cluster.appliedCommands(node).prefix(20)) == commands)
        }
        #expect(cluster.violation == nil)
    }
}

/// Snapshots, InstallSnapshot and ReadIndex (issue: strong reads and snapshots).
@Suite struct SnapshotAndReadScenarios {
    @Test("a follower that missed compacted entries catches up by snapshot", arguments: scenarioSeeds)
    func laggingFollowerGetsASnapshot(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3, config: RaftConfig(snapshotChunkBytes: 50, snapshotCatchUpEntries: 0))
        cluster.snapshotEvery = 20
        let leader = try #require(cluster.awaitStableLeader())
        let lagging = (leader + 1) % 3
        cluster.crash(lagging)
        let commands = (0..<100).map { "s\($0)" }
        cluster.proposeAll(commands, at: leader)
        #expect(cluster.awaitApplied(commands, on: (0..<3).filter { $0 != lagging }))
        // Snapshots are serialized off the node's thread: give the leader's a few ticks to land.
        #expect(cluster.run(upTo: 50) { ($0.raft(leader)?.log.snapshotIndex ?? 0) > 20 }, "the leader never compacted")
        cluster.run(ticks: 30)  // let messages sent before the compaction land on the crashed node (and be lost)
        cluster.restart(lagging)
        #expect(cluster.awaitApplied(commands, on: [lagging], withinTicks: 300))
        #expect(cluster.snapshotsInstalled >= 1)
        #expect(cluster.appliedCommands(lagging) == cluster.appliedCommands(leader))
        #expect(cluster.violation == nil)
    }

    @Test("linearizable reads: answered by a leader with a quorum, never by one cut off", arguments: scenarioSeeds)
    func readsNeedAQuorum(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let leader = try #require(cluster.awaitStableLeader())
        cluster.proposeAll(["w1"], at: leader)
        #expect(cluster.awaitApplied(["w1"], on: [leader]))
        let answeredBefore = cluster.readsAnswered
        #expect(cluster.read(at: leader))
        #expect(cluster.run(upTo: 20) { $0.readsAnswered > answeredBefore })

        cluster.setPartition([[leader], (0..<5).filter { $0 != leader }])
        let answeredWhileCut = cluster.readsAnswered
        #expect(cluster.read(at: leader))
        cluster.run(ticks: 100)
        #expect(cluster.readsAnswered == answeredWhileCut, "a leader cut off from the majority answered a read")
        #expect(cluster.violation == nil)
    }
}
