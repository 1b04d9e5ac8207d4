import Dispatch
import RaftCore
import RaftEngine
import RuntimeSupport
import Synchronization

/// What this process knows about the cluster: the nodes it hosts, the last status of every node
/// (published by its own nodes after each flush; reported by peer processes over TCP), and the
/// two answers every client request needs — who leads, who may serve an eventual read — kept in
/// atomics so the request path never waits for the lock. Calls into nodes happen after the lock
/// is released.
public final class ClusterRegistry: Sendable {
    struct State {
        var hosts: [NodeID: NodeHost] = [:]
        var statuses: [NodeID: NodeStatus] = [:]
        var metrics: [NodeID: NodeMetrics] = [:]
        /// Monotonic time a peer's status arrived; statuses of local nodes are not in here.
        var heardAt: [NodeID: UInt64] = [:]
        /// Client and HTTP addresses of members, from the config file and from configurations.
        var addresses: [NodeID: MemberAddresses] = [:]
    }

    /// Node ids are limited so that read routing fits in one atomic word.
    public static let maxNodeID = 63
    /// A peer's status older than this counts as "not heard from": the node shows as down.
    static let peerStatusTTL: UInt64 = 1_500_000_000

    private let state = Mutex(State())
    /// The hosts again, by id, under their own lock: every request looks one up, and must not
    /// wait behind the status updates every flush makes.
    private let hostSlots = Mutex<[NodeHost?]>(Array(repeating: nil, count: ClusterRegistry.maxNodeID + 1))
    /// The leader (-1: none) and a bit per local live node that may serve an eventual read.
    private let leaderHint = Atomic<Int>(-1)
    private let readCandidates = Atomic<UInt64>(0)
    /// A local live node that follows a leader hosted elsewhere which answers followers'
    /// read-index requests (-1: none): one node per process serves linearizable reads there.
    private let followerReadHint = Atomic<Int>(-1)

    public init(addresses: [NodeID: MemberAddresses] = [:]) {
        state.withLock { $0.addresses = addresses }
    }

    // MARK: - Hosts in this process

    public func add(_ host: NodeHost) {
        hostSlots.withLock { $0[host.id] = host }
        state.withLock { state in
            state.hosts[host.id] = host
            if state.statuses[host.id] == nil { state.statuses[host.id] = .down(host.id) }
        }
    }

    /// Forgets a local host (a removed node, stopped).
    public func removeHost(_ id: NodeID) {
        hostSlots.withLock { $0[id] = nil }
        state.withLock { state in
            state.hosts.removeValue(forKey: id)
            state.statuses.removeValue(forKey: id)
            state.metrics.removeValue(forKey: id)
            recomputeRouting(state)
        }
    }

    public func host(_ id: NodeID) -> NodeHost? {
        guard id >= 0 && id <= Self.maxNodeID else { return nil }
        return hostSlots.withLock { $0[id] }
    }

    /// The hosts of this process, by id.
    public var localHosts: [NodeHost] {
        state.withLock { state in state.hosts.keys.sorted().map { state.hosts[$0]! } }
    }

    public var localIDs: [NodeID] { state.withLock { $0.hosts.keys.sorted() } }

    // MARK: - Status

    /// A local node published its status (after every flush). The routing answers are
    /// recomputed only when a role, term or liveness changed.
    func update(_ status: NodeStatus, metrics: NodeMetrics? = nil) {
        state.withLock { state in
            guard state.hosts[status.id] != nil else { return }
            let old = state.statuses[status.id]
            state.statuses[status.id] = status
            if let metrics { state.metrics[status.id] = metrics }
            if old?.configuration != status.configuration { learnAddresses(from: status.configuration, &state) }
            guard old?.role != status.role || old?.term != status.term || old?.alive != status.alive else { return }
            recomputeRouting(state)
        }
    }

    /// A peer process reported its node's status.
    public func updateFromPeer(_ status: NodeStatus, metrics: NodeMetrics?) {
        let now = MonotonicClock.now()
        state.withLock { state in
            guard state.hosts[status.id] == nil else { return }
            state.statuses[status.id] = status
            state.heardAt[status.id] = now
            if let metrics { state.metrics[status.id] = metrics }
            learnAddresses(from: status.configuration, &state)
            recomputeRouting(state)
        }
    }

    /// Marks peers not heard from lately as down (called periodically with one node per process).
    public func expireSilentPeers() {
        let now = MonotonicClock.now()
        state.withLock { state in
            var changed = false
            for (id, heard) in state.heardAt where now - heard > Self.peerStatusTTL && state.statuses[id]?.alive == true {
                state.statuses[id] = .down(id, failure: "not heard from", configuration: state.statuses[id]?.configuration ?? .empty)
                changed = true
            }
            if changed { recomputeRouting(state) }
        }
    }

