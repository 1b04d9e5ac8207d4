import Dispatch
import RaftCore
import Synchronization

/// The cluster's switchboard: every node's last published status, the route for Raft messages
/// between node queues, and the fault switches (partitions, slow nodes) that admin requests flip.
/// All state sits behind one lock; calls into nodes happen after the lock is released.
public final class ClusterRegistry: Sendable {
    struct State {
        var statuses: [NodeStatus]
        var metrics: [NodeMetrics]
        /// Partition group of each node; nodes talk only inside their group.
        var groupOf: [Int]
        /// Extra delay for every message to or from a node, in milliseconds.
        var slowMs: [Int]
        var hosts: [NodeHost] = []
    }

    public let clusterSize: Int
    private let state: Mutex<State>

    init(clusterSize: Int) {
        self.clusterSize = clusterSize
        state = Mutex(State(statuses: (0..<clusterSize).map { NodeStatus.down($0) },
                            metrics: Array(repeating: NodeMetrics(), count: clusterSize),
                            groupOf: Array(repeating: 0, count: clusterSize),
                            slowMs: Array(repeating: 0, count: clusterSize)))
    }

    func attach(_ hosts: [NodeHost]) {
        state.withLock { $0.hosts = hosts }
    }

    public var hosts: [NodeHost] { state.withLock { $0.hosts } }

    public func host(_ id: NodeID) -> NodeHost { state.withLock { $0.hosts[id] } }

    // MARK: - Status

    func update(_ status: NodeStatus, metrics: NodeMetrics? = nil) {
        state.withLock { state in
            state.statuses[status.id] = status
            if let metrics { state.metrics[status.id] = metrics }
        }
    }

    public func metrics(of node: NodeID) -> NodeMetrics { state.withLock { $0.metrics[node] } }

    public var statuses: [NodeStatus] { state.withLock { $0.statuses } }

    /// The live leader of the highest term, if any.
    public var leader: NodeID? {
        state.withLock { state in
            var best: NodeStatus?
            for status in state.statuses where status.alive && status.role == "leader" {
                if best == nil || status.term > best!.term { best = status }
            }
            return best?.id
        }
    }

    /// A random live follower for an eventual read; the leader when no follower is alive
    /// (a one-node cluster); any live node otherwise.
    public func pickReadNode() -> NodeID? {
        state.withLock { state in
            let alive = state.statuses.filter(\.alive)
            let followers = alive.filter { $0.role != "leader" }
            if let pick = followers.randomElement() { return pick.id }
            return alive.first?.id
        }
    }

    // MARK: - Routing and faults

    /// Delivers `envelope` to its target's queue, unless a partition separates the two nodes;
    /// a slow node's messages wait on a timer first.
    func route(_ envelope: Envelope) {
        let decision: (target: NodeHost, delayMs: Int)? = state.withLock { state in
            guard envelope.to >= 0, envelope.to < state.hosts.count,
                  state.groupOf[envelope.from] == state.groupOf[envelope.to] else { return nil }
            return (state.hosts[envelope.to], state.slowMs[envelope.from] + state.slowMs[envelope.to])
        }
        guard let decision else { return }
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
        }
    }

    public func setSlow(node: NodeID, delayMs: Int) {
        state.withLock { $0.slowMs[node] = delayMs }
    }

    /// Removes every partition and message delay.
    public func heal() {
        state.withLock { state in
            state.groupOf = Array(repeating: 0, count: clusterSize)
            state.slowMs = Array(repeating: 0, count: clusterSize)
        }
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
