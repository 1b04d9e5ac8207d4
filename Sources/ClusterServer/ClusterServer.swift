import Dispatch
import HTTPServer
import NetworkIO
import KVWire
import RaftCore
import RaftEngine
import RaftStorage
import Synchronization

/// The whole server of one process: its node hosts, the registry and switchboard between them,
/// the router and admin handler, and the proxy clients connect to.
///
/// With every node in one process (the default), it hosts the configuration's members and keeps
/// that set in line with the configuration: `add` creates a node, a committed removal stops one.
/// With one node per process (`memberID`), it hosts that node alone; the TCP peer transport
/// carries Raft messages to the other members, and requests it cannot serve are forwarded.
public final class ClusterServer: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case dataDirectory(StorageError)
        case proxy(Proxy.StartError)
        case peers(String)
        case http(Sockets.Failure)

        public var description: String {
            switch self {
            case .dataDirectory(let error): return "cannot prepare the data directory: \(error)"
            case .proxy(let error): return "\(error)"
            case .peers(let reason): return reason
            case .http(let failure): return "\(failure)"
            }
        }
    }

    public let config: ServerConfig
    /// The node this process runs alone (one node per process); nil: every node, here.
    public let memberID: NodeID?
    public let registry: ClusterRegistry
    public let switchboard: Switchboard
    public let events: EventLog
    public let metrics: ServerMetrics
    public let router: RequestRouter
    public let proxy: Proxy
    /// The HTTP API and web page (nil when `http.enabled` is false), and what feeds the page.
    public let http: HTTPListener?
    let feed = ConsoleFeed()
    let storage: NodeStorage
    let settings: NodeSettings
    let faultBroadcaster: FaultBroadcaster?
    /// Nodes being added here, kept until their `add` completes or fails.
    private let adding = Mutex<Set<NodeID>>([])
    private let reconciler = Mutex<DispatchSourceBox?>(nil)

    /// `storage` defaults to the files under `config.dataDir`.
    public convenience init(config: ServerConfig, storage: NodeStorage? = nil, events: EventLog = EventLog()) {
        self.init(config: config, storage: storage, events: events, memberID: nil, peers: nil)
    }

    init(config: ServerConfig, storage: NodeStorage?, events: EventLog, memberID: NodeID?, peers: PeerNetwork?,
         joining: Bool = false) {
        self.config = config
        self.memberID = memberID
        self.events = events
        let storage = storage ?? FileNodeStorage(directory: config.dataDirectory, fsync: config.fsync)
        self.storage = storage
        var addresses: [NodeID: MemberAddresses] = [:]
        for member in config.members {
            addresses[member.id] = MemberAddresses(raft: member.raft, client: member.client, http: member.http)
        }
        let registry = ClusterRegistry(addresses: addresses)
        self.registry = registry
        self.switchboard = Switchboard(localHosts: { [weak registry] id in registry?.host(id) })
        let metrics = ServerMetrics()
        self.metrics = metrics
        var settings = config.nodeSettings(memberID: memberID)
        if joining { settings.bootstrap = .empty }  // it learns the configuration from the leader
        self.settings = settings
        self.faultBroadcaster = peers
        self.router = RequestRouter(registry: registry, requestTimeoutMs: config.requestTimeoutMs, metrics: metrics,
                                    clock: PauseClock(), forwarder: peers, unsafeLocalReads: config.unsafeLocalReads)
        self.proxy = Proxy(host: config.proxyHost, port: config.proxyPort, limits: config.limits,
                           idleTimeoutSeconds: config.idleTimeoutSeconds, router: router, metrics: metrics,
                           events: events, ioQueueCount: 4)
        if config.httpEnabled {
            let api = HTTPAPI(router: router, limits: config.limits, feed: feed,
                              metricsReport: MetricsReport(registry: registry, server: metrics), adminEnabled: config.adminEnabled)
            http = HTTPListener(host: config.httpHost, port: config.httpPort, handler: api, bodyLimit: config.limits.lineBytes,
                                idleSeconds: max(1, min(config.idleTimeoutSeconds, 300)),
                                partialRequestSeconds: config.httpRequestTimeoutSeconds,
                                errorBody: { status, message in
                                    let code: ErrorCode = status == 413 || status == 431 ? .tooLarge : .badRequest
                                    return ClientResponse.error(RequestError(code, message), id: nil)
                                })
        } else {
            http = nil
        }
        router.attach(admin: AdminHandler(server: self))
        feed.attach(self)
        if let peers { switchboard.attach(remote: peers) }
    }

    /// The HTTP port actually bound (nil when HTTP is off).
    public var httpPort: Int? { http?.port }

    /// The proxy's bound port.
    public var port: Int { proxy.port }

    public func start() throws(StartError) {
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
        if let peerNetwork {
            do {
                try peerNetwork.start()
            } catch {
                throw .peers("cannot listen for peers on \(peerNetwork.listenAddress): \(error)")
            }
        }
        if config.unsafeLocalReads {
            events.log(.warning, "UNSAFE: unsafeLocalReads is on — a node that believes it leads answers linearizable reads from its own state without asking a quorum, and leaders never step down on their own. Stale reads WILL happen under partitions. For experiments only.")
        }
        let initial = memberID.map { [$0] } ?? Array(0..<config.nodes)
        let group = DispatchGroup()
        for id in initial {
            group.enter()
            makeHost(id).restart { _ in group.leave() }
        }
        group.wait()
        let timing = config.raftConfig
        let shape = memberID.map { "member node \($0) of \(config.members.count) configured members" }
            ?? "cluster of \(config.nodes) node\(config.nodes == 1 ? "" : "s")"
        events.log("\(shape), data in \(config.dataDir)/, fsync \(config.fsync ? "on" : "off"); tick \(config.effectiveTickMs) ms, heartbeat every \(timing.heartbeatTicks) ticks, election timeout \(timing.electionTicksMin)-\(timing.electionTicksMax) ticks")
        events.log("listening on \(config.proxyHost):\(proxy.port)")
        if let http { events.log("HTTP API and live view on http://\(config.httpHost):\(http.port)/") }
        if memberID == nil { startReconciling() }
    }

    /// Clean shutdown: stop accepting, answer or fail what is in flight (waiting at most
    /// `requestTimeoutMs` plus a second), then close every node's files.
    public func stop() {
        events.log("shutting down: no new connections; finishing requests in flight")
        reconciler.withLock { $0?.source.cancel() }
        proxy.stopAccepting()
        http?.stop()
        peerNetwork?.stop()
        let deadline = MonotonicClock.now() + UInt64(config.requestTimeoutMs + 1000) * 1_000_000
        while proxy.openConnections > 0 && MonotonicClock.now() < deadline {
            usleepMilliseconds(10)
        }
        proxy.closeAll()
        for host in registry.localHosts { host.shutdown() }
        events.log("stopped: every node's log and meta files are synced and closed")
    }

    // MARK: - Nodes of this process

    private func makeHost(_ id: NodeID) -> NodeHost {
        var settings = self.settings
        if !settings.bootstrap.contains(id) { settings.bootstrap = .empty }  // a node joining later learns it from the leader
        let host = NodeHost(id: id, settings: settings, storage: storage, events: events)
        host.registry = registry
        host.switchboard = switchboard
        host.ticking = !switchboard.isPaused
        host.tickScale = router.slowMotion.load(ordering: .relaxed)
        registry.add(host)
        return host
    }

    /// Creates and starts node `id` here when it is not running yet (one process). With
    /// `adding`, the node is kept even though no configuration names it yet.
    func ensureLocalNode(_ id: NodeID, adding isBeingAdded: Bool) {
        if isBeingAdded { adding.withLock { _ = $0.insert(id) } }
        guard registry.host(id) == nil else { return }
        events.log(node: id, isBeingAdded ? "created in this process to join the cluster" : "a member of the configuration: starting it here")
        makeHost(id).restart()
    }

    /// The `add` of `id` ended; a node that did not make it into the configuration goes away.
    func finishAdding(_ id: NodeID, succeeded: Bool) {
        adding.withLock { _ = $0.remove(id) }
        if !succeeded, let current = registry.configuration, !current.configuration.contains(id) {
            forgetLocalNode(id)
        }
    }

    /// Stops node `id` and forgets it (it left the configuration). Its files stay on disk.
    func forgetLocalNode(_ id: NodeID) {
        guard let host = registry.host(id) else { return }
        host.shutdown()
        registry.removeHost(id)
        events.log(node: id, "not a member any more: stopped; its files stay in \(config.dataDir)/")
    }

    /// Keeps this process's nodes in line with the committed configuration (one process).
    private func startReconciling() {
        let timer = DispatchSource.makeTimerSource(queue: router.retryQueue)
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
        timer.setEventHandler { [weak self] in self?.reconcile() }
        reconciler.withLock { $0 = DispatchSourceBox(timer) }
        timer.resume()
    }

    private func reconcile() {
        guard let current = registry.configuration, current.committed else { return }
        for id in current.configuration.ids where id <= ClusterRegistry.maxNodeID && registry.host(id) == nil {
            ensureLocalNode(id, adding: false)
        }
        let protected = adding.withLock { $0 }
        for id in registry.localIDs where !current.configuration.contains(id) && !protected.contains(id) {
            forgetLocalNode(id)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func usleepMilliseconds(_ milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}
