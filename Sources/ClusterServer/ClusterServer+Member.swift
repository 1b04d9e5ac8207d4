#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientFront
import KVClient
import ClusterTransport
import Dispatch
import JSONText
import KVWire
import MemberNetwork
import NetworkIO
import NodeHosting
import RaftCore
import RuntimeSupport
import SecureChannel

extension ClusterServer {
    /// Why a member cannot be set up from the config.
    public struct MemberSetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// One node per process: a server that runs node `id` alone (`ServerMain --config FILE
    /// --node N [--join H:P]`). Its raft, client and HTTP addresses come from the config's
    /// `members` entry for `id`. A `joining` node is not one of the founders: it knows no
    /// configuration until the leader sends it one (after `add`). `transport` defaults to TCP on
    /// the member's raft address (tests pass an `InMemoryTransport`); `storage` to its files.
    public static func member(config: ServerConfig, id: NodeID, joining: Bool = false, events: EventLog = EventLog(),
                              transport: Transport? = nil, storage: NodeStorage? = nil) throws(MemberSetupError) -> ClusterServer {
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
        var addresses: [NodeID: MemberAddresses] = [:]
        for member in config.members {
            addresses[member.id] = MemberAddresses(raft: member.raft, client: member.client, http: member.http)
        }
        let registry = ClusterRegistry(addresses: addresses)
        let security = Result { () throws(TLSError) in try ServerSecurity(config.security, member: id) }
        let usable = try? security.get()
        let transport = transport ?? TCPTransport(localID: id, listenAddress: raft, events: events, lineBytes: config.limits.lineBytes,
                                                  secret: config.security.peerSecret, security: usable?.peerTLS,
                                                  addressOf: { [weak registry] node in registry?.addresses(of: node)?.raft })
        let switchboard = Switchboard(transport: transport, localHosts: { [weak registry] node in registry?.host(node) })
        let services = MemberServices(localID: id, transport: transport, registry: registry, switchboard: switchboard,
                                      events: events, requestTimeoutMs: config.requestTimeoutMs)
        let storage = storage ?? FileNodeStorage(directory: memberConfig.dataDirectory, fsync: memberConfig.fsync)
        let runtime = MemberRuntime(id: id, config: memberConfig, storage: storage, events: events, registry: registry,
                                    switchboard: switchboard, services: services, joining: joining)
        let server = ClusterServer(config: memberConfig, storage: storage, events: events, registry: registry,
                                   switchboard: switchboard, forwarder: services, runtime: runtime, security: security)
        services.attach(router: server.router)
        return server
    }

    /// Asks the member at `address` (its client port) to add this member's node `memberID`,
    /// retrying until it is a voter, the answer is a refusal that retrying cannot fix, or
    /// `attempts` run out.
    public func join(via address: String, as memberID: NodeID, attempts: Int = 120) {
        let entry = config.member(memberID) ?? MemberConfig(id: memberID)
        guard let target = MemberAddresses.split(address) else {
            events.log(.error, "--join \(address): not a host:port address")
            return
        }
        var request = JSONObjectWriter()
        request.member("admin", string: "add")
        request.member("node", int: memberID)
        if let raft = entry.raft { request.member("raft", string: raft) }
        request.member("client", string: "\(config.proxyHost):\(port)")
        if let http = entry.http { request.member("http", string: http) }
        let line = request.finished()
        let events = self.events
        DispatchQueue(label: "raft.join").async {
            for attempt in 1...attempts {
                if let answer = self.exchange(line, host: target.host, port: target.port) {
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

    /// One request line, one answer line, on a fresh connection (nil: no answer) — over TLS and
    /// with an admin token when the cluster is set up so.
    func exchange(_ line: String, host: String, port: Int) -> String? {
        let security = ClientConnection.Security(caFile: config.security.tls?.forMember(0).ca,
                                                 token: config.security.tokens.first { $0.role == .admin }?.token)
        guard let connection = try? ClientConnection(host: host, port: port, security: security) else { return nil }
        return try? connection.request(line)
    }
}

/// The composition root of one node per process: this runtime hosts node `id` alone; its peers
/// are reached through `MemberServices` over the runtime's transport, which also carries the
/// requests this member cannot serve. Pause and step are not offered (they need every node's
/// timer in one place).
final class MemberRuntime: Runtime, @unchecked Sendable {
    let id: NodeID
    let config: ServerConfig
    let storage: NodeStorage
    let events: EventLog
    let registry: ClusterRegistry
    let switchboard: Switchboard
    let services: MemberServices
    let settings: NodeSettings

    init(id: NodeID, config: ServerConfig, storage: NodeStorage, events: EventLog, registry: ClusterRegistry,
         switchboard: Switchboard, services: MemberServices, joining: Bool) {
        self.id = id
        self.config = config
        self.storage = storage
        self.events = events
        self.registry = registry
        self.switchboard = switchboard
        self.services = services
        // A joining node learns the configuration from the leader.
        self.settings = config.nodeSettings(bootstrap: joining ? .empty : config.memberBootstrap)
    }

    var shape: String { "member node \(id) of \(config.members.count) configured members" }
    let modeName = "one node per process"
    var pauseAndStepRefusal: String? {
        "pause and step work when every node runs in one process; this member runs node \(id) alone"
    }

    func startTransport() throws(TransportError) {
        try services.start()
    }

    func startNodes() {
        var settings = self.settings
        if !settings.bootstrap.contains(id) { settings.bootstrap = .empty }
        let host = NodeHost(id: id, settings: settings, storage: storage, events: events, registry: registry, outlet: switchboard)
        registry.add(host)
        let started = DispatchSemaphore(value: 0)
        host.restart { _ in started.signal() }
        started.wait()
    }

    func stop() {
        services.stop()
    }

    func refusalToAdd(_ node: NodeID, addresses: MemberAddressFields) -> String? {
        addresses.raft == nil ? "a new member needs its \"raft\" address (and \"client\", \"http\" to be reachable)" : nil
    }

    func willAdd(_ node: NodeID) {}
    func finishedAdding(_ node: NodeID, succeeded: Bool) {}
    func removed(_ node: NodeID) {}

    func broadcast(_ request: AdminRequest) {
        services.broadcast(request)
    }
}
