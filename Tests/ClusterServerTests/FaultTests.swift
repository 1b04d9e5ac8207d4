import ClusterServer
import JSONText
import KVClient
import Testing

/// Crashes, restarts and damaged files against a live cluster.
@Suite(.serialized) struct FaultTests {
    @Test func leaderCrashElectsANewLeaderAndWritesContinue() throws {
        let cluster = try TestCluster()
        let first = try cluster.awaitLeader()
        #expect(try cluster.request(#"{"key":"before","value":"1"}"#)["status"] == .string("ok"))
        #expect(try cluster.request(#"{"admin":"kill","node":\#(first)}"#)["status"] == .string("ok"))
        let second = try cluster.awaitLeader(excluding: first)
        #expect(second != first)
        #expect(try cluster.request(#"{"key":"after","value":"2"}"#)["status"] == .string("ok"))
        #expect(try cluster.request(#"{"op":"get","key":"before","consistency":"linearizable"}"#)["value"] == .string("1"))
        #expect(cluster.events.contains { $0.contains("became leader") })
    }

    @Test func killedFollowerRestartsFromItsFilesAndCatchesUp() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        let follower = (leader + 1) % 3
        for number in 0..<10 { _ = try cluster.request(#"{"key":"a\#(number)","value":"x"}"#) }
        _ = try cluster.request(#"{"admin":"kill","node":\#(follower)}"#)
        #expect(try cluster.node(follower)["alive"] == .bool(false))
        let connection = try cluster.connect()
        for number in 0..<50 {
            #expect(try connection.request(#"{"key":"b\#(number)","value":"y"}"#)?.contains("\"ok\"") == true)
        }
        _ = try cluster.request(#"{"admin":"restart","node":\#(follower)}"#)
        #expect(cluster.events.contains { $0.contains("node \(follower)") && $0.contains("replayed") && $0.contains("log0\(follower).txt") })
        let caughtUp = try waitUntil(seconds: 10) {
            let leaderCommit = try cluster.node(leader)["commitIndex"]?.intValue ?? -1
            return try cluster.node(follower)["lastApplied"]?.intValue == leaderCommit && leaderCommit >= 61
        }
        #expect(caughtUp)
        #expect(readFile(cluster.logPath(follower)).split(separator: "\n").count >= 61)
    }

    @Test func tornTailIsDroppedOnRestart() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        let victim = (leader + 1) % 3
        for number in 0..<5 { _ = try cluster.request(#"{"key":"t\#(number)","value":"x"}"#) }
        _ = try cluster.request(#"{"admin":"kill","node":\#(victim)}"#)
        writeFile(cluster.logPath(victim), readFile(cluster.logPath(victim)) + #"{"index":99,"term":1,"comm"#)
        #expect(try cluster.request(#"{"admin":"restart","node":\#(victim)}"#)["status"] == .string("ok"))
        #expect(cluster.events.contains { $0.contains("dropped a torn final line") })
        #expect(try waitUntil(seconds: 10) { try cluster.node(victim)["lastApplied"]?.intValue ?? 0 >= 6 })
    }

    @Test func damagedMiddleLineKeepsThatNodeDownWhileOthersServe() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        let victim = (leader + 2) % 3
        for number in 0..<5 { _ = try cluster.request(#"{"key":"d\#(number)","value":"x"}"#) }
        _ = try cluster.request(#"{"admin":"kill","node":\#(victim)}"#)
        var lines = readFile(cluster.logPath(victim)).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: "\"value\":\"x\"", with: "\"value\":\"CORRUPT\"")
        writeFile(cluster.logPath(victim), lines.joined(separator: "\n") + "\n")
        let answer = try cluster.request(#"{"admin":"restart","node":\#(victim)}"#)
        #expect(answer["status"] == .string("error"))
        let message = answer["error"]?.stringValue ?? ""
        #expect(message.contains("log0\(victim).txt line 2"), "\(message)")
        #expect(try cluster.node(victim)["alive"] == .bool(false))
        #expect(try cluster.node(victim)["failure"]?.stringValue?.contains("line 2") == true)
        #expect(try cluster.request(#"{"key":"others","value":"serve"}"#)["status"] == .string("ok"))
    }

    @Test func partitionedLeaderCannotCommitAndRejoinsAfterHealing() throws {
        let cluster = try TestCluster { $0.requestTimeoutMs = 800 }
        let leader = try cluster.awaitLeader()
        let others = (0..<3).filter { $0 != leader }
        _ = try cluster.request(#"{"admin":"partition","groups":[[\#(leader)],[\#(others[0]),\#(others[1])]]}"#)
        let newLeader = try cluster.awaitLeader(excluding: leader)
        #expect(others.contains(newLeader))
        let oldCommit = try cluster.node(leader)["commitIndex"]?.intValue ?? -1
        #expect(try cluster.request(#"{"key":"p","value":"majority"}"#)["status"] == .string("ok"))
        #expect(try cluster.node(leader)["commitIndex"]?.intValue == oldCommit, "the cut-off leader advanced its commit index")
        #expect(try cluster.node(newLeader)["commitIndex"]?.intValue ?? 0 > oldCommit)
        _ = try cluster.request(#"{"admin":"heal"}"#)
        let converged = try waitUntil(seconds: 10) {
            try cluster.node(leader)["lastApplied"] == cluster.node(newLeader)["lastApplied"]
        }
        #expect(converged)
    }
}

import Foundation
import NodeHosting
import RuntimeSupport
