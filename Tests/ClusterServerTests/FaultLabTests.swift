import ClusterServer
import Dispatch
import JSONText
import ClientShell
import KVClient
import LinCheck
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

/// The fault laboratory against a live cluster under load: disks that fill up, power cuts that
/// take what was not fsynced, and the switch that breaks linearizable reads on purpose. After
/// each fault every acknowledged write is read back.
@Suite(.serialized) struct FaultLabTests {
    @Test func aFullDiskOnTheLeaderLosesNothingAcknowledged() throws {
        let cluster = try TestCluster { config in config.fsync = true }
        let leader = try cluster.awaitLeader()
        let writer = BackgroundWriter(port: cluster.port, prefix: "full", connections: 4)
        #expect(waitUntil(seconds: 10) { writer.count >= 50 })
        #expect(try cluster.request(#"{"admin":"disk","node":\#(leader),"fault":"full"}"#)["status"] == .string("ok"))
        // The leader cannot persist, so it stops rather than acknowledge; the others carry on.
        let next = try cluster.awaitLeader(excluding: leader)
        #expect(next != leader)
        let node = try cluster.node(leader)
        #expect(node["disk"] == .string("full"))
        #expect(node["failure"]?.stringValue?.contains("No space left") == true || node["failure"]?.stringValue?.contains("ENOSPC") == true
                || node["failure"]?.stringValue?.contains("space") == true, "\(node)")
        #expect(cluster.events.contains { $0.contains("node \(leader)") && $0.contains("stopping rather than acknowledging") })
        let before = writer.count
        #expect(waitUntil(seconds: 10) { writer.count >= before + 50 }, "writes go on without the full disk")
        #expect(try cluster.request(#"{"admin":"heal"}"#)["status"] == .string("ok"))
        // It comes back by itself from undamaged files and catches up.
        #expect(try waitUntil(seconds: 20) { try cluster.node(leader)["alive"] == .bool(true) })
        let writes = writer.stop()
        #expect(try waitUntil(seconds: 20) {
            let status = try cluster.status()
            let nodes = status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let commits = Set(nodes.compactMap { $0["lastApplied"]?.intValue })
            return commits.count == 1 && nodes.allSatisfy { $0["alive"] == .bool(true) }
        }, "every node applies the same entries after healing")
        #expect(try cluster.missing(writes).isEmpty)
        #expect(writes.count > 100)
    }

    @Test func powerCutsWithFsyncOnLoseNothingAcknowledged() throws {
        let cluster = try TestCluster { config in config.fsync = true }
        _ = try cluster.awaitLeader()
        let writer = BackgroundWriter(port: cluster.port, prefix: "cut", connections: 4)
        // Each node in turn, the leader first, loses everything it had not fsynced, mid-load.
        for round in 0..<3 {
            let target = round == 0 ? try cluster.awaitLeader() : (try cluster.awaitLeader() + round) % 3
            let before = writer.count
            #expect(waitUntil(seconds: 10) { writer.count >= before + 30 })
            let cut = try cluster.request(#"{"admin":"crash","node":\#(target),"loseUnsynced":true}"#)
            #expect(cut["status"] == .string("ok"), "\(cut)")
            #expect(try cluster.request(#"{"admin":"restart","node":\#(target)}"#)["status"] == .string("ok"))
        }
        let before = writer.count
        #expect(waitUntil(seconds: 10) { writer.count >= before + 30 })
        let writes = writer.stop()
        #expect(cluster.events.contains { $0.contains("power cut") })
        #expect(try cluster.missing(writes).isEmpty, "fsync before acknowledging: nothing acknowledged is lost")
    }

    @Test func powerCutsWithFsyncOffLoseAcknowledgedWrites() throws {
        let cluster = try TestCluster()  // fsync off
        _ = try cluster.awaitLeader()
        var writes: [(key: String, value: String)] = []
        for number in 0..<20 {
            let key = "gone\(number)"
            if try cluster.request(#"{"key":"\#(key)","value":"\#(number)"}"#)["status"] == .string("ok") {
                writes.append((key, String(number)))
            }
        }
        #expect(writes.count == 20)
        for node in 0..<3 { _ = try cluster.request(#"{"admin":"crash","node":\#(node),"loseUnsynced":true}"#) }
        for node in 0..<3 { _ = try cluster.request(#"{"admin":"restart","node":\#(node)}"#) }
        _ = try cluster.awaitLeader()
        let missing = try cluster.missing(writes)
        #expect(missing.count == writes.count, "with fsync off a power cut of every node takes every acknowledged write")
    }

    /// Writes and linearizable reads from a few clients while the leader is cut off; the
    /// history is checked.
    static func checkAcrossIsolation(_ cluster: TestCluster) throws -> LinearizabilityChecker.Result {
        let leader = try cluster.awaitLeader()
        let run = CheckRun(host: "127.0.0.1", port: cluster.port, seconds: 4, clients: 4, keys: 2)
        let outcome = Mutex<CheckRun.Outcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let result = run.run()
            outcome.withLock { $0 = result }
            done.signal()
        }
        let start = try cluster.node(leader)["commitIndex"]?.intValue ?? 0
        #expect(try waitUntil(seconds: 5) { try cluster.node(leader)["commitIndex"]?.intValue ?? 0 >= start + 20 })
        _ = try cluster.request(#"{"admin":"isolate","node":\#(leader)}"#)
        done.wait()
        _ = try cluster.request(#"{"admin":"heal"}"#)
        return try #require(outcome.withLock { $0 }).result
    }

    @Test func withTheUnsafeSwitchOnAnIsolatedLeaderServesStaleReadsAndTheCheckerCatchesThem() throws {
        let cluster = try TestCluster { config in config.unsafeLocalReads = true }
        #expect(cluster.events.contains { $0.contains("UNSAFE") })
        let result = try Self.checkAcrossIsolation(cluster)
        guard case .violation(_, let minimal) = result.verdict else {
            Issue.record("expected a linearizability violation, got \(result.verdict)")
            return
        }
        #expect(!minimal.isEmpty && minimal.contains { if case .get = $0.kind { return true } else { return false } })
    }

    @Test func withTheSwitchOffTheSameExperimentIsLinearizable() throws {
        let cluster = try TestCluster()
        let result = try Self.checkAcrossIsolation(cluster)
        guard case .linearizable = result.verdict else {
            Issue.record("expected linearizable, got \(result.verdict)")
            return
        }
        #expect(result.operations > 100)
    }
}
