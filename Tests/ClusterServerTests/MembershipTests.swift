import ClusterServer
import Dispatch
import JSONText
import KVClient
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

/// `members`, `add`, `remove`, `transfer` against a real cluster in one process.
@Suite(.serialized) struct MembershipTests {
    func memberIDs(_ answer: JSONObject) -> [Int] {
        (answer["members"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
    }

    func voters(_ answer: JSONObject) -> [Int] {
        (answer["members"]?.arrayValue ?? []).compactMap(\.objectValue).filter { $0["voter"] == .bool(true) }.compactMap { $0["id"]?.intValue }
    }

    @Test func addCreatesANodeThatCatchesUpThenVotes() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        for number in 0..<50 { #expect(try cluster.request(#"{"key":"k\#(number)","value":"v\#(number)"}"#)["status"] == .string("ok")) }
        let added = try cluster.request(#"{"admin":"add","node":3}"#)
        #expect(added["status"] == .string("ok"), "\(added)")
        #expect(voters(added) == [0, 1, 2, 3])
        #expect(try waitUntil(seconds: 10) { try cluster.node(3)["lastApplied"]?.intValue ?? 0 >= 52 })
        #expect(cluster.events.contains { $0.contains("node 3") && $0.contains("created in this process") })
        // Four voters: one can go and writes go on.
        try cluster.request(#"{"admin":"kill","node":1}"#)
        #expect(try cluster.request(#"{"key":"after","value":"kill"}"#)["status"] == .string("ok"))
        #expect(voters(try cluster.request(#"{"admin":"members"}"#)) == [0, 1, 2, 3])
    }

    @Test func removingTheLeaderMovesLeadershipFirstAndStopsTheNode() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        #expect(try cluster.request(#"{"key":"a","value":"1"}"#)["status"] == .string("ok"))
        let removed = try cluster.request(#"{"admin":"remove","node":\#(leader)}"#)
        #expect(removed["status"] == .string("ok"), "\(removed)")
        #expect(memberIDs(removed) == [0, 1, 2].filter { $0 != leader })
        #expect(cluster.events.contains { $0.contains("node \(leader)") && $0.contains("handing leadership") })
        #expect(try waitUntil(seconds: 5) { try !cluster.status()["nodes"]!.arrayValue!.contains { $0.objectValue?["id"]?.intValue == leader } },
                "the removed node is stopped and no longer listed")
        let newLeader = try cluster.awaitLeader()
        #expect(newLeader != leader)
        #expect(try cluster.request(#"{"key":"b","value":"2"}"#)["status"] == .string("ok"))
        #expect(try cluster.request(#"{"op":"get","key":"a","consistency":"linearizable"}"#)["value"] == .string("1"))
    }

    @Test func transferHandsLeadershipOver() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        let target = (leader + 1) % 3
        let answer = try cluster.request(#"{"admin":"transfer","node":\#(target)}"#)
        #expect(answer["status"] == .string("ok") && answer["leader"] == .number(String(target)), "\(answer)")
        #expect(try cluster.status()["leader"]?.intValue == target)
        #expect(try cluster.request(#"{"key":"c","value":"3"}"#)["status"] == .string("ok"))
        let refused = try cluster.request(#"{"admin":"transfer","node":7}"#)
        #expect(refused["code"] == .string("bad_request"))
    }

    @Test func aSecondChangeWhileOneIsPendingIsBusy() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        #expect(try cluster.request(#"{"key":"a","value":"1"}"#)["status"] == .string("ok"))
        // Paused, the leader appends the change (in force at once) but cannot commit it.
        try cluster.request(#"{"admin":"pause"}"#)
        let first = Mutex<JSONObject?>(nil)
        let connection = try cluster.connect()
        DispatchQueue.global().async {
            let answer = try? connection.request(#"{"admin":"add","node":3}"#).flatMap { try? JSONParser.parse($0).objectValue }
            first.withLock { $0 = answer ?? nil }
        }
        #expect(try waitUntil(seconds: 5) { try cluster.status()["configuration"]?.objectValue?["committed"] == .bool(false) })
        let second = try cluster.request(#"{"admin":"add","node":4}"#)
        #expect(second["code"] == .string("busy"), "\(second)")
        let removal = try cluster.request(#"{"admin":"remove","node":1}"#)
        #expect(removal["code"] == .string("busy"))
        #expect(first.withLock { $0 } == nil, "the first change waits, its deadline suspended")
        try cluster.request(#"{"admin":"resume"}"#)
        #expect(waitUntil(seconds: 20) { first.withLock { $0 } != nil })
        #expect(first.withLock { $0 }?["status"] == .string("ok"))
        #expect(voters(try cluster.request(#"{"admin":"members"}"#)) == [0, 1, 2, 3])
    }

    @Test func membershipSurvivesARestartOfTheWholeProcess() throws {
        let directory: String
        do {
            let cluster = try TestCluster { $0.fsync = true }
            directory = cluster.directory
            _ = try cluster.awaitLeader()
            #expect(try cluster.request(#"{"admin":"add","node":5}"#)["status"] == .string("ok"))
            #expect(try cluster.request(#"{"admin":"remove","node":1}"#)["status"] == .string("ok"))
            #expect(try cluster.request(#"{"key":"kept","value":"yes"}"#)["status"] == .string("ok"))
        }
        let restarted = try TestCluster { $0.dataDir = directory }
        #expect(try waitUntil(seconds: 10) { try restarted.status()["nodes"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } == [0, 2, 5] })
        _ = try restarted.awaitLeader()
        #expect(try restarted.request(#"{"op":"get","key":"kept","consistency":"linearizable"}"#)["value"] == .string("yes"))
        #expect(readFile(directory + "/bootstrap0.json").contains(#""members":[{"id":0,"voter":true},{"id":1,"voter":true},{"id":2,"voter":true}]"#))
    }
}
