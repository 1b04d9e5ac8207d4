import Dispatch
import RaftCore
import Synchronization

/// The cluster's switchboard: every node's last published status, the route for Raft messages
/// between node queues, and the fault switches (partitions, slow nodes) that admin requests flip.
/// All state sits behind one lock; calls into nodes happen after the lock is released. The two
/// answers every client request needs — who leads, who may serve a read — are also kept in
/// atomics, so the request path never waits for the lock.
public final class ClusterRegistry: Sendable {
    struct State {
        var statuses: [NodeStatus]
        var metrics: [NodeMetrics]
        /// Partition group of each node; nodes talk only inside their group.
        var groupOf: [Int]
        /// Extra delay for every message to or from a node, in milliseconds.
        var slowMs: [Int]
    }

    public let clusterSize: Int
    private let state: Mutex<State>
    /// The leader (-1: none) and a bit per live node that may serve an eventual read.
    private let leaderHint = Atomic<Int>(-1)
    private let readCandidates = Atomic<UInt64>(0)
    /// True while a partition or a message delay is in force; routing skips the lock otherwise.
    private let faultsActive = Atomic<Bool>(false)
    private let hosts: [NodeHost]

    init(clusterSize: Int, hosts: [NodeHost]) {
        precondition(clusterSize <= 64, "at most 64 nodes")
        self.clusterSize = clusterSize
        self.hosts = hosts
        state = Mutex(State(statuses: (0..<clusterSize).map { NodeStatus.down($0) },
                            metrics: Array(repeating: NodeMetrics(), count: clusterSize),
                            groupOf: Array(repeating: 0, count: clusterSize),
                            slowMs: Array(repeating: 0, count: clusterSize)))
        for host in hosts { host.registry = self }
    }

    public var allHosts: [NodeHost] { hosts }

    public func host(_ id: NodeID) -> NodeHost { hosts[id] }

    // MARK: - Status

    /// Called after every flush of every node; the routing answers are recomputed (with the lock
    /// held, so the last writer wins) only when a role, term or liveness changed.
    func update(_ status: NodeStatus, metrics: NodeMetrics? = nil) {
        state.withLock { state in
            let old = state.statuses[status.id]
            state.statuses[status.id] = status
            if let metrics { state.metrics[status.id] = metrics }
            guard old.role != status.role || old.term != status.term || old.alive != status.alive else { return }
            leaderHint.store(Self.leader(in: state.statuses) ?? -1, ordering: .relaxed)
            readCandidates.store(Self.readCandidates(in: state.statuses), ordering: .relaxed)
        }
    }

    private static func leader(in statuses: [NodeStatus]) -> NodeID? {
        var best: NodeStatus?
        for status in statuses where status.alive && status.role == "leader" {
            if best == nil || status.term > best!.term { best = status }
        }
        return best?.id
    }

    /// Live followers; the leader when no follower is alive (one node); any live node otherwise.
    private static func readCandidates(in statuses: [NodeStatus]) -> UInt64 {
        func mask(_ nodes: [NodeStatus]) -> UInt64 { nodes.reduce(0) { $0 | (1 << UInt64($1.id)) } }
        let alive = statuses.filter(\.alive)
        let followers = alive.filter { $0.role != "leader" }
        return followers.isEmpty ? mask(alive) : mask(followers)
    }

    public func metrics(of node: NodeID) -> NodeMetrics { state.withLock { $0.metrics[node] } }

    public var statuses: [NodeStatus] { state.withLock { $0.statuses } }

    /// The live leader of the highest term, if any.
    public var leader: NodeID? {
        let leader = leaderHint.load(ordering: .relaxed)
        return leader >= 0 ? leader : nil
    }

    /// A random live follower for an eventual read; the leader when no follower is alive
    /// (a one-node cluster); any live node otherwise.
    public func pickReadNode() -> NodeID? {
        var candidates = readCandidates.load(ordering: .relaxed)
        let count = candidates.nonzeroBitCount
        guard count > 0 else { return nil }
        for _ in 0..<Int.random(in: 0..<count) { candidates &= candidates - 1 }
        return candidates.trailingZeroBitCount
    }

    // MARK: - Routing and faults

    /// Delivers `envelope` to its target's queue, unless a partition separates the two nodes;
    /// a slow node's messages wait on a timer first.
    func route(_ envelope: Envelope) {
        guard envelope.to >= 0, envelope.to < hosts.count else { return }
        guard faultsActive.load(ordering: .relaxed) else {
            hosts[envelope.to].deliver(envelope)
            return
        }
        let delayMs: Int? = state.withLock { state in
            guard state.groupOf[envelope.from] == state.groupOf[envelope.to] else { return nil }
            return state.slowMs[envelope.from] + state.slowMs[envelope.to]
        }
        guard let delayMs else { return }
        let decision = (target: hosts[envelope.to], delayMs: delayMs)
        if decision.delayMs > 0 {
            decision.target.queue.asyncAfter(deadline: .now() + .milliseconds(decision.delayMs)) {
                decision.target.receive(envelope)
            }
        } else {
            decision.target.deliver(envelope)
        }
    }

    /// Nodes talk only inside their group; nodes left out of every group are each alone.
    public func setPartition(_ groups: [[NodeID]]) {
        state.withLock { state in
            var groupOf = Array(repeating: -1, count: clusterSize)
            for (number, group) in groups.enumerated() {
                for node in group { groupOf[node] = number }
            }
            for node in 0..<clusterSize where groupOf[node] == -1 { groupOf[node] = groups.count + node }
            state.groupOf = groupOf
            publishFaults(state)
        }
    }

    public func setSlow(node: NodeID, delayMs: Int) {
        state.withLock { state in
            state.slowMs[node] = delayMs
            publishFaults(state)
        }
    }

    /// Removes every partition and message delay.
    public func heal() {
        state.withLock { state in
            state.groupOf = Array(repeating: 0, count: clusterSize)
            state.slowMs = Array(repeating: 0, count: clusterSize)
            publishFaults(state)
        }
    }

    /// Called with the lock held, so the flag always matches the last change.
    private func publishFaults(_ state: State) {
        let partitioned = state.groupOf.contains { $0 != state.groupOf[0] }
        faultsActive.store(partitioned || state.slowMs.contains { $0 > 0 }, ordering: .relaxed)
    }

    /// The partition groups, as lists of node ids (one list when whole).
    public var partitionGroups: [[NodeID]] {
        state.withLock { state in
            var groups: [Int: [NodeID]] = [:]
            for (node, group) in state.groupOf.enumerated() { groups[group, default: []].append(node) }
            return groups.keys.sorted().map { groups[$0]! }
        }
    }

    public var slowDelays: [Int] { state.withLock { $0.slowMs } }
}
