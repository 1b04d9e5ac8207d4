import RaftCore
import Testing

/// Figure 8 and churn: leaders crash at awkward moments, on reliable and unreliable networks.
@Suite struct FaultScenarios {
    /// The 6.5840 "Figure 8" test: propose at the leader, crash it soon after, keep a majority
    /// up most of the time; in the end everything heals and a new proposal commits everywhere.
    func figure8(seed: UInt64, size: Int, faults: NetworkFaults, rounds: Int) throws {
        // One entry per append, so followers often match only up to an earlier term's entry.
        let config = RaftConfig(maxEntriesPerAppend: 1, maxInflightAppends: 2)
        let cluster = SimCluster(seed: seed, clusterSize: size, config: config)
        cluster.faults = faults
        var number = 0
        for _ in 0..<rounds {
            if let leader = cluster.leader {
                number += 1
                cluster.propose(at: leader, "f\(number)")
                if cluster.chance(0.8) {
                    cluster.run(ticks: Int.random(in: 0...12, using: &cluster.randomSource))
                    cluster.crash(leader)
                }
            }
            cluster.run(ticks: Int.random(in: 1...15, using: &cluster.randomSource))
            if cluster.liveNodes.count < size / 2 + 1 {
                let down = (0..<size).filter { !cluster.nodes[$0].isAlive }
                cluster.restart(down[Int.random(in: 0..<down.count, using: &cluster.randomSource)])
            }
            if cluster.violation != nil { break }
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
        cluster.healEverything()
        cluster.run(ticks: 40)
        let leader = try #require(cluster.awaitStableLeader(withinTicks: 300))
        cluster.proposeAll(["final"], at: leader)
        #expect(cluster.awaitApplied(["final"], on: Array(0..<size), withinTicks: 300))
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
    }

    @Test("Figure 8 on a reliable network", arguments: scenarioSeeds)
    func figure8Reliable(seed: UInt64) throws {
        try figure8(seed: seed, size: 5, faults: .reliable, rounds: 150)
    }

    @Test("Figure 8 on an unreliable network", arguments: scenarioSeeds)
    func figure8Unreliable(seed: UInt64) throws {
        let faults = NetworkFaults(dropRate: 0.1, duplicateRate: 0.05, minDelay: 1, maxDelay: 12,
                                   longDelayRate: 0.1, longDelay: 150)
        try figure8(seed: seed, size: 5, faults: faults, rounds: 150)
    }

    @Test("unreliable churn: nodes crash and return while clients keep proposing", arguments: scenarioSeeds)
    func unreliableChurn(seed: UInt64) throws {
        let cluster = SimCluster(seed: seed, clusterSize: 5)
        cluster.faults = NetworkFaults(dropRate: 0.1, duplicateRate: 0.05, minDelay: 1, maxDelay: 8,
                                       longDelayRate: 0.05, longDelay: 100)
        var number = 0
        for _ in 0..<300 {
            cluster.run(ticks: 1)
            let node = Int.random(in: 0..<5, using: &cluster.randomSource)
            if cluster.chance(0.02) { cluster.crash(node) }
            if cluster.chance(0.05) { cluster.restart(node) }
            if cluster.chance(0.02) { cluster.crashDuringNextWrite(node) }
            number += 1
            cluster.propose(at: cluster.leader ?? node, "u\(number)")
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
        cluster.healEverything()
        cluster.run(ticks: 40)
        let leader = try #require(cluster.awaitStableLeader(withinTicks: 300))
        cluster.proposeAll(["settled"], at: leader)
        #expect(cluster.awaitApplied(["settled"], on: Array(0..<5), withinTicks: 300))
        // Everything committed during the churn is applied, in the same order, everywhere.
        let reference = cluster.appliedCommands(leader)
        for node in 0..<5 {
            #expect(cluster.appliedCommands(node) == reference)
        }
        #expect(cluster.violation == nil)
    }
}
