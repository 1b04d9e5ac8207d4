import ClientEdge
import ClientFront
import ClusterTransport
import Dispatch
import GuidedScenarios
import HTTPServer
import KVWire
import NetworkIO
import NodeHosting
import Observability
import RaftCore
import RaftStorage
import RuntimeSupport
import SecureChannel

/// A whole server of one process: the nodes it hosts, the switchboard and transport between
/// them and the other runtimes, the router, admin handler, line proxy, HTTP API and the page's
/// feed. The parts are the same for every runtime; what differs is wired by the two composition
/// roots — `ClusterServer(config:)` (every node in this process, `InProcessRuntime`) and
/// `ClusterServer.member(...)` (one node per process, `MemberRuntime`) — and nowhere else.
public final class ClusterServer: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case dataDirectory(StorageError)
        case proxy(Proxy.StartError)
        case peers(String)
        case http(Sockets.Failure)
        case security(String)

        public var description: String {
            switch self {
            case .dataDirectory(let error): return "cannot prepare the data directory: \(error)"
            case .proxy(let error): return "\(error)"
            case .peers(let reason): return reason
            case .http(let failure): return "\(failure)"
            case .security(let reason): return reason
            }
        }
    }

    public let config: ServerConfig
    public let registry: ClusterRegistry
    public let switchboard: Switchboard
    public let events: EventLog
    public let metrics: ServerMetrics
    public let router: RequestRouter
    public let admin: AdminHandler
    public let proxy: Proxy
    /// The HTTP API and web page (nil when `http.enabled` is false), and what feeds the page.
    public let http: HTTPListener?
    let feed: ConsoleFeed
    let storage: NodeStorage
    let runtime: Runtime
    /// Why the security settings cannot be used (the server then refuses to start).
    let securityProblem: String?

    /// The parts every runtime has, around the runtime-specific ones the roots made.
    init(config: ServerConfig, storage: NodeStorage, events: EventLog, registry: ClusterRegistry, switchboard: Switchboard,
         forwarder: RequestForwarder?, runtime: Runtime, security: Result<ServerSecurity, TLSError>) {
        let usable = (try? security.get()) ?? ServerSecurity()
        if case .failure(let error) = security { securityProblem = "TLS: \(error.message)" } else { securityProblem = nil }
        self.config = config
        self.storage = storage
        self.events = events
        self.registry = registry
        self.switchboard = switchboard
        self.runtime = runtime
        let metrics = ServerMetrics()
        self.metrics = metrics
        let router = RequestRouter(registry: registry, requestTimeoutMs: config.requestTimeoutMs, metrics: metrics,
                                   clock: PauseClock(), forwarder: forwarder, unsafeLocalReads: config.unsafeLocalReads)
        self.router = router
        let report = MetricsReport(registry: registry, server: metrics)
        let admin = AdminHandler(registry: registry, switchboard: switchboard, router: router, events: events,
                                 metricsReport: report,
                                 settings: AdminSettings(enabled: config.adminEnabled, requestTimeoutMs: config.requestTimeoutMs,
                                                         tickMs: config.effectiveTickMs),
                                 runtime: runtime)
        self.admin = admin
        router.attach(admin: admin)
        admin.attach(scenarios: GuidedScenarioRunner())
        let reads = ReadBatcher(router: router)
        self.proxy = Proxy(host: config.proxyHost, port: config.proxyPort, limits: config.limits,
                           idleTimeoutSeconds: config.idleTimeoutSeconds, router: router, metrics: metrics,
                           events: events, ioQueueCount: 4, reads: reads, authorizer: usable.authorizer,
                           pendingLimit: config.security.pendingPerConnection, connectionLimit: config.security.connectionsPerListener,
                           security: usable.connectionFactory, handshakeTimeoutSeconds: config.security.handshakeTimeoutSeconds)
        let feed = ConsoleFeed(events: events, registry: registry, switchboard: switchboard) { [weak admin] in
            guard let admin else { return [] }
            return admin.statusMembers() + [("members", admin.membersJSON())]
        }
        self.feed = feed
        if config.httpEnabled {
            let api = HTTPAPI(router: router, limits: config.limits, feed: feed, metricsReport: report,
                              adminEnabled: config.adminEnabled, reads: reads, authorizer: usable.authorizer)
            http = HTTPListener(host: config.httpHost, port: config.httpPort, handler: api, bodyLimit: config.limits.lineBytes,
                                idleSeconds: max(1, min(config.idleTimeoutSeconds, 300)),
                                partialRequestSeconds: config.httpRequestTimeoutSeconds, security: usable.connectionFactory,
                                handshakeSeconds: config.security.handshakeTimeoutSeconds,
                                connectionLimit: config.security.connectionsPerListener,
                                errorBody: { status, message in
                                    let code: ErrorCode = status == 413 || status == 431 ? .tooLarge : .badRequest
                                    return ClientResponse.error(RequestError(code, message), id: nil)
                                })
        } else {
            http = nil
        }
    }

    /// The HTTP port actually bound (nil when HTTP is off).
    public var httpPort: Int? { http?.port }

    /// The proxy's bound port.
    public var port: Int { proxy.port }

    public func start() throws(StartError) {
        if let securityProblem { throw .security(securityProblem) }
        if storage is FileNodeStorage {
            do {
                try config.dataDirectory.create()
            } catch {
                throw .dataDirectory(error)
            }
        }
        do {
            try proxy.start()
        } catch {
            throw .proxy(error)
        }
        if let http {
            do {
                try http.start()
            } catch {
                proxy.stopAccepting()
                throw .http(error)
            }
        }
        do {
            try runtime.startTransport()
        } catch {
            proxy.stopAccepting()
            http?.stop()
            throw .peers(error.description)
        }
        if config.unsafeLocalReads {
            events.log(.warning, "UNSAFE: unsafeLocalReads is on — a node that believes it leads answers linearizable reads from its own state without asking a quorum, and leaders never step down on their own. Stale reads WILL happen under partitions. For experiments only.")
        }
        runtime.startNodes()
        let timing = config.raftConfig
        events.log("\(runtime.shape), data in \(config.dataDir)/, fsync \(config.fsync ? "on" : "off"); tick \(config.effectiveTickMs) ms, heartbeat every \(timing.heartbeatTicks) ticks, election timeout \(timing.electionTicksMin)-\(timing.electionTicksMax) ticks")
        events.log("listening on \(config.proxyHost):\(proxy.port)")
        let secure = config.security.tls != nil
        if let http { events.log("HTTP API and live view on http\(secure ? "s" : "")://\(config.httpHost):\(http.port)/") }
        if secure { events.log("TLS on the client, HTTP and raft ports") }
        if !config.security.tokens.isEmpty { events.log("\(config.security.tokens.count) token(s) configured: every request needs one") }
    }

    /// Clean shutdown: stop accepting, answer or fail what is in flight (waiting at most
    /// `requestTimeoutMs` plus a second), then close every node's files.
    public func stop() {
        events.log("shutting down: no new connections; finishing requests in flight")
        proxy.stopAccepting()
        http?.stop()
        let deadline = MonotonicClock.now() + UInt64(config.requestTimeoutMs + 1000) * 1_000_000
        while proxy.openConnections > 0 && MonotonicClock.now() < deadline {
            usleepMilliseconds(10)
        }
        runtime.stop()
        proxy.closeAll()
        for host in registry.localHosts { host.shutdown() }
        events.log("stopped: every node's log and meta files are synced and closed")
    }
}

/// What a composition root supplies beyond `RuntimeControl`: how its transport starts, which
/// nodes it runs, and how it stops.
protocol Runtime: RuntimeControl {
    /// "cluster of 3 nodes", "member node 1 of 3 configured members".
    var shape: String { get }
    func startTransport() throws(TransportError)
    /// Starts this runtime's nodes from their files and waits until each has started (or failed).
    func startNodes()
    func stop()
}
