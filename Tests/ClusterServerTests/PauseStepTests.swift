import ClusterServer
import Dispatch
import JSONText
import KVClient
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

/// Pause and step: timers stop, messages are held, a write commits only once the right messages
/// are delivered by hand, and its deadline waits while the cluster is paused.
@Suite(.serialized) struct PauseStepTests {
    func held(_ cluster: TestCluster) throws -> [JSONObject] {
        try cluster.request(#"{"admin":"messages"}"#)["messages"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }

    @Test func aWriteCommitsOnlyAfterItsMessagesAreDeliveredByHand() throws {
        let cluster = try TestCluster { $0.requestTimeoutMs = 800 }
        // Paused with a leader in place: on a loaded machine an election may still be going on
        // (or start) between finding the leader and pausing; then resume and try again.
        var leader = -1
        for _ in 0..<10 {
            leader = try cluster.awaitLeader()
            #expect(try cluster.request(#"{"key":"warm","value":"up"}"#)["status"] == .string("ok"))
            #expect(try cluster.request(#"{"admin":"pause"}"#)["paused"] == .bool(true))
            if try cluster.status()["leader"]?.intValue == leader { break }
            try cluster.request(#"{"admin":"resume"}"#)
        }
        #expect(try cluster.status()["paused"] == .bool(true))
        #expect(try cluster.status()["leader"]?.intValue == leader, "paused with node \(leader) leading")

        let answer = Mutex<String?>(nil)
        let writer = try cluster.connect()
        DispatchQueue.global().async {
            let line = try? writer.request(#"{"key":"stepped","value":"by hand"}"#)
            answer.withLock { $0 = line ?? "connection failed" }
        }
        // The leader appends and replicates, but every message is held: nothing can commit.
        #expect(try waitUntil(seconds: 5) { try self.held(cluster).contains { $0["type"] == .string("appendEntries") && $0["from"]?.intValue == leader } })
        #expect(!waitUntil(seconds: 1.5) { answer.withLock { $0 } != nil },
                "no answer while paused — not even a timeout, though the request timeout (0.8 s) has passed")
        #expect(try cluster.status()["nodes"]?.arrayValue?.allSatisfy { $0.objectValue?["electionElapsed"]?.intValue ?? 0 < 15 } == true,
                "timers are stopped")

        // Deliver the held messages one at a time, oldest first, until the write is answered.
        var delivered: [String] = []
        let done = try waitUntil(seconds: 10) {
            if answer.withLock({ $0 }) != nil { return true }
            let next = try cluster.request(#"{"admin":"deliver"}"#)
            if let message = next["message"]?.objectValue, let type = message["type"]?.stringValue { delivered.append(type) }
            return false
        }
        #expect(done)
        #expect(answer.withLock { $0 } == #"{"key":"stepped","value":"by hand","status":"ok"}"#)
        #expect(delivered.contains("appendEntries") && delivered.contains("appendResponse"),
                "it took an append to a follower and its answer: \(delivered)")
        #expect(try cluster.request(#"{"admin":"resume"}"#)["paused"] == .bool(false))
        #expect(try cluster.request(#"{"op":"get","key":"stepped","consistency":"linearizable"}"#)["value"] == .string("by hand"))
    }

    @Test func tickAndDropLetAClassBuildAnElectionByHand() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        try cluster.request(#"{"admin":"pause"}"#)
        let follower = (leader + 1) % 3
        // Enough ticks for any election timeout: the follower starts a pre-election.
        let ticked = try cluster.request(#"{"admin":"tick","node":\#(follower),"count":60}"#)
        #expect(ticked["status"] == .string("ok"))
        let preVotes = try held(cluster).filter { $0["type"] == .string("preVote") && $0["from"]?.intValue == follower }
        #expect(!preVotes.isEmpty)
        for message in preVotes {
            let id = try #require(message["id"]?.intValue)
            #expect(try cluster.request(#"{"admin":"drop","message":\#(id)}"#)["status"] == .string("ok"))
        }
        #expect(try held(cluster).allSatisfy { $0["type"] != .string("preVote") })
        #expect(try cluster.request(#"{"admin":"drop","message":999999}"#)["code"] == .string("bad_request"))
        let resumed = try cluster.request(#"{"admin":"resume"}"#)
        #expect(resumed["status"] == .string("ok"))
        #expect(try cluster.request(#"{"key":"after","value":"resume"}"#)["status"] == .string("ok"))
    }
}
