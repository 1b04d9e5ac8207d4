import Dispatch
import KVWire
import RaftCore
import RaftStorage

/// The whole server: N node hosts, the registry between them, the router and admin handler,
/// and the proxy clients connect to. `start()` replays every node from its files and listens;
/// `stop()` stops accepting, lets in-flight requests finish, then closes every node's files.
public final class ClusterServer: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case dataDirectory(StorageError)
        case proxy(Proxy.StartError)

        public var description: String {
            switch self {
            case .dataDirectory(let error): return "cannot prepare the data directory: \(error)"
            case .proxy(let error): return "\(error)"
            }
        }
    }

    public let config: ServerConfig
    public let registry: ClusterRegistry
    public let events: EventLog
    public let metrics: ServerMetrics
    public let router: RequestRouter
    public let proxy: Proxy
    let storage: NodeStorage

    /// `storage` defaults to the files under `config.dataDir`.
    public init(config: ServerConfig, storage: NodeStorage? = nil, events: EventLog = EventLog()) {
        self.config = config
        self.events = events
        let storage = storage ?? FileNodeStorage(directory: config.dataDirectory, fsync: config.fsync)
        self.storage = storage
        let hosts = (0..<config.nodes).map { id in
            NodeHost(id: id, clusterSize: config.nodes, raftConfig: config.raftConfig, tickMs: config.effectiveTickMs,
                     storage: storage, events: events, seed: config.seed, snapshotEveryEntries: config.snapshotEveryEntries)
        }
        let registry = ClusterRegistry(clusterSize: config.nodes, hosts: hosts)
        self.registry = registry
        let metrics = ServerMetrics()
        self.metrics = metrics
        let admin = AdminHandler(registry: registry, enabled: config.adminEnabled, events: events, metrics: metrics)
        self.router = RequestRouter(registry: registry, requestTimeoutMs: config.requestTimeoutMs, admin: admin, metrics: metrics)
        self.proxy = Proxy(host: config.proxyHost, port: config.proxyPort, limits: config.limits,
                           idleTimeoutSeconds: config.idleTimeoutSeconds, router: router, metrics: metrics,
                           events: events, ioQueueCount: 4)
    }

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
        let group = DispatchGroup()
        for host in registry.allHosts {
            group.enter()
            host.restart { _ in group.leave() }
        }
        group.wait()
        let timing = config.raftConfig
        events.log("cluster of \(config.nodes) node\(config.nodes == 1 ? "" : "s"), data in \(config.dataDir)/, fsync \(config.fsync ? "on" : "off"); tick \(config.effectiveTickMs) ms, heartbeat every \(timing.heartbeatTicks) ticks, election timeout \(timing.electionTicksMin)-\(timing.electionTicksMax) ticks")
        events.log("listening on \(config.proxyHost):\(proxy.port)")
    }

    /// Clean shutdown: stop accepting, answer or fail what is in flight (waiting at most
    /// `requestTimeoutMs` plus a second), then close every node's files.
    public func stop() {
        events.log("shutting down: no new connections; finishing requests in flight")
        proxy.stopAccepting()
        let deadline = MonotonicClock.now() + UInt64(config.requestTimeoutMs + 1000) * 1_000_000
        while proxy.openConnections > 0 && MonotonicClock.now() < deadline {
            usleepMilliseconds(10)
        }
        proxy.closeAll()
        for host in registry.allHosts { host.shutdown() }
        events.log("stopped: every node's log and meta files are synced and closed")
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
