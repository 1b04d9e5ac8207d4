import FlightRecording
import RaftCore
import RaftEngine
import RaftReplay
import Testing

/// The replay runs the real engine, so it checks the engine's order and its state machine too:
/// a recording made by the normal engine, replayed by an engine whose pipeline is broken on
/// purpose (or whose machine writes other snapshot bytes), must diverge where the break shows.
/// And a replay can be walked a move at a time, looking at every node between moves.
@Suite struct ReplayEngineTests {
    /// A whole simulated run, recorded by the normal engine, written out and read back.
    static func recording(seed: UInt64) throws -> [NodeTrace] {
        let report = RandomizedSimulation.run(seed: seed, recordCapacity: 10_000_000)
        #expect(report.failure == nil)
        return try ReplayTests.roundTrip(report.recordings)
    }

    static func replay(_ traces: [NodeTrace], fault: PipelineFault?) -> ReplaySummary {
        let replayer = Replayer(traces: traces, machine: SimMachine.self)
        replayer.testOnly_pipelineFault = fault
        return replayer.run()
    }

    @Test("an engine that tells its core entries are durable before writing them diverges from an old recording",
          arguments: [2, 5, 13] as [UInt64])
    func persistedBeforeTheLogWrite(seed: UInt64) throws {
        let traces = try Self.recording(seed: seed)
        let normal = Self.replay(traces, fault: nil)
        #expect(normal.problem == nil, "\(normal.problem?.description ?? "")")
        #expect(normal.finished)

        let broken = Self.replay(traces, fault: .persistedBeforeLogWrite)
        let problem = try #require(broken.problem)
        print("seed \(seed), persisted before the log write: \(problem)")
        #expect(problem.kind == .divergence)
        #expect(problem.text.contains("are durable while its log store held them only through"))
        #expect(!broken.finished)
        #expect(broken.steps < normal.steps)
    }

    @Test("an engine that sends a Ready's messages before saving its term and vote diverges from an old recording",
          arguments: [2, 5, 13] as [UInt64])
    func messagesBeforeTheHardState(seed: UInt64) throws {
        let traces = try Self.recording(seed: seed)
        #expect(Self.replay(traces, fault: nil).problem == nil)

        let broken = Self.replay(traces, fault: .messagesBeforeHardState)
        let problem = try #require(broken.problem)
        print("seed \(seed), messages before the hard state: \(problem)")
        #expect(problem.kind == .divergence)
        #expect(problem.text.contains("a Ready's messages leave only once its term and vote are durable"))
    }

    @Test("snapshot bytes are compared: a machine that serializes differently diverges at the first compaction")
    func snapshotBytesAreCompared() throws {
        let seed = try #require((1...40 as ClosedRange<UInt64>).first { Swarm(seed: $0).snapshotEvery > 0 })
        let traces = try Self.recording(seed: seed)
        let compactions = traces.flatMap(\.records).filter { if case .input(.compact) = $0.event { true } else { false } }
        #expect(!compactions.isEmpty, "seed \(seed) snapshots")
        #expect(Replayer(traces: traces, machine: SimMachine.self).run().problem == nil)

        let summary = Replayer(traces: traces, machine: CommaMachine.self).run()
        let problem = try #require(summary.problem)
        #expect(problem.kind == .divergence)
        #expect(problem.text.contains("holds other bytes"), "\(problem)")
        print("a machine that writes other snapshot bytes: \(problem)")
    }

    @Test("a replay walked move by move shows each node's state and the messages in flight, and ends where a straight run ends")
    func steppingShowsTheCluster() throws {
        let traces = try Self.recording(seed: 7)
        let straight = Replayer(traces: traces, machine: SimMachine.self)
        let whole = straight.run()
        #expect(whole.finished)

        let walked = Replayer(traces: traces, machine: SimMachine.self)
        var moves = 0
        var mostInFlight = 0
        var receives = 0
        walked.observe = { step in
            if step.text.hasPrefix("receive") { receives += 1 }
        }
        while walked.step() {
            moves += 1
            mostInFlight = max(mostInFlight, walked.inFlight.count)
            #expect(walked.inFlight.allSatisfy { $0.step <= walked.summary.steps })
            for id in walked.nodeIDs {
                if let core = walked.core(id) {
                    #expect(walked.machine(id)?.appliedIndex ?? -1 <= core.appliedIndex)
                    #expect(walked.disk(id) != nil)
                }
            }
        }
        #expect(walked.summary.finished)
        #expect(walked.summary.steps == whole.steps)
        #expect(moves < whole.steps, "a flush is one move of several steps")
        #expect(mostInFlight > 0 && receives > 0)
        for id in walked.nodeIDs { #expect(walked.core(id) == straight.core(id)) }

        // Stopping at a step and going on is the same as running straight through.
        let halted = Replayer(traces: traces, machine: SimMachine.self)
        let first = halted.run(until: whole.steps / 2)
        #expect(first.steps >= whole.steps / 2 && !first.finished)
        let rest = halted.run()
        #expect(rest.finished && rest.steps == whole.steps && rest.readies == whole.readies)
    }
}

/// The simulator's machine with snapshots written another way (commas between commands).
struct CommaMachine: ReplicatedStateMachine {
    private var inner = SimMachine()

    init() {}

    init(restoring bytes: UnsafeRawBufferPointer, appliedIndex: LogIndex) throws {
        inner = try SimMachine(restoring: bytes.map { $0 == UInt8(ascii: ",") ? UInt8(ascii: "\n") : $0 }, appliedIndex: appliedIndex)
    }

    var appliedIndex: LogIndex { inner.appliedIndex }
    var itemCount: Int { inner.itemCount }
    mutating func apply(command: String, at index: LogIndex) throws -> String { try inner.apply(command: command, at: index) }
    mutating func skip(to index: LogIndex) { inner.skip(to: index) }
    func freeze() -> [String] { inner.freeze() }
    static func serialize(_ frozen: [String], to sink: any SnapshotSink) throws {
        try Array(frozen.joined(separator: ",").utf8).withUnsafeBytes { try sink.write($0) }
    }
}
