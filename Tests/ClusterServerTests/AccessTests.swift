#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import JSONText
import KVClient
import KVWire
@testable import MemberNetwork
import NodeHosting
import RaftCore
import RaftWire
import RuntimeSupport
import SecureChannel
import Testing

/// A port nothing listens on right now (for configs that must name their addresses up front).
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

func temporaryDirectory(_ name: String) -> String {
    var template = Array("/tmp/raftkv-\(name)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// Three member runtimes in this test process talking real TCP (with a peer secret or TLS).
final class TCPMembers {
    let servers: [ClusterServer]
    let collector = LineCollector()
    let clientSecurity: ClientConnection.Security

    init(configure: (inout ServerConfig) -> Void) throws {
        let directory = temporaryDirectory("tcpmembers")
        var config = ServerConfig()
        config.fsync = false
        config.httpEnabled = false
        config.beatTimeMs = 20
        config.electionTimeoutMinMs = 100
        config.electionTimeoutMaxMs = 200
        config.tickMs = 5
        config.members = (0..<3).map { MemberConfig(id: $0, raft: "127.0.0.1:\(freePort())", client: "127.0.0.1:\(freePort())") }
        configure(&config)
        clientSecurity = ClientConnection.Security(caFile: config.security.tls?.ca, token: config.security.tokens.first?.token)
        var servers: [ClusterServer] = []
        for id in 0..<3 {
            var own = config
            own.dataDir = "\(directory)/\(id)"
            let collector = self.collector
            let events = EventLog(minimumLevel: .info, sink: { collector.append("[member \(id)] " + $0) })
            let server = try ClusterServer.member(config: own, id: id, events: events)
            try server.start()
            servers.append(server)
        }
        self.servers = servers
    }

    deinit { for server in servers { server.stop() } }

    func request(_ id: Int, _ line: String) throws -> JSONObject {
        let connection = try ClientConnection(host: "127.0.0.1", port: servers[id].port, security: clientSecurity)
        let answer = try #require(try connection.request(line))
        return try #require(try JSONParser.parse(answer).objectValue)
    }

    func awaitLeader() throws -> Int {
        var leader: Int?
        _ = try waitUntil(seconds: 10) {
            leader = try self.request(0, #"{"admin":"status"}"#)["leader"]?.intValue
            return leader != nil
        }
        return try #require(leader)
    }
}

@Suite(.serialized) struct AccessTests {
    static let tokens = [AccessToken(token: "admin-token-0001", role: .admin), AccessToken(token: "read-token-0001", role: .read),
                         AccessToken(token: "app-writer-0001", role: .write, prefix: "app/")]

    @Test func tokensDecideWhoMayDoWhatAndNeverShow() throws {
        let cluster = try TestCluster { $0.security.tokens = AccessTests.tokens }
        func ask(_ line: String) throws -> JSONObject { try cluster.request(line) }
        #expect(try ask(#"{"key":"a","value":"1"}"#)["code"] == .string("unauthorized"))
        #expect(try ask(#"{"key":"a","value":"1","token":"wrong-token-000"}"#)["code"] == .string("unauthorized"))
        #expect(try ask(#"{"key":"a","value":"1","token":"read-token-0001"}"#)["code"] == .string("forbidden"))
        #expect(try ask(#"{"key":"a","token":"read-token-0001"}"#)["code"] == .string("not_found"), "a read token reads")
        #expect(try ask(#"{"key":"app/x","value":"1","token":"app-writer-0001"}"#)["status"] == .string("ok"))
        #expect(try ask(#"{"key":"other","value":"1","token":"app-writer-0001"}"#)["code"] == .string("forbidden"))
        #expect(try ask(#"{"op":"range","token":"app-writer-0001"}"#)["code"] == .string("forbidden"), "every key is not inside app/")
        #expect(try ask(#"{"op":"range","prefix":"app/","token":"app-writer-0001"}"#)["status"] == .string("ok"))
        #expect(try ask(#"{"admin":"status","token":"app-writer-0001"}"#)["code"] == .string("forbidden"))
        let status = try ask(#"{"admin":"status","token":"admin-token-0001"}"#)
        #expect(status["status"] == .string("ok"))
        let everything = cluster.events.joined(separator: "\n") + "\(status)"
        for token in AccessTests.tokens { #expect(!everything.contains(token.token), "a token showed up") }
    }

    // A client with a token that writes several requests at once (KVBench's preload does) has
    // every one of them carry the token, not just the last.
    @Test func aBatchOfRequestLinesCarriesTheTokenOnEachLine() throws {
        let cluster = try TestCluster { $0.security.tokens = AccessTests.tokens }
        let connection = try ClientConnection(host: "127.0.0.1", port: cluster.port,
                                              security: ClientConnection.Security(token: "admin-token-0001"))
        #expect(try waitUntil(seconds: 10) {
            let status = try connection.request(#"{"admin":"status"}"#) ?? ""
            return status.contains(#""status":"ok""#) && !status.contains(#""leader":null"#)
        })
        try connection.send((0..<5).map { #"{"key":"batch\#($0)","value":"v"}"# }.joined(separator: "\n"))
        let answers = try (0..<5).map { _ in try #require(try connection.receiveLine()) }
        #expect(answers.allSatisfy { $0.contains(#""status":"ok""#) }, "\(answers)")
    }

    @Test func limitsAnswerInsteadOfGrowing() throws {
        let cluster = try TestCluster {
            $0.security.connectionsPerListener = 2
            $0.security.pendingPerConnection = 2
        }
        _ = try cluster.awaitLeader()
        // The connections used so far may still count for a moment after they closed (a loaded
        // machine): a refused one is tried again until both slots are ours.
        func accepted() throws -> ClientConnection {
            let deadline = monotonicSeconds() + 30
            while true {
                let connection = try cluster.connect()
                if let answer = try? connection.request(#"{"admin":"status"}"#), answer.contains(#""status":"ok""#) { return connection }
                if monotonicSeconds() > deadline { throw NoConnectionSlot() }
            }
        }
        let first = try accepted()
        let second = try accepted()
        _ = try first.request(#"{"admin":"pause"}"#)
        let third = try cluster.connect()
        let refused = try #require(try third.receiveLine())
        #expect(refused.contains(#""code":"unavailable""#) && refused.contains("connections"), "\(refused)")
        // Paused, writes wait: two may wait on one connection; the others are refused, not queued
        // (their answers come in request order, after the two).
        for number in 0..<4 { try second.send(#"{"key":"k\#(number)","value":"v","id":\#(number)}"#) }
        _ = try first.request(#"{"admin":"resume"}"#)
        let answers = try (0..<4).map { _ in try #require(try second.receiveLine()) }
        #expect(answers[0...1].allSatisfy { $0.contains(#""status":"ok""#) }, "\(answers)")
        #expect(answers[2...3].allSatisfy { $0.contains("more than 2 requests") && $0.contains(#""code":"unavailable""#) }, "\(answers)")
    }

    @Test func aHalfOpenTLSHandshakeIsDropped() throws {
        let certificates = temporaryDirectory("certs")
        _ = try CertificateMaker.writeCluster(directory: certificates, memberHosts: [["127.0.0.1"]])
        let cluster = try TestCluster {
            $0.security.tls = SecurityConfig.TLSFiles(cert: "\(certificates)/member{id}.pem", key: "\(certificates)/member{id}-key.pem",
                                                      ca: "\(certificates)/ca.pem")
            $0.security.handshakeTimeoutSeconds = 1
        }
        // A client that connects and never says anything (slow loris) is closed by the server.
        let idle = try ClientConnection(host: "127.0.0.1", port: cluster.port)
        let started = monotonicSeconds()
        #expect(try idle.receiveLine() == nil)
        #expect(monotonicSeconds() - started < 5)
    }

    @Test func membersWithAPeerSecretRefuseAForgedFrameWithAHigherTerm() throws {
        let members = try TCPMembers { $0.security.peerSecret = "a shared secret of 32 bytes!!!!" }
        _ = try members.awaitLeader()
        #expect(try members.request(1, #"{"key":"a","value":"1"}"#)["status"] == .string("ok"), "members with the secret talk")
        let term = try #require(try members.request(2, #"{"admin":"status"}"#)["nodes"]?.arrayValue?[2].objectValue?["term"]?.intValue)
        // A stranger dials node 2's raft port, claims to be node 0 and sends a vote request of term 99.
        let address = try #require(members.servers[2].config.member(2)?.raft)
        let raft = try #require(MemberAddresses.split(address))
        let stranger = try ClientConnection(host: raft.host, port: raft.port)
        var bytes = PeerFrame(kind: .hello, payload: Array("0".utf8)).encoded()
        let vote = Envelope(from: 0, to: 2, term: 99, message: .voteRequest(VoteRequest(preVote: false, lastLogIndex: 1000, lastLogTerm: 99)))
        bytes += PeerFrame(kind: .raft, payload: MessageCodec.encode([vote])).encoded()
        _ = bytes.withUnsafeBytes { send(stranger.socketDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(waitUntil(seconds: 30) { members.collector.lines.contains { $0.contains("[member 2]") && $0.contains("raft port was refused") } },
                "the refusal is logged")
        let after = try #require(try members.request(2, #"{"admin":"status"}"#)["nodes"]?.arrayValue?[2].objectValue?["term"]?.intValue)
        #expect(after == term, "the forged term did not move node 2 (\(term) → \(after))")
    }

    @Test func aFrameFromAnotherConnectionOrRepeatedIsRefused() throws {
        let secret = Array("a shared secret of 32 bytes!!!!".utf8)
        func connection() -> (PeerGuard, PeerGuard) {
            let nonce = SecureRandom.bytes(PeerGuard.nonceBytes)
            let (payload, expected, acceptorNonce) = PeerGuard.challenge(secret: secret, dialer: 0, acceptor: 1, dialerNonce: nonce)
            let (proof, dialer) = PeerGuard.answer(challenge: payload, secret: secret, dialer: 0, acceptor: 1, dialerNonce: nonce)!
            #expect(proof == expected)
            return (dialer, PeerGuard.acceptor(secret: secret, dialer: 0, acceptor: 1, dialerNonce: nonce, acceptorNonce: acceptorNonce))
        }
        func frame(_ sealed: [UInt8]) throws -> PeerFrame {
            var reader = PeerFrameReader(limit: 1 << 20)
            return try #require(try sealed.withUnsafeBytes { try reader.feed($0) }.first)
        }
        let (oldDialer, _) = connection()
        let (dialer, acceptor) = connection()
        let message = PeerFrame(kind: .status, payload: Array("{}".utf8)).encoded()
        let sealed = try frame(dialer.seal(message))
        #expect(acceptor.open(sealed)?.payload == Array("{}".utf8))
        #expect(acceptor.open(sealed) == nil, "the same frame again is a replay")
        #expect(acceptor.open(try frame(oldDialer.seal(message))) == nil, "a frame of another connection")
        let wrongSecret = PeerGuard.answer(challenge: PeerGuard.challenge(secret: Array("another secret of enough bytes".utf8), dialer: 0,
                                                                          acceptor: 1, dialerNonce: [UInt8](repeating: 1, count: 16)).payload,
                                           secret: secret, dialer: 0, acceptor: 1, dialerNonce: [UInt8](repeating: 1, count: 16))
        #expect(wrongSecret == nil, "a challenge made with another secret proves nothing")
    }

    @Test func membersOverMutualTLSServeAndAStrangersCertificateIsRefused() throws {
        let certificates = temporaryDirectory("member-certs")
        _ = try CertificateMaker.writeCluster(directory: certificates, memberHosts: [["127.0.0.1"], ["127.0.0.1"], ["127.0.0.1"]])
        let tls = SecurityConfig.TLSFiles(cert: "\(certificates)/member{id}.pem", key: "\(certificates)/member{id}-key.pem",
                                          ca: "\(certificates)/ca.pem")
        let members = try TCPMembers { $0.security.tls = tls }
        let leader = try members.awaitLeader()
        let follower = (leader + 1) % 3
        // The client port speaks TLS too: a plain client gets nothing back.
        let plain = try ClientConnection(host: "127.0.0.1", port: members.servers[follower].port)
        try plain.send(#"{"key":"x"}"#)
        #expect(try plain.receiveLine() == nil)
        // A member certificate from another CA cannot join the conversation.
        let otherCA = temporaryDirectory("other-ca")
        _ = try CertificateMaker.writeCluster(directory: otherCA, memberHosts: [["127.0.0.1"]])
        let impostor = try PeerTLS(certificateFile: "\(otherCA)/member0.pem", privateKeyFile: "\(otherCA)/member0-key.pem",
                                   caFile: "\(otherCA)/ca.pem")
        let session = try impostor.dialing(0, host: "127.0.0.1")
        let address = try #require(members.servers[2].config.member(2)?.raft)
        let raft = try #require(MemberAddresses.split(address))
        let socket = try ClientConnection(host: raft.host, port: raft.port)
        var output = OutputBufferCollector()
        session.drainCiphertext { output.bytes.append(contentsOf: $0) }
        _ = output.bytes.withUnsafeBytes { send(socket.socketDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // The impostor never finishes its handshake, so the member refuses it at the latest when the
        // handshake times out; a generous deadline for a loaded machine.
        #expect(waitUntil(seconds: 30) { members.collector.lines.contains { $0.contains("[member 2]") && $0.contains("raft port was refused") } })
    }
}

/// Bytes gathered from a TLS session.
struct OutputBufferCollector {
    var bytes: [UInt8] = []
}

struct NoConnectionSlot: Error {}
