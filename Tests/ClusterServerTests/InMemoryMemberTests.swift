#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import ClusterTransport
import JSONText
import KVClient
import NodeHosting
import RuntimeSupport
import Synchronization
import Testing

/// Member runtimes — one node per "process" — running in this test process, talking over an
/// in-memory network instead of TCP. They are built by the same composition root as a real
/// member process (`ClusterServer.member`), so forwarding, status, membership and the broadcast
/// of cluster-wide switches are tested without starting programs; the process tests stay.
final class InMemoryMembers: Sendable {
    let network = InMemoryNetwork()
    let config: ServerConfig
    private let servers = Mutex<[Int: ClusterServer]>([:])
    let collector = LineCollector()

    init(members: [Int] = [0, 1, 2], spare: [Int] = []) throws {
        var config = ServerConfig()
        config.proxyPort = 0
        config.httpEnabled = false
        config.fsync = false
        config.beatTimeMs = 20
        config.electionTimeoutMinMs = 100
        config.electionTimeoutMaxMs = 200
        config.tickMs = 5
        config.requestTimeoutMs = 3000
        // The raft addresses are never dialled: the in-memory network carries everything.
        config.members = members.map { MemberConfig(id: $0, raft: "127.0.0.1:\(9000 + $0)") }
            + spare.map { MemberConfig(id: $0, raft: "127.0.0.1:\(9000 + $0)", initial: false) }
        self.config = config
        for id in members { try start(id) }
    }

    deinit {
        for server in servers.withLock({ Array($0.values) }) { server.stop() }
    }

    func start(_ id: Int, joining: Bool = false) throws {
        let collector = self.collector
        let events = EventLog(minimumLevel: .info, sink: { line in collector.append("[member \(id)] " + line) })
        let server = try ClusterServer.member(config: config, id: id, joining: joining, events: events,
                                              transport: network.endpoint(id), storage: InMemoryNodeStorage())
        try server.start()
        servers.withLock { $0[id] = server }
    }

    func server(_ id: Int) -> ClusterServer { servers.withLock { $0[id]! } }

    @discardableResult
    func request(_ id: Int, _ line: String) throws -> JSONObject {
        let connection = try ClientConnection(host: "127.0.0.1", port: server(id).port)
        let answer = try #require(try connection.request(line))
        return try #require(try JSONParser.parse(answer).objectValue)
    }

