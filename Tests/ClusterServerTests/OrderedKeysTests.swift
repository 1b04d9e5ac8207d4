#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import Dispatch
import JSONText
import KVClient
import NodeHosting
import RaftCore
import RaftStorage
import RuntimeSupport
import Synchronization
import Testing

/// Ordered keys, revisions, ranges, transactions and exactly-once writes on a real cluster.
@Suite(.serialized) struct OrderedKeysTests {
    func keys(_ answer: JSONObject) -> [String] {
        (answer["items"]?.arrayValue ?? []).compactMap { $0.objectValue?["key"]?.stringValue }
    }

    @Test func aNewUserListsWhatTheStoreHolds() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        func ask(_ line: String) throws -> JSONObject {
            let answer = try #require(try connection.request(line))
            return try #require(try JSONParser.parse(answer).objectValue)
        }
        #expect(try ask(#"{"key":"name","value":"Alice"}"#)["status"] == .string("ok"))
        #expect(try ask(#"{"key":"age","value":"25"}"#)["status"] == .string("ok"), "the seed's answers are unchanged")
        for number in 1...3 { _ = try ask(#"{"op":"put","key":"app/\#(number)","value":"v\#(number)"}"#) }
        let all = try ask(#"{"op":"range","consistency":"linearizable"}"#)
        #expect(keys(all) == ["age", "app/1", "app/2", "app/3", "name"], "\(all)")
        #expect(all["more"] == .bool(false) && all["revision"]?.intValue == 5)
        let page = try ask(#"{"op":"range","prefix":"app/","limit":2,"consistency":"linearizable"}"#)
        #expect(keys(page) == ["app/1", "app/2"] && page["more"] == .bool(true))
        let rest = try ask(#"{"op":"range","prefix":"app/","after":"app/2","consistency":"linearizable"}"#)
        #expect(keys(rest) == ["app/3"] && rest["more"] == .bool(false))
        let name = try ask(#"{"op":"get","key":"name","consistency":"linearizable","revisions":true}"#)
        #expect(name["createRevision"]?.intValue == 1 && name["modRevision"]?.intValue == 1 && name["version"]?.intValue == 1
                && name["revision"]?.intValue == 5, "\(name)")
        let update = try ask(#"{"op":"cas","key":"name","expectRevision":1,"value":"Bob","revisions":true}"#)
        #expect(update["status"] == .string("ok") && update["modRevision"]?.intValue == 6 && update["version"]?.intValue == 2, "\(update)")
        let stale = try ask(#"{"op":"cas","key":"name","expectRevision":1,"value":"Carol"}"#)
        #expect(stale["code"] == .string("cas_failed") && stale["current"] == .string("Bob") && stale["modRevision"]?.intValue == 6, "\(stale)")
        let removed = try ask(#"{"op":"delete","prefix":"app/"}"#)
        #expect(removed["status"] == .string("ok") && removed["deleted"]?.intValue == 3 && removed["revision"]?.intValue == 7, "\(removed)")
        #expect(keys(try ask(#"{"op":"range","consistency":"linearizable"}"#)) == ["age", "name"])
        let bad = try ask(#"{"op":"range","from":"z","to":"a"}"#)
        #expect(bad["code"] == .string("bad_request"))
    }

    @Test func aTransactionImplementsALock() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let take = { (owner: String) in
            #"{"op":"txn","compare":[{"key":"lock","exists":false}],"success":[{"op":"put","key":"lock","value":"\#(owner)"}],"failure":[{"op":"get","key":"lock"}]}"#
        }
        let first = try cluster.request(take("alice"))
        #expect(first["succeeded"] == .bool(true), "\(first)")
        let second = try cluster.request(take("bob"))
        #expect(second["succeeded"] == .bool(false), "\(second)")
        let holder = second["results"]?.arrayValue?.first?.objectValue
        #expect(holder?["value"] == .string("alice"))
        _ = try cluster.request(#"{"op":"delete","key":"lock"}"#)
        #expect(try cluster.request(take("bob"))["succeeded"] == .bool(true))
    }

    @Test func aRetriedCasIsAppliedOnceEvenAcrossALeaderChange() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        _ = try cluster.request(#"{"key":"counter","value":"0"}"#)
        let cas = #"{"op":"cas","key":"counter","expect":"0","value":"1","client":"app-1","seq":1}"#
        let first = try cluster.request(cas)
        #expect(first["status"] == .string("ok"), "\(first)")
        // The client did not hear back (a timeout) and sends the same write again, to a new leader.
        try cluster.request(#"{"admin":"kill","node":\#(leader)}"#)
        _ = try cluster.awaitLeader(excluding: leader)
        var again = JSONObject()
        _ = try waitUntil(seconds: 10) {
            again = try cluster.request(cas)
            return again["status"] != nil && again["code"] != .string("unavailable") && again["code"] != .string("timeout")
        }
        #expect(again["status"] == .string("ok") && again["value"] == .string("1"), "the recorded answer, not cas_failed: \(again)")
        let read = try cluster.request(#"{"op":"get","key":"counter","consistency":"linearizable","revisions":true}"#)
        #expect(read["value"] == .string("1") && read["version"]?.intValue == 2, "applied exactly once: \(read)")
        let older = try cluster.request(#"{"op":"put","key":"counter","value":"x","client":"app-1","seq":0}"#)
        #expect(older["code"] == .string("bad_request"))
        _ = try cluster.request(#"{"op":"put","key":"counter","value":"2","client":"app-1","seq":2}"#)
        let stale = try cluster.request(cas)
        #expect(stale["code"] == .string("stale_request"), "\(stale)")
        let status = try cluster.status()
        let nodes = status["nodes"]?.arrayValue?.compactMap(\.objectValue).filter { $0["alive"] == .bool(true) } ?? []
        #expect(nodes.allSatisfy { $0["sessions"]?.intValue == 1 }, "\(status)")
    }

    @Test func aRangeNeverObservesHalfOfATransaction() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        _ = try cluster.request(#"{"op":"txn","success":[{"op":"put","key":"pair/a","value":"0"},{"op":"put","key":"pair/b","value":"0"}]}"#)
        let stop = Atomic<Bool>(false)
        let torn = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        let group = DispatchGroup()
        for reader in 0..<3 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                guard let connection = try? cluster.connect() else { return }
                let consistency = reader == 0 ? #","consistency":"linearizable""# : ""
                while !stop.load(ordering: .relaxed) {
                    guard let line = try? connection.request(#"{"op":"range","prefix":"pair/"\#(consistency)}"#),
                          let answer = (try? JSONParser.parse(line))?.objectValue, answer["status"] == .string("ok") else { continue }
                    let values = (answer["items"]?.arrayValue ?? []).compactMap { $0.objectValue?["value"]?.stringValue }
                    reads.add(1, ordering: .relaxed)
                    if values.count != 2 || values[0] != values[1] { torn.withLock { $0.append(line) } }
                }
            }
        }
        let writer = try cluster.connect()
        // At least 150 transactions, and on until the readers have read 50 times meanwhile (a
        // loaded machine may start them late), within a generous deadline.
        var number = 0
        let deadline = monotonicSeconds() + 60
        while number < 150 || (reads.load(ordering: .relaxed) <= 50 && monotonicSeconds() < deadline) {
            number += 1
            let answer = try writer.request(#"{"op":"txn","success":[{"op":"put","key":"pair/a","value":"\#(number)"},{"op":"put","key":"pair/b","value":"\#(number)"}]}"#)
            #expect(answer?.contains(#""succeeded":true"#) == true, "\(answer ?? "")")
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        #expect(reads.load(ordering: .relaxed) > 50)
        #expect(torn.withLock { $0 }.isEmpty, "ranges saw half a transaction: \(torn.withLock { $0.prefix(3) })")
    }

    @Test func rangesAndPrefixDeletesOverHTTP() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        for key in ["fruit/apple", "fruit/pear", "veg/leek"] { _ = try cluster.request(#"{"key":"\#(key)","value":"1"}"#) }
        let http = try HTTPTestClient(port: try #require(cluster.server.httpPort))
        let listed = try #require(http.request("GET", "/v1/kv?prefix=fruit%2F&consistency=linearizable"))
        #expect(listed.status == 200, "\(listed.body)")
        #expect(keys(try #require(try JSONParser.parse(listed.body).objectValue)) == ["fruit/apple", "fruit/pear"])
        let refused = try #require(http.request("GET", "/v1/kv?limit=0"))
        #expect(refused.status == 400)
        let deleted = try #require(http.request("DELETE", "/v1/kv?prefix=fruit%2F"))
        #expect(deleted.status == 200 && deleted.body.contains(#""deleted":2"#), "\(deleted.body)")
        let noPrefix = try #require(http.request("DELETE", "/v1/kv"))
        #expect(noPrefix.status == 400)
    }

    @Test func revisionsAndSessionsSurviveSnapshotsAndRestarts() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        for number in 0..<20 { _ = try cluster.request(#"{"key":"k\#(number)","value":"\#(number)"}"#) }
        _ = try cluster.request(#"{"op":"put","key":"k3","value":"again","client":"c","seq":5}"#)
        let before = try cluster.request(#"{"op":"get","key":"k3","consistency":"linearizable","revisions":true}"#)
        for node in 0..<3 { #expect(try cluster.request(#"{"admin":"snapshot","node":\#(node)}"#)["status"] == .string("ok")) }
        for node in 0..<3 { try cluster.request(#"{"admin":"kill","node":\#(node)}"#) }
        for node in 0..<3 { try cluster.request(#"{"admin":"restart","node":\#(node)}"#) }
        _ = try cluster.awaitLeader()
        var after = JSONObject()
        _ = try waitUntil(seconds: 10) {
            after = try cluster.request(#"{"op":"get","key":"k3","consistency":"linearizable","revisions":true}"#)
            return after["status"] == .string("ok")
        }
        for field in ["value", "createRevision", "modRevision", "version"] { #expect(after[field] == before[field], "\(field): \(after)") }
        let retry = try cluster.request(#"{"op":"put","key":"k3","value":"again","client":"c","seq":5,"revisions":true}"#)
        #expect(retry["modRevision"] == before["modRevision"], "the session table came back from the snapshot: \(retry)")
    }

    @Test func aSnapshotFileFromBeforeRevisionsStillLoads() throws {
        var template = Array("/tmp/raftkv-oldsnap-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        // What a one-node store wrote before this round: its snapshot's data is a JSON object of strings.
        let old = Snapshot(index: 3, term: 1, data: Array(#"{"greeting":"hello","snack":"chips"}"#.utf8), configuration: .voters([0]))
        try FileSnapshotStore(path: "\(directory)/snapshot0.json", syncWrites: false).save(old)
        writeFile("\(directory)/meta0.txt", #"{"currentTerm":1,"votedFor":0}"# + "\n")
        let cluster = try TestCluster(nodes: 1) { $0.dataDir = directory }
        _ = try cluster.awaitLeader()
        let read = try cluster.request(#"{"op":"get","key":"snack","consistency":"linearizable","revisions":true}"#)
        #expect(read["value"] == .string("chips") && read["modRevision"]?.intValue == 1, "\(read)")
        #expect(keys(try cluster.request(#"{"op":"range","consistency":"linearizable"}"#)) == ["greeting", "snack"])
    }
}
