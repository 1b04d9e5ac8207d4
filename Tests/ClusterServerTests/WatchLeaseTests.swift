import ClientShell
#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import Dispatch
import JSONText
import KVClient
import NodeHosting
import RuntimeSupport
import Synchronization
import Testing

/// Reads a watch's lines on its own thread: answers and events, as they come.
final class WatchReader: Sendable {
    let connection: ClientConnection
    private let lines = Mutex<[JSONObject]>([])
    private let done = DispatchSemaphore(value: 0)

    init(port: Int) throws {
        connection = try ClientConnection(host: "127.0.0.1", port: port)
        let connection = self.connection
        DispatchQueue.global().async { [self] in
            while let line = try? connection.receiveLine() {
                if let object = (try? JSONParser.parse(line))?.objectValue { self.lines.withLock { $0.append(object) } }
            }
            self.done.signal()
        }
    }

    func send(_ line: String) throws { try connection.send(line) }

    var all: [JSONObject] { lines.withLock { $0 } }

    /// Every event received for watch `name`, in the order received.
    func events(_ name: String) -> [JSONObject] {
        all.filter { $0["watch"] == .string(name) && $0["events"] != nil }.flatMap { line in
            (line["events"]?.arrayValue ?? []).compactMap(\.objectValue)
        }
    }

    func awaitLine(seconds: Double = 10, _ condition: @escaping (JSONObject) -> Bool) -> JSONObject? {
        var found: JSONObject?
        _ = waitUntil(seconds: seconds) {
            found = self.all.first(where: condition)
            return found != nil
        }
        return found
    }
}

/// Checks the watch guarantees on a list of events: revision order, each once, no gaps.
func checkOrderedWithoutGaps(_ events: [JSONObject], from first: Int, through last: Int) -> [String] {
    var problems: [String] = []
    let revisions = events.compactMap { $0["modRevision"]?.intValue }
    for (a, b) in zip(revisions, revisions.dropFirst()) where b <= a { problems.append("revision \(b) after \(a)") }
    let seen = Set(revisions)
    let missing = (first...last).filter { !seen.contains($0) }
    if !missing.isEmpty { problems.append("missing revisions \(missing.prefix(10))") }
    if revisions.count != seen.count { problems.append("\(revisions.count - seen.count) events repeated") }
    return problems
}

