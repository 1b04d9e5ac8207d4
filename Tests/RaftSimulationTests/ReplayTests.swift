import FlightRecording
import RaftCore
import RaftReplay
import Testing

/// The flight recorder and the replay against the simulator: randomized runs full of crashes,
/// partitions, torn writes, snapshots and membership changes are recorded, written out as trace
/// lines, read back, and replayed — every Ready must match, every checkpoint must be equal, and
/// the safety checker must find nothing (it found nothing live either).
@Suite struct ReplayTests {
    /// Writes each recording as trace lines and reads it back, as a replay from files would.
    static func roundTrip(_ traces: [NodeTrace]) throws -> [NodeTrace] {
        try traces.map { trace in
            var bytes = TraceFile.headerLine(node: trace.node, mode: "test")
            bytes.append(contentsOf: TraceFile.encode(trace.records))
            return try TraceFile.decode(bytes, path: trace.path)
        }
    }

    @Test("recordings of randomized faulty runs replay exactly, with the safety checks", arguments: 1...24)
    func wholeRunsReplay(seed: UInt64) throws {
        let report = RandomizedSimulation.run(seed: seed, recordCapacity: 10_000_000)
        #expect(report.failure == nil)
        let traces = try Self.roundTrip(report.recordings)
        let records = traces.reduce(0) { $0 + $1.records.count }
        let readies = traces.reduce(0) { total, trace in
            total + trace.records.filter { if case .input(.takeReady) = $0.event { return true } else { return false } }.count
        }
        let replayer = Replayer(traces: traces, machine: SimMachine.self)
        let summary = replayer.run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
        #expect(summary.steps == records)
        #expect(summary.readies == readies && readies > 0)
        let checkedFrom = try #require(summary.checkedFromStep)
        #expect(checkedFrom <= report.swarm.clusterSize, "checked once every first node has started")
        // Every node still running ends with its current core, which the replay must equal.
        let running = report.recordings.filter { trace in
            if case .checkpoint = trace.records.last?.event { return true } else { return false }
        }.count
        #expect(summary.checkpointsMatched >= running && running > 0)
        for node in replayer.nodeIDs {
            let expected = traces.first { $0.node == node }!.records.last!
            if case .checkpoint(let core) = expected.event { #expect(replayer.core(node) == core) }
        }
    }

    @Test("a bounded recording (it begins at a checkpoint or a restart) still replays exactly", arguments: [3, 7, 11, 19, 23, 31])
    func boundedRingsReplay(seed: UInt64) throws {
        let report = RandomizedSimulation.run(seed: seed, recordCapacity: 250)
        let traces = try Self.roundTrip(report.recordings)
        #expect(traces.allSatisfy { $0.records.count < 2 * 250 }, "a ring keeps its capacity and one segment more")
        #expect(traces.contains { $0.records.first!.seq > 1 }, "the run is long enough for a ring to drop its oldest segments")
        let summary = Replayer(traces: traces, machine: SimMachine.self).run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
        #expect(summary.checkpointsMatched > 0)
    }

    @Test("a replay notices a recording that does not match what the core does")
    func tamperingIsCaught() throws {
        let report = RandomizedSimulation.run(seed: 5, recordCapacity: 10_000_000)
        var traces = try Self.roundTrip(report.recordings)
        // Drop one received message from the busiest node: the core's later outputs change.
        let busiest = traces.indices.max { traces[$0].records.count < traces[$1].records.count }!
        let victim = traces[busiest].records.firstIndex { record in
            if case .input(.receive(let envelope)) = record.event, case .appendRequest(let request) = envelope.message {
                return !request.entries.isEmpty
            }
            if case .input(.receive(let envelope)) = record.event, case .appendResponse = envelope.message { return true }
            return false
        }!
        var records = traces[busiest].records
        records[victim].event = .input(.tick(count: 1))
        traces[busiest].records = records
        let summary = Replayer(traces: traces, machine: SimMachine.self).run()
        let problem = try #require(summary.problem)
        #expect(problem.kind == .divergence)
        #expect(problem.node == traces[busiest].node)
        #expect(!summary.finished)
    }

    @Test("a gap in a recording is reported, not replayed past")
    func gapsAreCaught() throws {
        let report = RandomizedSimulation.run(seed: 9, recordCapacity: 10_000_000)
        var traces = try Self.roundTrip(report.recordings)
        let middle = traces[0].records.count / 2
        let removed = traces[0].records.remove(at: middle)
        if case .checkpoint = removed.event { traces[0].records.remove(at: middle) }
        let summary = Replayer(traces: traces, machine: SimMachine.self).run()
        let problem = try #require(summary.problem)
        #expect(problem.node == traces[0].node)
        #expect(problem.kind == .badTrace || problem.kind == .divergence)
    }
}
