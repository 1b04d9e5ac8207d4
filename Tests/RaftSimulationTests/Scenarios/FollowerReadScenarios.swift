import RaftCore
import Testing

/// Linearizable reads served by followers (thesis §6.4): a follower asks its leader for the read
/// point, the leader answers once a quorum has confirmed it in a round that began after the
/// request arrived, and the follower serves from its own state once it has applied that far. The
/// safety checker fails a run on any read answered from state older than what was committed when
/// the read was asked; these scenarios add the faults that would expose a stale read point, and
/// check that a read that cannot be answered is handed back instead of hanging.
@Suite struct FollowerReadScenarios {
    /// Waits for a stable leader that has committed an entry of its term (it answers reads).
    func readyLeader(_ cluster: SimCluster, sourceLocation: SourceLocation = #_sourceLocation) throws -> NodeID {
        let leader = try #require(cluster.awaitStableLeader(sourceLocation: sourceLocation), sourceLocation: sourceLocation)
        #expect(cluster.run(upTo: 100) { cluster in
            guard let raft = cluster.raft(leader) else { return false }
            return raft.log.term(at: raft.commitIndex) == raft.term
        }, sourceLocation: sourceLocation)
        return leader
    }

    @Test("a follower's read is served after writes committed before it was asked", arguments: scenarioSeeds)
    func followerReadSeesEarlierWrites(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try readyLeader(cluster)
        let follower = (leader + 1) % 3
        var waited = 0
        for round in 0..<10 {
            cluster.proposeAll(["w\(round)"], at: leader)
            let target = cluster.committedPrefix.count + 1
            #expect(cluster.run(upTo: 50) { $0.committedPrefix.count >= target })
            // Asked as soon as the write commits, usually before the follower has heard so.
            if (cluster.nodes[follower].engine?.machine.appliedIndex ?? 0) < target { waited += 1 }
            let answered = cluster.followerReadsAnswered
            #expect(cluster.read(at: follower))
            #expect(cluster.run(upTo: 50) { $0.followerReadsAnswered > answered }, "read \(round) at follower \(follower) (seed \(seed))")
        }
        #expect(cluster.readsHandedBack == 0)
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
        _ = waited  // how often the follower had to catch up first; the checker holds it to the write either way
    }

    @Test("a follower cut off from the leader serves no read and hands it back", arguments: scenarioSeeds)
    func cutOffFollowerHandsReadsBack(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 3)
        let leader = try readyLeader(cluster)
        let follower = (leader + 1) % 3
        cluster.setPartition([[follower], (0..<3).filter { $0 != follower }])
        cluster.proposeAll(["while-cut"], at: leader)
        let answered = cluster.readsAnswered, handedBack = cluster.readsHandedBack
        #expect(cluster.read(at: follower))
        // It gives up on the read within an election timeout or so, and never answers it.
        #expect(cluster.run(upTo: 3 * cluster.config.electionTicksMax) { $0.readsHandedBack > handedBack },
                "the cut-off follower kept the read (seed \(seed))")
        cluster.run(ticks: 50)
        #expect(cluster.readsAnswered == answered, "a follower cut off from the leader answered a read (seed \(seed))")
        cluster.healPartition()
        _ = try readyLeader(cluster)
        let target = cluster.committedPrefix.count
        #expect(cluster.awaitApplied(["while-cut"], on: [0, 1, 2], withinTicks: 200))
        let before = cluster.readsAnswered
        if let reader = (0..<3).first(where: { cluster.raft($0)?.isLeader == false }) {
            #expect(cluster.read(at: reader))
            #expect(cluster.run(upTo: 100) { $0.readsAnswered > before }, "no read answered after healing (seed \(seed))")
        }
        #expect(target > 0)
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
    }

    @Test("a read in flight when its leader crashes is handed back, then served by the next leader's word", arguments: scenarioSeeds)
    func readInFlightAcrossALeaderCrash(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        let leader = try readyLeader(cluster)
        let follower = (leader + 1) % 5
        cluster.proposeAll(["before"], at: leader)
        let handedBack = cluster.readsHandedBack, answered = cluster.readsAnswered
        #expect(cluster.read(at: follower))
        cluster.crash(leader)  // the request, still on its way, reaches nobody
        #expect(cluster.run(upTo: 3 * cluster.config.electionTicksMax) { $0.readsHandedBack > handedBack },
                "the read waited for a crashed leader (seed \(seed))")
        #expect(cluster.readsAnswered == answered)
        let next = try readyLeader(cluster)
        #expect(next != leader)
        let reader = (0..<5).first { $0 != leader && $0 != next }!
        let before = cluster.followerReadsAnswered
        #expect(cluster.read(at: reader))
        #expect(cluster.run(upTo: 100) { $0.followerReadsAnswered > before }, "(seed \(seed))")
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
    }

    /// Reads at every node, leaders and followers, while leaders crash, partitions put the
    /// leader in a minority, and the network drops, duplicates and delays messages. No read may
    /// be stale; once everything heals, followers answer reads again.
    @Test("reads at followers are never stale under partitions, crashes and a lossy network", arguments: Array(UInt64(1)...24))
    func followerReadsUnderFaults(seed: UInt64) throws {
        let size = seed % 2 == 0 ? 3 : 5
        let cluster = SimCluster(seed: seed, clusterSize: Int(size))
        cluster.faults = NetworkFaults(dropRate: 0.05, duplicateRate: 0.05, minDelay: 1, maxDelay: 8,
                                       longDelayRate: 0.05, longDelay: 80)
        var number = 0
        for _ in 0..<400 {
            cluster.run(ticks: 1)
            if cluster.violation != nil { break }
            if let leader = cluster.leader, cluster.chance(0.01) { cluster.crash(leader) }
            for node in 0..<cluster.clusterSize where !cluster.nodes[node].isAlive && cluster.chance(0.1) { cluster.restart(node) }
            if cluster.partition.isWhole && cluster.chance(0.02) {
                var nodes = Array(0..<cluster.clusterSize)
                nodes.shuffle(using: &cluster.randomSource)
                if let leader = cluster.leader, cluster.chance(0.5) {
                    nodes.removeAll { $0 == leader }
                    nodes.insert(leader, at: 0)  // the leader lands in the minority
                }
                let minority = cluster.clusterSize / 2
                cluster.setPartition([Array(nodes.prefix(minority)), Array(nodes.dropFirst(minority))])
            } else if !cluster.partition.isWhole && cluster.chance(0.05) {
                cluster.healPartition()
            }
            if let leader = cluster.leader, cluster.chance(0.8) {
                number += 1
                cluster.propose(at: leader, "p\(number)")
            }
            for _ in 0..<2 {
                let live = cluster.liveNodes
                if let node = live.randomElement(using: &cluster.randomSource) { cluster.read(at: node) }
            }
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
        #expect(cluster.followerReadsAnswered > 0, "no follower answered a read (seed \(seed))")
        cluster.healEverything()
        cluster.run(ticks: 2 * cluster.config.electionTicksMax)
        _ = try readyLeader(cluster)
        for node in 0..<cluster.clusterSize where cluster.raft(node)?.isLeader == false {
            let before = cluster.followerReadsAnswered
            #expect(cluster.read(at: node))
            #expect(cluster.run(upTo: 100) { $0.followerReadsAnswered > before }, "follower \(node) answered no read after healing (seed \(seed))")
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
    }
}
