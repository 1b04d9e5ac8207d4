import RaftCore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The randomized simulator as a test: `RAFT_SIM_RUNS` seeds (2,000 by default) spread over
/// parallel batches; `RAFT_SIM_SEED=S` replays one seed (add `RAFT_SIM_TRACE=1` to print every
/// step); `RAFT_SIM_FIRST_SEED` shifts the seed range for a soak.
@Suite struct RandomizedRuns {
    static let batches = 16

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    static var runCount: Int { environment("RAFT_SIM_RUNS").flatMap(Int.init) ?? 2_000 }
    static var firstSeed: UInt64 { environment("RAFT_SIM_FIRST_SEED").flatMap(UInt64.init) ?? 1 }

    @Test("randomized simulations keep Raft's safety properties and recover after healing",
          arguments: 0..<batches)
    func randomizedBatch(batch: Int) {
        guard Self.environment("RAFT_SIM_SEED") == nil else { return }
        let count = Self.runCount
        var seeds: [UInt64] = []
        var index = batch
        while index < count {
            seeds.append(Self.firstSeed + UInt64(index))
            index += Self.batches
        }
        var steps = 0, ticks = 0, messages = 0, committed = 0, reads = 0, installs = 0, changes = 0
        for seed in seeds {
            let report = RandomizedSimulation.run(seed: seed)
            steps += report.steps
            ticks += report.ticks
            messages += report.messages
            committed += report.committed
            reads += report.reads
            installs += report.snapshotsInstalled
            changes += report.membershipChanges
            if let failure = report.failure {
                Issue.record("""
                    \(report.summary)
                    failure: \(failure)
                    replay: RAFT_SIM_SEED=\(seed) RAFT_SIM_TRACE=1 swift test --filter RandomizedRuns/replaySeed
                    """)
                return
            }
        }
        print("simulator batch \(batch): \(seeds.count) runs, \(ticks) ticks, \(steps) steps, \(messages) messages, \(committed) entries committed, \(reads) linearizable reads, \(installs) snapshots installed, \(changes) membership changes")
    }

    @Test("replay the seed named by RAFT_SIM_SEED")
    func replaySeed() {
        guard let text = Self.environment("RAFT_SIM_SEED"), let seed = UInt64(text) else { return }
        let tracing = Self.environment("RAFT_SIM_TRACE") == "1"
        let report = RandomizedSimulation.run(seed: seed, trace: tracing ? { print($0) } : nil)
        print(report.summary)
        #expect(report.failure == nil, "\(report.failure ?? "")")
    }

    @Test("a seed replays step for step")
    func seedsAreDeterministic() {
        var first: [String] = []
        var second: [String] = []
        _ = RandomizedSimulation.run(seed: 42, trace: { first.append($0) })
        _ = RandomizedSimulation.run(seed: 42, trace: { second.append($0) })
        #expect(!first.isEmpty)
        #expect(first == second)
    }
}
