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

    /// Rings where the oldest records kept begin while a snapshot is being serialized (its bytes
    /// are rebuilt from the core: the machine has moved on), or before a voter's recording
    /// begins (its disk is taken on trust). Found by a soak; each failed before its fix.
    @Test("a bounded recording that begins mid-snapshot, or before a voter's recording, still replays exactly",
          arguments: [(29, 250), (77, 250), (54, 600), (59, 600), (142, 600)] as [(UInt64, Int)])
    func ringEdgesReplay(seed: UInt64, capacity: Int) throws {
        let report = RandomizedSimulation.run(seed: seed, recordCapacity: capacity)
        #expect(report.failure == nil)
        let summary = Replayer(traces: try Self.roundTrip(report.recordings), machine: SimMachine.self).run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
    }

    /// The core after a node's records from its start, fed straight into the core.
    static func core(after records: ArraySlice<TraceRecord>) -> RaftNode? {
        guard case .start(var core, _)? = records.first?.event else { return nil }
        for record in records.dropFirst() {
            guard case .input(let input) = record.event else { return nil }
            switch input {
            case .tick(let count): for _ in 0..<count { core.tick() }
            case .receive(let envelope): core.receive(envelope)
            case .propose(let commands, _): _ = core.propose(batch: commands)
            case .readIndex(let ids, _): _ = core.readIndex(ids: ids)
            case .changeConfiguration(let change, _): _ = core.proposeConfigurationChange(change)
            case .transferLeadership(let target, _): _ = core.transferLeadership(to: target)
            case .persisted(let index, let term): core.persisted(through: index, term: term)
            case .compact(let snapshot): core.compact(through: snapshot.index, data: snapshot.data)
            case .takeReady: _ = core.takeReady()
            }
        }
        return core
    }

    @Test("an older ring that begins part-way through a flush is replayed from the node's next checkpoint or start")
    func ringsBeginningMidFlushArePassedOver() throws {
        let report = RandomizedSimulation.run(seed: 6, recordCapacity: 10_000_000)
        var traces = try Self.roundTrip(report.recordings)
        let records = traces[0].records
        // Rings recorded before checkpoints were kept between flushes could begin like this:
        // a checkpoint right after a Ready was taken, then the rest of that flush.
        let cut = try #require(records.indices.first { position in
            guard position > 20, case .input(.persisted) = records[position].event else { return false }
            return records[1..<position].allSatisfy { if case .input = $0.event { true } else { false } }
        })
        let core = try #require(Self.core(after: records[..<cut]))
        let checkpoint = TraceRecord(seq: records[cut].seq, time: records[cut - 1].time, event: .checkpoint(core))
        traces[0].records = [checkpoint] + records[cut...]
        let summary = Replayer(traces: traces, machine: SimMachine.self).run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
        #expect(summary.steps == traces.reduce(0) { $0 + $1.records.count }, "the records passed over are listed too")
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
