import ClusterServer
import Dispatch
import FlightRecording
import JSONText
import KVClient
import RaftReplay
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

/// The flight recorder of a real cluster, replayed: a run with writes from a background client,
/// a killed leader, a partition, a power cut, restarts and a snapshot is dumped with
/// `{"admin":"trace"}`, read back from the files and re-run. Every Ready must match its recorded
/// digest, each live node's final state must match field for field, and the safety checks must
/// pass.
@Suite(.serialized) struct FlightRecorderTests {
    static func traceFiles(_ cluster: TestCluster) throws -> [NodeTrace] {
        let answer = try cluster.request(#"{"admin":"trace"}"#)
        #expect(answer["status"] == .string("ok"), "\(answer)")
        let traces = try #require(answer["traces"]?.arrayValue)
        #expect(traces.count == 3)
        return try TraceFile.readAll(directories: [cluster.directory])
    }

    @Test func aRealRunWithKillsAndPartitionsReplaysExactly() throws {
        let cluster = try TestCluster { config in
            config.snapshotEveryEntries = 150
            config.fsync = true  // the power cut then loses nothing (fsync off: see the next test)
        }
        let first = try cluster.awaitLeader()
        let writer = BackgroundWriter(port: cluster.port, prefix: "w")
        #expect(waitUntil(seconds: 10) { writer.count >= 40 })
        _ = try cluster.request(#"{"admin":"kill","node":\#(first)}"#)
        let second = try cluster.awaitLeader(excluding: first)
        let follower = 3 - first - second
        #expect(waitUntil(seconds: 10) { writer.count >= 80 })
        _ = try cluster.request(#"{"admin":"restart","node":\#(first)}"#)
        _ = try cluster.request(#"{"admin":"isolate","node":\#(second)}"#)
        _ = try cluster.awaitLeader(excluding: second)
        #expect(waitUntil(seconds: 10) { writer.count >= 140 })
        _ = try cluster.request(#"{"admin":"heal"}"#)
        _ = try cluster.request(#"{"admin":"crash","node":\#(follower),"loseUnsynced":true}"#)
        _ = try cluster.request(#"{"admin":"restart","node":\#(follower)}"#)
        #expect(waitUntil(seconds: 10) { writer.count >= 220 })
        writer.stop()
        _ = try cluster.request(#"{"admin":"snapshot","node":\#(follower)}"#)

        let traces = try Self.traceFiles(cluster)
        #expect(traces.map(\.node) == [0, 1, 2])
        let replayer = Replayer(traces: traces)
        let summary = replayer.run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
        #expect(summary.restarts >= 5, "three starts, the killed leader's and the crashed follower's restarts")
        #expect(summary.checkpointsMatched >= 3, "each live node's state at the dump")
        #expect(summary.readies > 200)
        #expect(summary.checkedFromStep != nil)
        // The re-run cores end where the live nodes are.
        let status = try cluster.status()
        for id in 0..<3 {
            let core = try #require(replayer.core(id))
            let live = try #require(status["nodes"]?.arrayValue?[id].objectValue)
            #expect(core.term <= (live["term"]?.intValue ?? -1))
            #expect(core.commitIndex <= (live["commitIndex"]?.intValue ?? -1))
        }
    }

    @Test func aReplayCatchesWhatAPowerCutWithFsyncOffLost() throws {
        let cluster = try TestCluster()  // fsync off
        let leader = try cluster.awaitLeader()
        let follower = (leader + 1) % 3
        for number in 0..<20 { _ = try cluster.request(#"{"key":"p\#(number)","value":"x"}"#) }
        _ = try cluster.request(#"{"admin":"crash","node":\#(follower),"loseUnsynced":true}"#)
        _ = try cluster.request(#"{"admin":"restart","node":\#(follower)}"#)
        for number in 20..<25 { _ = try cluster.request(#"{"key":"p\#(number)","value":"x"}"#) }
        let summary = Replayer(traces: try Self.traceFiles(cluster)).run()
        let problem = try #require(summary.problem)
        #expect(problem.kind == .violation)
        #expect(problem.node == follower)
        #expect(problem.text.contains("came back with less than it had made durable"), "\(problem)")
    }

    @Test func continuousRecordingIsWrittenAsItHappensAndReplays() throws {
        let cluster = try TestCluster { config in
            config.record = true
        }
        let leader = try cluster.awaitLeader()
        for number in 0..<30 { _ = try cluster.request(#"{"key":"r\#(number)","value":"x"}"#) }
        // Written while the cluster runs, before anyone asks.
        #expect(waitUntil(seconds: 10) {
            (try? TraceFile.read(path: "\(cluster.directory)/trace\(leader).jsonl"))?.records.count ?? 0 > 30
        })
        _ = try cluster.request(#"{"admin":"kill","node":\#(leader)}"#)
        _ = try cluster.awaitLeader(excluding: leader)
        for number in 30..<60 { _ = try cluster.request(#"{"key":"r\#(number)","value":"x"}"#) }
        _ = try cluster.request(#"{"admin":"restart","node":\#(leader)}"#)
        for number in 60..<70 { _ = try cluster.request(#"{"key":"r\#(number)","value":"x"}"#) }

        let traces = try Self.traceFiles(cluster)
        let summary = Replayer(traces: traces).run()
        #expect(summary.problem == nil, "\(summary.problem?.description ?? "")")
        #expect(summary.finished)
        #expect(summary.checkpointsMatched == 3, "the trace request adds each node's current state to its file")
        #expect(summary.restarts == 4)
        #expect(summary.checkedFromStep != nil)
    }

    @Test func aTraceCanBeAskedOfOneNodeAndTheRecorderCanBeOff() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let one = try cluster.request(#"{"admin":"trace","node":1}"#)
        #expect(one["traces"]?.arrayValue?.count == 1)
        #expect(one["traces"]?.arrayValue?.first?.objectValue?["node"]?.intValue == 1)

        let off = try TestCluster { config in config.traceCapacity = 0 }
        _ = try off.awaitLeader()
        let refused = try off.request(#"{"admin":"trace"}"#)
        #expect(refused["status"] == .string("error"))
        #expect(refused["error"]?.stringValue?.contains("traceCapacity is 0") == true)
    }
}
