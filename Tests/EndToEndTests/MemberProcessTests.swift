import Foundation
import JSONText
import KVClient
import Synchronization
import Testing

/// One node per process: real `ServerMain --node N` processes talking TCP on loopback.
final class MemberCluster {
    let directory: String
    let configPath: String
    var raftPorts: [Int: Int] = [:]
    var clientPorts: [Int: Int] = [:]
    var processes: [Int: ServerProcess] = [:]

    init(members: Int = 3, extra: [Int] = []) throws {
        directory = NSTemporaryDirectory() + "raftkv-members-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configPath = directory + "/cluster.json"
        for id in 0..<members + extra.count {
            raftPorts[id] = freePort()
            clientPorts[id] = freePort()
        }
        let listed = (0..<members).map(entry).joined(separator: ",\n")
        try """
            {"dataDir": "\(directory)/data", "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200},
             "http": {"enabled": false}, "members": [\(listed)]}
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        for id in 0..<members { try start(id) }
    }

    func entry(_ id: Int) -> String {
        #"{"id": \#(id), "raft": "127.0.0.1:\#(raftPorts[id]!)", "client": "127.0.0.1:\#(clientPorts[id]!)"}"#
    }

    /// Starts member `id` (again), optionally joining through member `via`.
    func start(_ id: Int, joiningThrough via: Int? = nil, config: String? = nil) throws {
        var arguments = ["--node", String(id)]
        if let via { arguments += ["--join", "127.0.0.1:\(clientPorts[via]!)"] }
        processes[id] = try ServerProcess(directory: directory, configPath: config ?? configPath, extraArguments: arguments)
    }

    /// A config listing one more member (for a node that joins).
    func configWith(_ id: Int) throws -> String {
        let path = directory + "/cluster-\(id).json"
        var text = try String(contentsOfFile: configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "]}", with: ",\n" + entry(id) + "]}")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func kill(_ id: Int) {
        processes[id]?.signal(SIGKILL)
        _ = processes[id]?.waitForExit(seconds: 10)
        processes[id] = nil
    }

    func connect(_ id: Int) throws -> ClientConnection {
        try ClientConnection(host: "127.0.0.1", port: clientPorts[id]!)
    }

    @discardableResult
    func request(_ id: Int, _ line: String) throws -> JSONObject {
        let response = try #require(try connect(id).request(line))
        return try #require(try JSONParser.parse(response).objectValue)
    }

    func leader(asking id: Int) throws -> Int? {
        try request(id, #"{"admin":"status"}"#)["leader"]?.intValue
    }

    func awaitLeader(asking id: Int, excluding: Int? = nil) throws -> Int {
        var found: Int?
        let ok = try waitFor(seconds: 20) {
            found = try self.leader(asking: id)
            return found != nil && found != excluding
        }
        #expect(ok, "no leader seen by member \(id)")
        return try #require(found)
    }

    deinit {
        for process in processes.values { process.signal(SIGKILL) }
    }
}

/// A port the kernel just handed out (then released) for a listener.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Keeps writing distinct keys through one member and remembers every write acknowledged.
final class Writer: @unchecked Sendable {
    private let acknowledged = Mutex<[String: String]>([:])
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, prefix: String) {
        DispatchQueue.global().async { [self] in
            var number = 0
            var connection: ClientConnection?
            while !stopFlag.load(ordering: .relaxed) {
                number += 1
                let key = "\(prefix)\(number)"
                do {
                    if connection == nil { connection = try ClientConnection(host: "127.0.0.1", port: port) }
                    let line = try connection!.request(#"{"key":"\#(key)","value":"v\#(number)"}"#)
                    if let line, line.contains(#""status":"ok""#) { acknowledged.withLock { $0[key] = "v\(number)" } }
                    if line == nil { connection = nil }
                } catch {
                    connection = nil
                    usleep(20_000)
                }
            }
            finished.signal()
        }
    }

    func stop() -> [String: String] {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
        return acknowledged.withLock { $0 }
    }
}

@Suite(.serialized) struct MemberProcessTests {
    @Test func writesThroughOneMemberAndLinearizableReadsThroughAnother() throws {
        let cluster = try MemberCluster()
        let leader = try cluster.awaitLeader(asking: 0)
        let follower = (leader + 1) % 3
        let reader = (leader + 2) % 3
        for number in 0..<20 {
            #expect(try cluster.request(follower, #"{"key":"k\#(number)","value":"\#(number)"}"#)["status"] == .string("ok"))
            let read = try cluster.request(reader, #"{"op":"get","key":"k\#(number)","consistency":"linearizable"}"#)
            #expect(read["value"] == .string(String(number)), "a linearizable read through member \(reader) saw the write at once")
        }
        let status = try cluster.request(reader, #"{"admin":"status","id":7}"#)
        #expect(status["id"] == .number("7"))
        let nodes = status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(nodes.count == 3 && nodes.allSatisfy { $0["alive"] == .bool(true) }, "any member describes the whole cluster")
        // A cluster-wide switch sent to one member applies everywhere.
        try cluster.request(reader, #"{"admin":"isolate","node":\#(leader)}"#)
        let newLeader = try cluster.awaitLeader(asking: follower, excluding: leader)
        #expect(newLeader != leader)
        try cluster.request(follower, #"{"admin":"heal"}"#)
        #expect(try cluster.request(leader, #"{"key":"healed","value":"yes"}"#)["status"] == .string("ok"))
    }

    // A follower member serves linearizable reads itself, with the leader's read point; cut off
    // from the leader it cannot get one, and answers `unavailable` by the request deadline
    // (2 s by default) rather than what it holds.
    @Test func aFollowerMemberCutOffFromTheLeaderAnswersLinearizableReadsUnavailable() throws {
        let cluster = try MemberCluster()
        let leader = try cluster.awaitLeader(asking: 0)
        let follower = (leader + 1) % 3
        #expect(try cluster.request(leader, #"{"key":"k","value":"old"}"#)["status"] == .string("ok"))
        #expect(try cluster.request(follower, #"{"op":"get","key":"k","consistency":"linearizable"}"#)["value"] == .string("old"))
        try cluster.request(leader, #"{"admin":"isolate","node":\#(follower)}"#)
        #expect(try waitFor(seconds: 5) { try cluster.request(follower, #"{"admin":"status"}"#)["partition"] != nil })
        #expect(try cluster.request(leader, #"{"key":"k","value":"new"}"#)["status"] == .string("ok"))
        let started = Date()
        let read = try cluster.request(follower, #"{"op":"get","key":"k","consistency":"linearizable"}"#)
        let elapsed = Date().timeIntervalSince(started)
        #expect(read["code"] == .string("unavailable"), "\(read)")
        #expect(elapsed > 1.9 && elapsed < 4, "answered after \(elapsed) s")
        try cluster.request(leader, #"{"admin":"heal"}"#)
        #expect(try waitFor(seconds: 10) {
            try cluster.request(follower, #"{"op":"get","key":"k","consistency":"linearizable"}"#)["value"] == .string("new")
        })
    }

    @Test func sigkillOfTheLeaderUnderLoadLosesNothingAcknowledged() throws {
        let cluster = try MemberCluster()
        let leader = try cluster.awaitLeader(asking: 0)
        let writerMember = (leader + 1) % 3
        let writer = Writer(port: cluster.clientPorts[writerMember]!, prefix: "load")
        #expect(try waitFor(seconds: 10) { try cluster.request(writerMember, #"{"admin":"status"}"#)["nodes"]?.arrayValue?.first?.objectValue?["commitIndex"]?.intValue ?? 0 > 30 })
        cluster.kill(leader)
        let newLeader = try cluster.awaitLeader(asking: writerMember, excluding: leader)
        #expect(newLeader != leader)
        let committedBefore = try #require(try cluster.request(newLeader, #"{"admin":"status"}"#)["nodes"]?.arrayValue?
            .compactMap(\.objectValue).first { $0["id"]?.intValue == newLeader }?["commitIndex"]?.intValue)
        #expect(try waitFor(seconds: 10) {
            let nodes = try cluster.request(newLeader, #"{"admin":"status"}"#)["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
            return (nodes.first { $0["id"]?.intValue == newLeader }?["commitIndex"]?.intValue ?? 0) > committedBefore + 20
        }, "writes go on without the killed leader")
        try cluster.start(leader)
        let acknowledged = writer.stop()
        #expect(acknowledged.count > 30)
        // The restarted member catches up; every acknowledged write is there, read linearizably through it.
        #expect(try waitFor(seconds: 20) {
            let nodes = try cluster.request(leader, #"{"admin":"status"}"#)["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let applied = nodes.compactMap { $0["lastApplied"]?.intValue }
            return applied.count == 3 && Set(applied).count == 1
        })
        for (key, value) in acknowledged {
            let read = try cluster.request(leader, #"{"op":"get","key":"\#(key)","consistency":"linearizable"}"#)
            #expect(read["value"] == .string(value), "acknowledged \(key)=\(value) lost: \(read)")
        }
    }

    @Test func aFourthMemberJoinsThenTheLeaderIsRemoved() throws {
        let cluster = try MemberCluster(extra: [3])
        let leader = try cluster.awaitLeader(asking: 0)
        for number in 0..<30 { try cluster.request(leader, #"{"key":"before\#(number)","value":"\#(number)"}"#) }
        let writer = Writer(port: cluster.clientPorts[(leader + 1) % 3]!, prefix: "during")
        try cluster.start(3, joiningThrough: (leader + 2) % 3, config: try cluster.configWith(3))
        #expect(try waitFor(seconds: 30) {
            let members = try cluster.request(0, #"{"admin":"members"}"#)["members"]?.arrayValue?.compactMap(\.objectValue) ?? []
            return members.contains { $0["id"]?.intValue == 3 && $0["voter"] == .bool(true) }
        }, "the new member is a voter")
        #expect(waitFor(seconds: 10) { cluster.processes[3]!.log.contains("joined the cluster through") })
        let removed = try cluster.request(3, #"{"admin":"remove","node":\#(leader)}"#)
        #expect(removed["status"] == .string("ok"), "\(removed)")
        let remaining = (removed["members"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
        #expect(remaining.sorted() == [0, 1, 2, 3].filter { $0 != leader })
        let acknowledged = writer.stop()
        let survivor = remaining.first!
        for number in 0..<30 {
            #expect(try cluster.request(survivor, #"{"op":"get","key":"before\#(number)","consistency":"linearizable"}"#)["value"] == .string(String(number)))
        }
        for (key, value) in acknowledged {
            #expect(try cluster.request(3, #"{"op":"get","key":"\#(key)","consistency":"linearizable"}"#)["value"] == .string(value))
        }
    }

    @Test func garbageOnARaftPortLeavesTheMemberServing() throws {
        let cluster = try MemberCluster()
        _ = try cluster.awaitLeader(asking: 0)
        for payload: [UInt8] in [Array("GET / HTTP/1.1\r\n\r\n".utf8), [0x52, 0x4B, 1, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
                                 Array(repeating: 0x52, count: 100_000)] {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(cluster.raftPorts[1]!).bigEndian
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            _ = payload.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        #expect(waitFor(seconds: 5) { cluster.processes[1]!.log.contains("a connection to the raft port was refused") })
        #expect(try cluster.request(1, #"{"key":"still","value":"serving"}"#)["status"] == .string("ok"))
        #expect(try cluster.request(1, #"{"op":"get","key":"still","consistency":"linearizable"}"#)["value"] == .string("serving"))
    }
}
