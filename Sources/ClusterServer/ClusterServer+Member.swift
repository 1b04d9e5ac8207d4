#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import JSONText
import KVWire
import RaftCore

/// One node per process: `ServerMain --config FILE --node N [--join H:P]`.
extension ClusterServer {
    /// Why a member cannot be set up from the config.
    public struct MemberSetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A server that runs node `id` alone. Its raft, client and HTTP addresses come from the
    /// config's `members` entry for `id`. A `joining` node is not one of the founders: it knows
    /// no configuration until the leader sends it one (after `add`).
    public static func member(config: ServerConfig, id: NodeID, joining: Bool = false,
                              events: EventLog = EventLog()) throws(MemberSetupError) -> ClusterServer {
        guard let entry = config.member(id) else {
            throw MemberSetupError(description: "node \(id) is not in \"members\"; give it an entry with its raft and client addresses")
        }
        guard let raft = entry.raft else {
            throw MemberSetupError(description: "members entry of node \(id) has no \"raft\" address")
        }
        var memberConfig = config
        if let client = entry.client, let split = MemberAddresses.split(client) {
            memberConfig.proxyHost = split.host
            memberConfig.proxyPort = split.port
        }
        if let http = entry.http, let split = MemberAddresses.split(http) {
            memberConfig.httpHost = split.host
            memberConfig.httpPort = split.port
        }
        let peers = PeerNetwork(localID: id, listenAddress: raft, events: events, lineBytes: config.limits.lineBytes)
        let server = ClusterServer(config: memberConfig, storage: nil, events: events, memberID: id, peers: peers, joining: joining)
        peers.attach(registry: server.registry, switchboard: server.switchboard, router: server.router,
                     requestTimeoutMs: config.requestTimeoutMs)
        return server
    }

    var peerNetwork: PeerNetwork? { faultBroadcaster as? PeerNetwork }

    /// Asks the member at `address` (its client port) to add this node, retrying until it is a
    /// voter, the answer is a refusal that retrying cannot fix, or `attempts` run out.
    public func join(via address: String, attempts: Int = 120) {
        guard let memberID, let entry = config.member(memberID) ?? Optional(MemberConfig(id: memberID)) else { return }
        guard let target = MemberAddresses.split(address) else {
            events.log(.error, "--join \(address): not a host:port address")
            return
        }
        let raft = entry.raft ?? config.member(memberID)?.raft
        var request = JSONObjectWriter()
        request.member("admin", string: "add")
        request.member("node", int: memberID)
        if let raft { request.member("raft", string: raft) }
        request.member("client", string: "\(config.proxyHost):\(port)")
        if let http = entry.http { request.member("http", string: http) }
        let line = request.finished()
        let events = self.events
        DispatchQueue(label: "raft.join").async {
            for attempt in 1...attempts {
                if let answer = Self.exchange(line, host: target.host, port: target.port) {
                    if answer.contains("\"status\":\"ok\"") {
                        events.log("joined the cluster through \(address): node \(memberID) is a voter")
                        return
                    }
                    let retryable = answer.contains("\"busy\"") || answer.contains("\"unavailable\"") || answer.contains("\"timeout\"")
                    if !retryable {
                        events.log(.error, "joining through \(address) was refused: \(answer)")
                        return
                    }
                    if attempt == 1 || attempt % 10 == 0 { events.log("joining through \(address): \(answer); trying again") }
                } else if attempt == 1 || attempt % 10 == 0 {
                    events.log(.warning, "joining: cannot reach \(address) yet; trying again")
                }
                usleep(1_000_000)
            }
            events.log(.error, "gave up joining through \(address) after \(attempts) attempts")
        }
    }

    /// One request line, one answer line, on a fresh blocking connection (nil: no answer).
    static func exchange(_ line: String, host: String, port: Int) -> String? {
        guard let fd = try? Sockets.startConnect(host: host, port: port) else { return nil }
        defer { Glibc.close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var pollFD = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pollFD, 1, 3000) == 1, Sockets.connectError(fd) == 0 else { return nil }
        var bytes = Array((line + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return nil }
            sent += count
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 90, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while !answer.contains(0x0A) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            answer.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: answer.prefix { $0 != 0x0A }, as: UTF8.self)
    }
}

