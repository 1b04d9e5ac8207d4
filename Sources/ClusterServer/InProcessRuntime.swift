import ClientFront
import ClusterTransport
import Dispatch
import KVWire
import NodeHosting
import RaftCore
import RuntimeSupport
import SecureChannel
import Synchronization

extension ClusterServer {
    /// The one-process cluster (the default): every node of the configuration runs here, on its
    /// own queue, and messages between them go through an `InProcessTransport`. `storage`
    /// defaults to the files under `config.dataDir`.
    public convenience init(config: ServerConfig, storage: NodeStorage? = nil, events: EventLog = EventLog()) {
        let storage = storage ?? FileNodeStorage(directory: config.dataDirectory, fsync: config.fsync)
        let registry = ClusterRegistry()
        let transport = InProcessTransport()
        let switchboard = Switchboard(transport: transport, localHosts: { [weak registry] id in registry?.host(id) })
        let runtime = InProcessRuntime(config: config, storage: storage, events: events, registry: registry,
                                       switchboard: switchboard, transport: transport)
        let security = Result { () throws(TLSError) in try ServerSecurity(config.security, member: 0) }
        self.init(config: config, storage: storage, events: events, registry: registry, switchboard: switchboard,
                  forwarder: nil, runtime: runtime, security: security)
        runtime.attach(router: router)
    }
}

/// The composition root of the one-process cluster: it hosts the configuration's members and
/// keeps that set in line with the configuration — `add` creates a node here, a committed removal
/// stops one — and offers pause and step.
final class InProcessRuntime: Runtime, TransportReceiver, @unchecked Sendable {
    let config: ServerConfig
    let storage: NodeStorage
    let events: EventLog
    let registry: ClusterRegistry
    let switchboard: Switchboard
    let transport: InProcessTransport
    let settings: NodeSettings
    private let router = Mutex<RequestRouter?>(nil)
    /// Nodes being added here, kept until their `add` completes or fails.
    private let adding = Mutex<Set<NodeID>>([])
    private let reconciler = Mutex<DispatchSourceBox?>(nil)

    init(config: ServerConfig, storage: NodeStorage, events: EventLog, registry: ClusterRegistry, switchboard: Switchboard,
         transport: InProcessTransport) {
        self.config = config
        self.storage = storage
        self.events = events
        self.registry = registry
        self.switchboard = switchboard
        self.transport = transport
        self.settings = config.nodeSettings(bootstrap: .voters(Array(0..<config.nodes)))
    }

    func attach(router: RequestRouter) {
        self.router.withLock { $0 = router }
    }

    var shape: String { "cluster of \(config.nodes) node\(config.nodes == 1 ? "" : "s")" }
    let modeName = "one process"
    let pauseAndStepRefusal: String? = nil

    func startTransport() throws(TransportError) {
        try transport.start(receiver: self)
    }

    func startNodes() {
        let group = DispatchGroup()
        for id in 0..<config.nodes {
            group.enter()
            makeHost(id).restart { _ in group.leave() }
        }
        group.wait()
        startReconciling()
    }

    func stop() {
        reconciler.withLock { $0?.source.cancel() }
        transport.stop()
    }

    // MARK: - TransportReceiver

    func received(_ message: PeerMessage, from node: NodeID) {
        if case .raft(let envelopes) = message { switchboard.receive(envelopes) }
    }

    func linkLost(to node: NodeID) {}

    // MARK: - RuntimeControl

    func refusalToAdd(_ node: NodeID, addresses: MemberAddressFields) -> String? { nil }

    func willAdd(_ node: NodeID) {
        ensureLocalNode(node, adding: true)
    }

    func finishedAdding(_ node: NodeID, succeeded: Bool) {
        adding.withLock { _ = $0.remove(node) }
        if !succeeded, let current = registry.configuration, !current.configuration.contains(node) {
            forgetLocalNode(node)
        }
    }

    func removed(_ node: NodeID) {
        forgetLocalNode(node)
    }

    func broadcast(_ request: AdminRequest) {}

    // MARK: - Nodes of this process

    private func makeHost(_ id: NodeID) -> NodeHost {
        var settings = self.settings
        if !settings.bootstrap.contains(id) { settings.bootstrap = .empty }  // a node joining later learns it from the leader
        let host = NodeHost(id: id, settings: settings, storage: storage, events: events, registry: registry,
                            outlet: switchboard, ticking: !switchboard.isPaused,
                            tickScale: router.withLock { $0 }?.slowMotion.load(ordering: .relaxed) ?? 1)
        registry.add(host)
        return host
    }

    /// Creates and starts node `id` here when it is not running yet. With `adding`, the node is
    /// kept even though no configuration names it yet.
    private func ensureLocalNode(_ id: NodeID, adding isBeingAdded: Bool) {
        if isBeingAdded { adding.withLock { _ = $0.insert(id) } }
        guard registry.host(id) == nil else { return }
        events.log(node: id, isBeingAdded ? "created in this process to join the cluster" : "a member of the configuration: starting it here")
        makeHost(id).restart()
    }

    /// Stops node `id` and forgets it (it left the configuration). Its files stay on disk.
    private func forgetLocalNode(_ id: NodeID) {
        guard let host = registry.host(id) else { return }
        host.shutdown()
        registry.removeHost(id)
        events.log(node: id, "not a member any more: stopped; its files stay in \(config.dataDir)/")
    }

    /// Keeps this process's nodes in line with the committed configuration.
    private func startReconciling() {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "raft.reconcile"))
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
