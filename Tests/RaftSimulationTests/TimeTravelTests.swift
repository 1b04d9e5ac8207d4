import FlightRecording
import Foundation
import RaftCore
import RaftReplay
import Testing

/// Time travel: the index built from one replay gives, at any step, what a replay stopped at that
/// step shows — every node's core, its log's tail, the messages in flight — and a jump anywhere
/// in a 100,000-step recording takes well under 100 ms.
@Suite struct TimeTravelTests {
    @Test("every step of a faulty recorded run: the index shows what a replay walked to that step shows",
          arguments: [3, 11] as [UInt64])
    func indexMatchesAWalkedReplay(seed: UInt64) throws {
        let traces = try ReplayEngineTests.recording(seed: seed)
        let travel = TimeTravel(traces: traces, machine: SimMachine.self)
        #expect(travel.summary.problem == nil, "\(travel.summary.problem?.description ?? "")")
        #expect(travel.summary.finished)
        #expect(travel.steps > 100)

        let walked = Replayer(traces: traces, machine: SimMachine.self)
        var step = 0
        var compared = 0
        repeat {
            let moment = travel.state(at: step, tail: 64)
            for node in moment.nodes {
                let core = walked.core(node.id)
                #expect(node.frame.alive == (core != nil), "step \(step) node \(node.id)")
                guard let core else { continue }
                #expect(node.frame.role == core.roleKind && node.frame.term == core.term && node.frame.votedFor == core.votedFor,
                        "step \(step) node \(node.id)")
                #expect(node.frame.commitIndex == core.commitIndex && node.frame.lastIndex == core.log.lastIndex)
                #expect(node.frame.appliedIndex == walked.machine(node.id)?.appliedIndex)
                let log = try #require(node.log)
                let expected = core.log.entries(from: log.first, through: core.log.lastIndex)
                #expect(log.entries == expected, "step \(step) node \(node.id): the log's tail")
                #expect(log.first == max(core.log.snapshotIndex + 1, core.log.lastIndex - 63))
            }
            #expect(moment.inFlight.map(\.envelope) == walked.inFlight.map(\.envelope), "step \(step): messages in flight")
            compared += 1
            step += 1
        } while walked.step()
        #expect(compared == travel.steps + 1)

        // The marks: elections and leaders at least, in step order.
        #expect(travel.events.contains { $0.kind == "leader" })
        #expect(zip(travel.events, travel.events.dropFirst()).allSatisfy { $0.step <= $1.step })
        let detail = try #require(travel.detail(of: 1))
        #expect(!detail.records.isEmpty)
    }

    /// A long run of a five-node cluster with a write every tick and a leader crash now and then,
    /// recorded, then indexed; jumps to random steps are timed.
    @Test("a jump anywhere in a 100,000-step recording takes well under 100 ms")
    func jumpsInALongRecordingAreFast() throws {
        let cluster = SimCluster(seed: 99, clusterSize: 5, recordCapacity: 10_000_000)
        var number = 0
        var records = 0
        var tick = 0
        while records < 170_000 {
            cluster.run(ticks: 1)
            tick += 1
            if let leader = cluster.leader {
                number += 1
                _ = cluster.propose(at: leader, "w\(number)")
                if tick % 1500 == 0 { cluster.crash(leader) }
            }
            if tick % 1500 == 300 { for node in 0..<5 { cluster.restart(node) } }
            if tick % 100 == 0 { records = cluster.recordings().reduce(0) { $0 + $1.records.count } }
        }
        #expect(cluster.violation == nil)
        let traces = try ReplayTests.roundTrip(cluster.recordings())
        let started = Date()
        let travel = TimeTravel(traces: traces, machine: SimMachine.self)
        let indexing = Date().timeIntervalSince(started)
        #expect(travel.summary.problem == nil, "\(travel.summary.problem?.description ?? "")")
        #expect(travel.steps >= 100_000, "\(travel.steps) steps")

        var generator = SplitMix64(seed: 5)
        var slowest = 0.0
        var total = 0.0
        let jumps = 300
        for _ in 0..<jumps {
            let step = Int.random(in: 0...travel.steps, using: &generator)
            let begin = Date()
            let moment = travel.state(at: step)
            _ = travel.detail(of: step)
            let took = Date().timeIntervalSince(begin)
            slowest = max(slowest, took)
            total += took
            #expect(moment.step == step)
        }
        print("time travel: \(travel.steps) steps (\(records) records, \(travel.messages.count) messages, \(travel.events.count) marks) indexed in \(String(format: "%.1f", indexing)) s; \(jumps) random jumps: mean \(String(format: "%.3f", total / Double(jumps) * 1000)) ms, slowest \(String(format: "%.3f", slowest * 1000)) ms")
        #expect(slowest < 0.1)
    }
}