    private func learnAddresses(from configuration: ClusterConfiguration, _ state: inout State) {
        for member in configuration.members where !member.context.isEmpty {
            if let addresses = MemberAddresses(context: member.context) { state.addresses[member.id] = addresses }
        }
    }

    private func recomputeRouting(_ state: State) {
        let leader = Self.leader(in: state.statuses)
        leaderHint.store(leader ?? -1, ordering: .relaxed)
        readCandidates.store(Self.readCandidates(in: state), ordering: .relaxed)
        followerReadHint.store(Self.followerReadNode(in: state, leader: leader) ?? -1, ordering: .relaxed)
    }

    /// The lowest local live non-leader, when the leader runs in another process and its
    /// build answers followers' read-index requests.
    private static func followerReadNode(in state: State, leader: NodeID?) -> NodeID? {
        guard let leader, state.hosts[leader] == nil, state.statuses[leader]?.followerReads == true else { return nil }
        return state.hosts.keys.sorted().first { state.statuses[$0]?.alive == true && state.statuses[$0]?.role != "leader" }
    }

    private static func leader(in statuses: [NodeID: NodeStatus]) -> NodeID? {
        var best: NodeStatus?
        for id in statuses.keys.sorted() {
            let status = statuses[id]!
            if status.alive && status.role == "leader" && (best == nil || status.term > best!.term) { best = status }
        }
        return best?.id
    }

    /// Local live followers (learners included); the local leader when no follower is alive
    /// (one node, or one node per process); any local live node otherwise.
    private static func readCandidates(in state: State) -> UInt64 {
        func mask(_ nodes: [NodeStatus]) -> UInt64 { nodes.reduce(0) { $0 | (1 << UInt64($1.id)) } }
        let alive = state.hosts.keys.compactMap { state.statuses[$0] }.filter(\.alive)
        let followers = alive.filter { $0.role != "leader" }
        return followers.isEmpty ? mask(alive) : mask(followers)
    }

    public func metrics(of node: NodeID) -> NodeMetrics? { state.withLock { $0.metrics[node] } }

    public func status(of node: NodeID) -> NodeStatus? { state.withLock { $0.statuses[node] } }

    /// The live leader of the highest term, if any.
    public var leader: NodeID? {
        let leader = leaderHint.load(ordering: .relaxed)
        return leader >= 0 ? leader : nil
    }

    /// A node of this process that serves linearizable reads itself, asking the leader (in
    /// another process) only for the read point; nil: send them to the leader.
    public var followerReadNode: NodeID? {
        let node = followerReadHint.load(ordering: .relaxed)
        return node >= 0 ? node : nil
    }

    /// A random live node that believes it leads, whatever its term — how the unsafe switch
    /// sends a linearizable read to a deposed leader that has not noticed.
    public var anySelfProclaimedLeader: NodeID? {
        state.withLock { state in
            state.statuses.values.filter { $0.alive && $0.role == "leader" }.map(\.id).sorted().randomElement()
        }
    }

    /// A random local live follower for an eventual read (see `readCandidates`).
    public func pickReadNode() -> NodeID? {
        var candidates = readCandidates.load(ordering: .relaxed)
        let count = candidates.nonzeroBitCount
        guard count > 0 else { return nil }
        for _ in 0..<Int.random(in: 0..<count) { candidates &= candidates - 1 }
        return candidates.trailingZeroBitCount
    }

    /// The configuration the cluster is in, as best this process knows: the one of the node
    /// with the latest configuration entry among live nodes (a leader's first on a tie).
    public var configuration: (configuration: ClusterConfiguration, index: LogIndex, committed: Bool)? {
        state.withLock { state in
            var best: NodeStatus?
            for id in state.statuses.keys.sorted() {
                let status = state.statuses[id]!
                guard status.alive else { continue }
                if best == nil || status.configurationIndex > best!.configurationIndex
                    || (status.configurationIndex == best!.configurationIndex && status.role == "leader") {
                    best = status
                }
            }
            return best.map { ($0.configuration, $0.configurationIndex, $0.configurationCommitted) }
        }
    }

    /// Every node worth showing: members of the configuration, nodes hosted here, peers heard
    /// from; by id. Members nobody has heard of are down.
    public var statuses: [NodeStatus] {
        let configuration = self.configuration?.configuration
        return state.withLock { state in
            var ids = Set(state.hosts.keys).union(configuration?.ids ?? [])
            for (id, status) in state.statuses where status.alive || state.hosts[id] != nil { ids.insert(id) }
            return ids.sorted().map { state.statuses[$0] ?? .down($0) }
        }
    }

    public func addresses(of node: NodeID) -> MemberAddresses? { state.withLock { $0.addresses[node] } }

    public func setAddresses(_ addresses: MemberAddresses, of node: NodeID) {
        state.withLock { $0.addresses[node] = addresses }
    }
}
