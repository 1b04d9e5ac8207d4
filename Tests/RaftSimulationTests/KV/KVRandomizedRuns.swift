import RaftCore
import Testing

/// Randomized runs of the real key-value store: the `Swarm`'s faults (drops, duplicates, delays,
/// partitions, crashes and power cuts, full and slow disks, snapshots, membership changes) with
/// the `KVWorkload`, checked after every step by the safety checker, the state-machine safety
/// check (every node's state after every index the same, snapshots and restored states included)
/// and the workload's own checks (no half transactions, exactly-once writes).
///
/// `RAFT_KV_SIM_RUNS` seeds (100 by default, about 12 s on two cores) in parallel batches; `RAFT_SIM_FIRST_SEED` shifts
/// them, as for the other runs; `RAFT_KV_SIM_SEED=S` replays one (with `RAFT_SIM_TRACE=1`).
@Suite struct KVRandomizedRuns {
    static let batches = 4

    static var runCount: Int { RandomizedRuns.environment("RAFT_KV_SIM_RUNS").flatMap(Int.init) ?? 100 }

    @Test("randomized key-value runs: identical states everywhere, no half transactions, exactly-once writes",
          arguments: 0..<batches)
    func randomizedBatch(batch: Int) {
        guard RandomizedRuns.environment("RAFT_KV_SIM_SEED") == nil, RandomizedRuns.environment("RAFT_SIM_SEED") == nil else { return }
        let count = Self.runCount
        var seeds: [UInt64] = []
        var index = batch
        while index < count {
            seeds.append(RandomizedRuns.firstSeed + UInt64(index))
            index += Self.batches
        }
        var steps = 0, committed = 0, compared = 0, installs = 0, changes = 0
        for seed in seeds {
            let report = KVSimulation.run(seed: seed)
            steps += report.steps
            committed += report.committed
            compared += report.statesCompared
            installs += report.snapshotsInstalled
            changes += report.membershipChanges
            if let failure = report.failure {
                Issue.record("""
                    \(report.summary)
                    kv: \(KVSwarm(seed: seed)); \(report.workload)
                    failure: \(failure)
                    replay: RAFT_KV_SIM_SEED=\(seed) RAFT_SIM_TRACE=1 swift test --filter KVRandomizedRuns/replaySeed
                    """)
                return
            }
        }
        print("kv simulator batch \(batch): \(seeds.count) runs, \(steps) steps, \(committed) entries committed, \(compared) states compared between nodes, \(installs) snapshots installed, \(changes) membership changes")
    }

    @Test("replay the key-value seed named by RAFT_KV_SIM_SEED")
    func replaySeed() {
        guard let text = RandomizedRuns.environment("RAFT_KV_SIM_SEED"), let seed = UInt64(text) else { return }
        let tracing = RandomizedRuns.environment("RAFT_SIM_TRACE") == "1"
        let report = KVSimulation.run(seed: seed, trace: tracing ? { print($0) } : nil)
        print(report.summary)
        print("kv: \(KVSwarm(seed: seed)); \(report.workload); \(report.statesCompared) states compared")
        #expect(report.failure == nil, "\(report.failure ?? "")")
    }

    @Test("a key-value seed replays step for step")
    func seedsAreDeterministic() {
        var first: [String] = []
        var second: [String] = []
        let one = KVSimulation.run(seed: 42, trace: { first.append($0) })
        let two = KVSimulation.run(seed: 42, trace: { second.append($0) })
        #expect(!first.isEmpty)
        #expect(first == second)
        #expect(one.workload == two.workload)
        #expect(one.statesCompared == two.statesCompared && one.statesCompared > 0)
    }
}

enum KVSimulation {
    static func run(seed: UInt64, trace: ((String) -> Void)? = nil) -> SimulationReport {
        RandomizedSimulation.run(seed: seed, swarm: Swarm(seed: seed), workload: KVWorkload(settings: KVSwarm(seed: seed)), trace: trace)
    }
}