@Suite(.serialized) struct WatchTests {
    @Test func aWatchFollowsAPrefixInRevisionOrderBesideAnswers() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        _ = try cluster.request(#"{"key":"other","value":"x"}"#)
        let reader = try WatchReader(port: cluster.port)
        try reader.send(#"{"op":"watch","prefix":"cfg/","watch":"w1","id":1}"#)
        let answer = try #require(reader.awaitLine { $0["id"] == .number("1") })
        #expect(answer["status"] == .string("ok") && answer["watch"] == .string("w1") && answer["revision"]?.intValue == 1, "\(answer)")
        try reader.send(#"{"op":"watch","key":"cfg/b","watch":"only-b"}"#)
        #expect(reader.awaitLine { $0["watch"] == .string("only-b") && $0["status"] != nil } != nil)
        _ = try cluster.request(#"{"key":"cfg/a","value":"1"}"#)
        _ = try cluster.request(#"{"key":"unrelated","value":"1"}"#)
        _ = try cluster.request(#"{"key":"cfg/b","value":"2"}"#)
        _ = try cluster.request(#"{"op":"delete","key":"cfg/a"}"#)
        #expect(waitUntil(seconds: 10) { reader.events("w1").count == 3 })
        let events = reader.events("w1")
        #expect(events.map { $0["type"]?.stringValue } == ["put", "put", "delete"])
        #expect(events.map { $0["key"]?.stringValue } == ["cfg/a", "cfg/b", "cfg/a"])
        #expect(events.map { $0["modRevision"]?.intValue } == [2, 4, 5])
        #expect(events[1]["value"] == .string("2") && events[1]["createRevision"]?.intValue == 4 && events[1]["version"]?.intValue == 1)
        #expect(waitUntil(seconds: 5) { reader.events("only-b").count == 1 })
        try reader.send(#"{"op":"unwatch","watch":"w1","id":2}"#)
        #expect(reader.awaitLine { $0["id"] == .number("2") }?["status"] == .string("ok"))
        _ = try cluster.request(#"{"key":"cfg/c","value":"3"}"#)
        _ = try cluster.request(#"{"key":"cfg/b","value":"4"}"#)
        #expect(waitUntil(seconds: 5) { reader.events("only-b").count == 2 })
        #expect(reader.events("w1").count == 3, "nothing after unwatch")
    }

    @Test func aWatchResumesFromARevisionAndSaysWhenThatIsTooOld() throws {
        let cluster = try TestCluster { $0.watchHistoryRevisions = 20 }
        _ = try cluster.awaitLeader()
        for number in 1...30 { _ = try cluster.request(#"{"key":"k/\#(number)","value":"\#(number)"}"#) }
        let reader = try WatchReader(port: cluster.port)
        try reader.send(#"{"op":"watch","prefix":"k/","fromRevision":25,"watch":"late"}"#)
        #expect(waitUntil(seconds: 10) { reader.events("late").count == 6 })
        #expect(reader.events("late").map { $0["modRevision"]?.intValue } == Array(25...30).map { Optional($0) })
        try reader.send(#"{"op":"watch","prefix":"k/","fromRevision":2,"watch":"early"}"#)
        let refused = try #require(reader.awaitLine { $0["watch"] == .string("early") })
        #expect(refused["code"] == .string("compacted") && (refused["oldestRevision"]?.intValue ?? 0) > 2, "\(refused)")
    }

    @Test func eventsComeInOrderOnceWithoutGapsWhileNodesCrashAndRestart() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let reader = try WatchReader(port: cluster.port)
        try reader.send(#"{"op":"watch","prefix":"job/","watch":"jobs","id":1}"#)
        #expect(reader.awaitLine { $0["id"] == .number("1") }?["status"] == .string("ok"))
        let writer = BackgroundWriter(port: cluster.port, prefix: "job/", connections: 2)
        for victim in [0, 1, 2, 0] {
            #expect(waitUntil(seconds: 10) { writer.count > 40 })
            try cluster.request(#"{"admin":"kill","node":\#(victim)}"#)
            #expect(waitUntil(seconds: 10) { writer.count > 80 })
            try cluster.request(#"{"admin":"restart","node":\#(victim)}"#)
        }
        let acknowledged = writer.stop()
        let last = try cluster.request(#"{"op":"range","prefix":"job/","limit":1,"consistency":"linearizable"}"#)["revision"]?.intValue ?? 0
        #expect(waitUntil(seconds: 15) { reader.events("jobs").last?["modRevision"]?.intValue == last }, "the watch caught up to \(last)")
        let events = reader.events("jobs")
        #expect(checkOrderedWithoutGaps(events, from: 1, through: last).isEmpty, "\(checkOrderedWithoutGaps(events, from: 1, through: last))")
        let seenKeys = Set(events.compactMap { $0["key"]?.stringValue })
        #expect(acknowledged.allSatisfy { seenKeys.contains($0.key) }, "every acknowledged write was seen")
    }

    @Test func aWatchResumedOnAnotherConnectionNeverGoesBackInTime() throws {
        // etcd once sent a watcher events older than it had seen after a partition healed; here a
        // node cut off and brought back, and a client resuming elsewhere, continue from where they were.
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let first = try WatchReader(port: cluster.port)
        try first.send(#"{"op":"watch","prefix":"p/","watch":"a"}"#)
        #expect(first.awaitLine { $0["watch"] == .string("a") && $0["status"] != nil } != nil)
        // Every put is retried until it is acknowledged (one may meet the election the isolation causes).
        func put(_ number: Int) throws {
            #expect(try waitUntil(seconds: 10) {
                try cluster.request(#"{"key":"p/\#(number)","value":"x"}"#)["status"] == .string("ok")
            })
        }
        for number in 1...20 { try put(number) }
        try cluster.request(#"{"admin":"isolate","node":0}"#)
        for number in 21...40 { try put(number) }
        try cluster.request(#"{"admin":"heal"}"#)
        #expect(waitUntil(seconds: 10) { first.events("a").count >= 40 })
        let seen = first.events("a")
        let lastSeen = try #require(seen.last?["modRevision"]?.intValue)
        for number in 41...50 { try put(number) }
        let second = try WatchReader(port: cluster.port)
        try second.send(#"{"op":"watch","prefix":"p/","fromRevision":\#(lastSeen + 1),"watch":"a"}"#)
        #expect(waitUntil(seconds: 10) { second.events("a").count == 10 })
        let combined = seen + second.events("a")
        #expect(checkOrderedWithoutGaps(combined, from: 1, through: 50).isEmpty, "\(checkOrderedWithoutGaps(combined, from: 1, through: 50))")
    }

    @Test func aWatcherThatDoesNotReadIsCutOffWithoutHoldingUpOthers() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let slow = try ClientConnection(host: "127.0.0.1", port: cluster.port)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)  // a missing cut fails the test instead of hanging it
        setsockopt(slow.socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        try slow.send(#"{"op":"watch","prefix":"big/","watch":"slow"}"#)
        let fast = try WatchReader(port: cluster.port)
        try fast.send(#"{"op":"watch","prefix":"big/","watch":"fast"}"#)
        _ = try #require(try slow.receiveLine())
        #expect(fast.awaitLine { $0["watch"] == .string("fast") && $0["status"] != nil } != nil)
        let value = String(repeating: "v", count: 512 * 1024)
        let writer = try cluster.connect()
        for number in 0..<64 {
            #expect(try writer.request(#"{"key":"big/\#(number)","value":"\#(value)"}"#)?.contains(#""status":"ok""#) == true)
        }
        #expect(waitUntil(seconds: 60) { fast.events("fast").count == 64 }, "the reading watcher got everything")
        // Now read what the slow one was sent: some events, then the cut.
        var cut: JSONObject?
        while cut == nil, let line = try slow.receiveLine() {
            if let object = try JSONParser.parse(line).objectValue, object["code"] != nil { cut = object }
        }
        #expect(cut?["code"] == .string("watch_cancelled") && cut?["resumeFrom"] != nil, "\(String(describing: cut))")
        #expect(try cluster.request(#"{"key":"after","value":"ok"}"#)["status"] == .string("ok"))
    }

    @Test func browsersFollowChangesOverServerSentEventsAndResume() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let http = try HTTPTestClient(port: try #require(cluster.server.httpPort))
        http.sendRaw("GET /v1/watch?prefix=ui%2F HTTP/1.1\r\nHost: x\r\n\r\n")
        // The stream's headers come once the watch is in place: only then is "from now" now.
        let head = http.readStream { $0.contains("\r\n\r\n") }
        #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
        _ = try cluster.request(#"{"key":"ui/theme","value":"dark"}"#)
        _ = try cluster.request(#"{"op":"txn","success":[{"op":"put","key":"ui/a","value":"1"},{"op":"put","key":"ui/b","value":"2"}]}"#)
        let text = head + http.readStream { $0.contains("\"ui/b\"") }
        #expect(text.contains("event: put\nid: 1\ndata: {\"type\":\"put\",\"key\":\"ui/theme\""), "\(text)")
        #expect(text.contains("\"key\":\"ui/a\"") && text.contains("event: put\nid: 2\ndata: {\"type\":\"put\",\"key\":\"ui/b\""),
                "the id comes with the last event of a revision: \(text)")
        let resumed = try HTTPTestClient(port: try #require(cluster.server.httpPort))
        resumed.sendRaw("GET /v1/watch?prefix=ui%2F HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\r\n\r\n")
        let again = resumed.readStream { $0.contains("\"ui/b\"") }
        #expect(!again.contains("ui/theme") && again.contains("\"ui/a\""), "\(again)")
    }
}

@Suite(.serialized) struct LeaseTests {
    func leaseID(_ answer: JSONObject) throws -> Int { try #require(answer["lease"]?.intValue) }

    @Test func keysLiveAsLongAsTheirLeaseIsKeptAlive() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let grant = try cluster.request(#"{"op":"lease_grant","ttlMs":1000}"#)
        #expect(grant["status"] == .string("ok") && grant["ttlMs"]?.intValue == 1000, "\(grant)")
        let lease = try leaseID(grant)
        #expect(try cluster.request(#"{"op":"put","key":"svc/a","value":"10.0.0.1","lease":\#(lease)}"#)["status"] == .string("ok"))
        let reader = try WatchReader(port: cluster.port)
        try reader.send(#"{"op":"watch","prefix":"svc/","watch":"svc"}"#)
        let info = try cluster.request(#"{"op":"lease_info","lease":\#(lease)}"#)
        #expect(info["keys"] == .array([.string("svc/a")]) && info["ttlMs"]?.intValue == 1000, "\(info)")
        // Kept alive for three TTLs, the key stays.
        let started = monotonicSeconds()
        while monotonicSeconds() - started < 3 {
            let alive = try cluster.request(#"{"op":"lease_keepalive","lease":\#(lease)}"#)
            #expect(alive["status"] == .string("ok"), "\(alive)")
            usleep(200_000)  // the keepalive period being tested, not a wait for something to happen
        }
        #expect(try cluster.request(#"{"op":"get","key":"svc/a","consistency":"linearizable"}"#)["value"] == .string("10.0.0.1"))
        // No more keepalives: the leader ends it within a TTL (and a log entry deletes the key).
        #expect(waitUntil(seconds: 5) {
            (try? cluster.request(#"{"op":"get","key":"svc/a","consistency":"linearizable"}"#)["code"]) == .string("not_found")
        })
        #expect(waitUntil(seconds: 5) { reader.events("svc").contains { $0["type"] == .string("delete") } }, "watchers saw the delete")
        #expect(try cluster.request(#"{"op":"lease_keepalive","lease":\#(lease)}"#)["code"] == .string("not_found"))
        #expect(try cluster.request(#"{"op":"put","key":"svc/b","value":"x","lease":\#(lease)}"#)["code"] == .string("not_found"))
        #expect(cluster.events.contains { $0.contains("lease \(lease) expired") })
    }

    // lease_list (an extension): every live lease in id order with its TTL, time left and key
    // count, from the leader; a revoked lease is gone from it; ClientMain shows it as a table.
    @Test func leaseListShowsEveryLiveLeaseInIdOrder() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        #expect(try cluster.request(#"{"op":"lease_list"}"#)["leases"] == .array([]))
        let first = try leaseID(try cluster.request(#"{"op":"lease_grant","ttlMs":60000}"#))
        let second = try leaseID(try cluster.request(#"{"op":"lease_grant","ttlMs":30000}"#))
        let third = try leaseID(try cluster.request(#"{"op":"lease_grant","ttlMs":20000}"#))
        for key in ["a", "b"] { _ = try cluster.request(#"{"op":"put","key":"ll/\#(key)","value":"1","lease":\#(second)}"#) }
        _ = try cluster.request(#"{"op":"lease_revoke","lease":\#(third)}"#)
        let listed = try cluster.request(#"{"op":"lease_list"}"#)
        #expect(listed["status"] == .string("ok") && listed["count"]?.intValue == 2, "\(listed)")
        let leases = listed["leases"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(leases.map { $0["lease"]?.intValue } == [Int(first), Int(second)])
        #expect(leases.map { $0["ttlMs"]?.intValue } == [60000, 30000])
        #expect(leases.map { $0["keys"]?.intValue } == [0, 2])
        #expect(leases.allSatisfy { ($0["remainingMs"]?.intValue ?? -1) > 0 && ($0["remainingMs"]?.intValue ?? .max) <= ($0["ttlMs"]?.intValue ?? 0) })
        let table = Renderers.leaseList(listed)
        #expect(table.contains("\(second)") && table.hasSuffix("2 live leases"), "\(table)")
        #expect(try cluster.request(#"{"op":"txn","success":[{"op":"lease_list"}]}"#)["code"] == .string("bad_request"))
    }

    @Test func revokeDeletesTheKeysAtOnce() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let lease = try leaseID(try cluster.request(#"{"op":"lease_grant","ttlMs":60000}"#))
        for key in ["a", "b", "c"] { _ = try cluster.request(#"{"op":"put","key":"l/\#(key)","value":"1","lease":\#(lease)}"#) }
        _ = try cluster.request(#"{"op":"put","key":"l/b","value":"detached"}"#)  // a put without the lease takes the key off it
        let revoked = try cluster.request(#"{"op":"lease_revoke","lease":\#(lease)}"#)
        #expect(revoked["status"] == .string("ok") && revoked["deleted"]?.intValue == 2, "\(revoked)")
        let left = try cluster.request(#"{"op":"range","prefix":"l/","consistency":"linearizable"}"#)
        #expect((left["items"]?.arrayValue ?? []).compactMap { $0.objectValue?["key"]?.stringValue } == ["l/b"])
        #expect(try cluster.request(#"{"op":"lease_revoke","lease":\#(lease)}"#)["code"] == .string("not_found"))
        #expect(try cluster.request(#"{"op":"lease_grant","ttlMs":999}"#)["code"] == .string("bad_request"))
    }

    @Test func aNewLeaderGivesEveryLeaseAFullTTLAndLeasesSurviveRestarts() throws {
        let cluster = try TestCluster()
        let leader = try cluster.awaitLeader()
        let lease = try leaseID(try cluster.request(#"{"op":"lease_grant","ttlMs":4000}"#))
        _ = try cluster.request(#"{"op":"put","key":"owner","value":"me","lease":\#(lease)}"#)
        _ = try cluster.request(#"{"op":"lease_keepalive","lease":\#(lease)}"#)
        let keptAt = monotonicSeconds()
        try cluster.request(#"{"admin":"kill","node":\#(leader)}"#)
        _ = try cluster.awaitLeader(excluding: leader)
        // The old leader's deadline was keptAt + 4 s; the new one starts a full 4 s when it leads.
        while monotonicSeconds() - keptAt < 3.5 {
            #expect(try cluster.request(#"{"op":"get","key":"owner","consistency":"linearizable"}"#)["value"] == .string("me"),
                    "the lease ended early after failover")
            usleep(250_000)  // sampling the key over the lease's lifetime, not waiting for an event
        }
        try cluster.request(#"{"admin":"restart","node":\#(leader)}"#)
        _ = try cluster.request(#"{"op":"lease_keepalive","lease":\#(lease)}"#)
        for node in 0..<3 { _ = try cluster.request(#"{"admin":"snapshot","node":\#(node)}"#) }
        for node in 0..<3 { try cluster.request(#"{"admin":"kill","node":\#(node)}"#) }
        for node in 0..<3 { try cluster.request(#"{"admin":"restart","node":\#(node)}"#) }
        _ = try cluster.awaitLeader()
        var info = JSONObject()
        _ = try waitUntil(seconds: 10) {
            info = try cluster.request(#"{"op":"lease_info","lease":\#(lease)}"#)
            return info["status"] == .string("ok")
        }
        #expect(info["keys"] == .array([.string("owner")]), "the lease and its key came back from the snapshot: \(info)")
    }
}