    func status(_ id: Int) throws -> JSONObject { try request(id, #"{"admin":"status"}"#) }

    /// The leader every member agrees on, once they do.
    func awaitLeader(among ids: [Int] = [0, 1, 2], excluding: Int? = nil, seconds: Double = 10) throws -> Int {
        var agreed: Int?
        _ = try waitUntil(seconds: seconds) {
            let leaders = try ids.map { try self.status($0)["leader"]?.intValue }
            agreed = leaders.first ?? nil
            return agreed != nil && agreed != excluding && leaders.allSatisfy { $0 == agreed }
        }
        guard let agreed else {
            Issue.record("the members never agreed on a leader")
            throw MembersDidNotAgree()
        }
        return agreed
    }
}

@Suite(.serialized) struct InMemoryMemberTests {
    @Test func everyMemberDescribesTheWholeCluster() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        for id in 0..<3 {
            let status = try members.status(id)
            let nodes = (status["nodes"]?.arrayValue ?? []).compactMap { $0.objectValue }
            #expect(nodes.map { $0["id"]?.intValue } == [0, 1, 2])
            #expect(nodes.allSatisfy { $0["alive"] == .bool(true) }, "member \(id): \(status)")
            #expect(status["leader"]?.intValue == leader)
            #expect(status["mode"] == .string("one node per process"))
        }
        #expect(members.network.wireErrors.isEmpty, "\(members.network.wireErrors)")
    }

    @Test func writesAndLinearizableReadsThroughFollowerMembersReachTheLeader() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        let followers = [0, 1, 2].filter { $0 != leader }
        for number in 0..<20 {
            let answer = try members.request(followers[number % 2], #"{"key":"k\#(number)","value":"v\#(number)"}"#)
            #expect(answer["status"] == .string("ok"), "\(answer)")
        }
        let cas = try members.request(followers[0], #"{"op":"cas","key":"k1","expect":"v1","value":"w1"}"#)
        #expect(cas["status"] == .string("ok"), "\(cas)")
        let refused = try members.request(followers[1], #"{"op":"cas","key":"k1","expect":"v1","value":"x"}"#)
        #expect(refused["code"] == .string("cas_failed") && refused["current"] == .string("w1"), "\(refused)")
        let read = try members.request(followers[1], #"{"op":"get","key":"k1","consistency":"linearizable","id":7}"#)
        #expect(read["value"] == .string("w1") && read["id"] == .number("7"), "\(read)")
        #expect(members.network.framesCarried > 0)
        #expect(members.network.wireErrors.isEmpty, "\(members.network.wireErrors)")
    }

    // A follower member serves a linearizable read itself: it asks the leader's member only for
    // the read point (a read-index request, no forwarded client request), and still sees a
    // write acknowledged just before through another member.
    @Test func aFollowerMemberServesLinearizableReadsItselfAndSeesTheWriteJustAcknowledged() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        let followers = [0, 1, 2].filter { $0 != leader }
        // Every member has heard the leader's status (which says it answers read-index requests).
        #expect(try waitUntil(seconds: 5) {
            try followers.allSatisfy { try members.status($0)["leader"]?.intValue == leader }
        })
        let forwardedBefore = members.network.forwardedRequests
        let asksBefore = members.network.raftMessages(.readIndex)
        for number in 0..<20 {
            let writer = number % 2 == 0 ? leader : followers[1]
            let write = try members.request(writer, #"{"key":"fresh","value":"v\#(number)"}"#)
            #expect(write["status"] == .string("ok"), "\(write)")
            let read = try members.request(followers[0], #"{"op":"get","key":"fresh","consistency":"linearizable"}"#)
            #expect(read["value"] == .string("v\(number)"), "read \(number) at follower \(followers[0]): \(read)")
        }
        #expect(members.network.forwardedRequests == forwardedBefore, "the reads were passed to the leader's member whole")
        #expect(members.network.raftMessages(.readIndex) > asksBefore)
        #expect(members.network.raftMessages(.readIndexResponse) > 0)
        #expect(members.network.wireErrors.isEmpty, "\(members.network.wireErrors)")
    }

    // A follower member cut off from the leader cannot confirm a read point: its linearizable
    // read is answered `unavailable` by the request deadline, never with what it holds.
    @Test func aPartitionedFollowerMemberAnswersUnavailableByTheDeadline() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        let follower = (leader + 1) % 3
        #expect(try members.request(leader, #"{"key":"k","value":"old"}"#)["status"] == .string("ok"))
        #expect(try waitUntil(seconds: 5) {
            try members.request(follower, #"{"op":"get","key":"k"}"#)["value"] == .string("old")
        })
        #expect(try members.request(leader, #"{"admin":"isolate","node":\#(follower)}"#)["status"] == .string("ok"))
        for id in 0..<3 {
            #expect(try waitUntil(seconds: 5) { try members.status(id)["partition"] != nil }, "member \(id) never applied the partition")
        }
        #expect(try members.request(leader, #"{"key":"k","value":"new"}"#)["status"] == .string("ok"))
        let started = monotonicSeconds()
        let read = try members.request(follower, #"{"op":"get","key":"k","consistency":"linearizable"}"#)
        let elapsed = monotonicSeconds() - started
        #expect(read["code"] == .string("unavailable"), "\(read)")
        let deadline = Double(members.config.requestTimeoutMs) / 1000
        #expect(elapsed >= deadline - 0.1 && elapsed < deadline + 2, "answered after \(elapsed) s (deadline \(deadline) s)")
        #expect(try members.request(leader, #"{"admin":"heal"}"#)["status"] == .string("ok"))
        #expect(try waitUntil(seconds: 10) {
            try members.request(follower, #"{"op":"get","key":"k","consistency":"linearizable"}"#)["value"] == .string("new")
        }, "the healed follower serves linearizable reads again")
    }

    @Test func aSwitchSentToOneMemberAppliesEverywhere() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        let other = (leader + 1) % 3
        #expect(try members.request(other, #"{"admin":"isolate","node":\#(leader)}"#)["status"] == .string("ok"))
        for id in 0..<3 {
            #expect(try waitUntil(seconds: 5) { try members.status(id)["partition"] != nil }, "member \(id) never applied the partition")
        }
        let rest = [0, 1, 2].filter { $0 != leader }
        let newLeader = try members.awaitLeader(among: rest, excluding: leader)
        #expect(newLeader != leader)
        #expect(try members.request(rest[0], #"{"key":"during","value":"partition"}"#)["status"] == .string("ok"))
        #expect(try members.request(leader, #"{"admin":"heal"}"#)["status"] == .string("ok"))
        for id in 0..<3 {
            #expect(try waitUntil(seconds: 5) { try members.status(id)["partition"] == nil }, "member \(id) never healed")
        }
        _ = try members.awaitLeader()
        let read = try members.request(leader, #"{"op":"get","key":"during","consistency":"linearizable"}"#)
        #expect(read["value"] == .string("partition"), "\(read)")
    }

    @Test func requestsAboutAnotherMembersNodeAreServedWhereItRuns() throws {
        let members = try InMemoryMembers()
        _ = try members.awaitLeader()
        #expect(try members.request(0, #"{"key":"a","value":"1"}"#)["status"] == .string("ok"))
        let logs = try members.request(0, #"{"admin":"logs","node":2,"count":5}"#)
        #expect(logs["node"]?.intValue == 2 && (logs["entries"]?.arrayValue?.count ?? 0) > 0, "\(logs)")
        #expect(try members.request(0, #"{"admin":"kill","node":2}"#)["status"] == .string("ok"))
        #expect(try waitUntil(seconds: 5) {
            try members.status(1)["nodes"]?.arrayValue?[2].objectValue?["alive"] == .bool(false)
        })
        #expect(try members.request(1, #"{"admin":"restart","node":2}"#)["status"] == .string("ok"))
        #expect(try waitUntil(seconds: 10) {
            try members.status(2)["nodes"]?.arrayValue?[2].objectValue?["lastApplied"]?.intValue ?? 0 >= 2
        })
        let pause = try members.request(0, #"{"admin":"pause"}"#)
        #expect(pause["code"] == .string("bad_request"), "pause and step need every node in one process: \(pause)")
    }

    @Test func aFourthMemberJoinsThenTheLeaderIsRemoved() throws {
        let members = try InMemoryMembers(spare: [3])
        let leader = try members.awaitLeader()
        for number in 0..<10 { try members.request(leader, #"{"key":"before\#(number)","value":"x"}"#) }
        try members.start(3, joining: true)
        let added = try members.request((leader + 1) % 3, #"{"admin":"add","node":3,"raft":"127.0.0.1:9003"}"#)
        #expect(added["status"] == .string("ok"), "\(added)")
        #expect(try waitUntil(seconds: 10) {
            try members.request(3, #"{"op":"get","key":"before9"}"#)["value"] == .string("x")
        }, "the new member caught up")
        // `busy` (the previous change not committed everywhere yet, on a loaded machine) is a
        // passing state: asked again until the deadline, as a client would.
        var removed = JSONObject()
        #expect(try waitUntil(seconds: 10) {
            removed = try members.request(3, #"{"admin":"remove","node":\#(leader)}"#)
            return removed["code"] != .string("busy")
        })
        #expect(removed["status"] == .string("ok"), "\(removed)")
        let rest = [0, 1, 2, 3].filter { $0 != leader }
        let newLeader = try members.awaitLeader(among: rest, excluding: leader)
        #expect(newLeader != leader)
        #expect(try members.request(rest[0], #"{"key":"after","value":"removal"}"#)["status"] == .string("ok"))
        #expect(members.network.wireErrors.isEmpty, "\(members.network.wireErrors)")
    }

    @Test func aBrokenLinkFailsForwardedWritesInsteadOfHangingAndLosesNothingAcknowledged() throws {
        let members = try InMemoryMembers()
        let leader = try members.awaitLeader()
        let follower = (leader + 1) % 3
        #expect(try members.request(follower, #"{"key":"first","value":"1"}"#)["status"] == .string("ok"))
        members.network.disconnect(follower, leader)
        // The follower cannot reach the leader: its write is refused or times out, but is answered.
        let started = monotonicSeconds()
        let cut = try members.request(follower, #"{"key":"second","value":"2"}"#)
        #expect(monotonicSeconds() - started < 10)
        #expect(["ok", "error"].contains(cut["status"]?.stringValue ?? ""), "\(cut)")
        members.network.reconnect(follower, leader)
        #expect(try waitUntil(seconds: 10) {
            try members.request(follower, #"{"key":"third","value":"3"}"#)["status"] == .string("ok")
        })
        let read = try members.request(leader, #"{"op":"get","key":"first","consistency":"linearizable"}"#)
        #expect(read["value"] == .string("1"))
    }
}

struct MembersDidNotAgree: Error {}
