import Dispatch
import NodeHosting
import RaftCore
import RuntimeSupport
import Synchronization

/// A message held while the cluster is paused, waiting to be delivered or dropped by hand.
public struct HeldMessage: Sendable {
    public var id: Int
    public var envelope: Envelope
}

/// The experiment switches, applied at one place above the transport: Raft messages from this
/// runtime's nodes pass through `route` on their way out (a partition drops what crosses it, a
/// slow node's messages wait, and while the cluster is paused every message is held, in order,
/// until someone delivers or drops it), and messages the transport brings in pass through
/// `receive` (the partition again, for senders in other processes) to the node they are for.
///
/// The switches are cluster-wide settings: with one node per process each process holds the same
/// ones (the admin request that changes them is passed to every member). The sender's runtime
/// applies the delay and the pause; both ends apply the partition.
public final class Switchboard: MessageOutlet, Sendable {
    struct State {
        /// Partition groups; nil when the network is whole. A node in no group is alone.
        var partition: [[NodeID]]?
        /// Extra delay for every message to or from a node, in milliseconds.
        var slowMs: [NodeID: Int] = [:]
        var paused = false
        var held: [HeldMessage] = []
        var nextHeldID = 1
    }

    private let state = Mutex(State())
    /// True while any switch is on; routing skips the lock otherwise.
    private let switchesOn = Atomic<Bool>(false)
    private let localHosts: @Sendable (NodeID) -> NodeHost?
    private let transport: Transport
    /// Sees every message that leaves a node (sampled for the web page).
    private let tap = Mutex<Callback<[Envelope]>?>(nil)

    /// Messages go out through `transport`; those that arrive are delivered to `localHosts`.
    public init(transport: Transport, localHosts: @escaping @Sendable (NodeID) -> NodeHost?) {
        self.transport = transport
        self.localHosts = localHosts
    }

    public func setTap(_ observer: (@Sendable ([Envelope]) -> Void)?) {
        let box = observer.map(Callback.init)
        tap.withLock { $0 = box }
    }

    // MARK: - Routing

    /// Sends a node's messages, in order.
    public func route(_ envelopes: [Envelope]) {
        guard !envelopes.isEmpty else { return }
        if let observer = tap.withLock({ $0 }) { observer.call(envelopes) }
        guard switchesOn.load(ordering: .relaxed) else {
            deliver(envelopes)
            return
        }
        var now: [Envelope] = []
        var later: [(Envelope, Int)] = []
        state.withLock { state in
            for envelope in envelopes {
                guard Self.canReach(envelope.from, envelope.to, state.partition) else { continue }
                if state.paused {
                    state.held.append(HeldMessage(id: state.nextHeldID, envelope: envelope))
                    state.nextHeldID += 1
                    continue
                }
                let delay = (state.slowMs[envelope.from] ?? 0) + (state.slowMs[envelope.to] ?? 0)
                if delay > 0 { later.append((envelope, delay)) } else { now.append(envelope) }
            }
        }
        deliver(now)
        for (envelope, delay) in later {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in
                // The partition may have changed meanwhile.
                guard self.state.withLock({ Self.canReach(envelope.from, envelope.to, $0.partition) }) else { return }
                self.deliver([envelope])
            }
        }
    }

    /// Messages the transport brought for a node here: the partition applies at this end too.
    public func receive(_ envelopes: [Envelope]) {
        guard let target = envelopes.first?.to, let host = localHosts(target) else { return }
        guard switchesOn.load(ordering: .relaxed) else { return host.deliver(envelopes) }
        let allowed = state.withLock { state in envelopes.filter { Self.canReach($0.from, $0.to, state.partition) } }
        if !allowed.isEmpty { host.deliver(allowed) }
    }

    /// Hands messages to the transport: one message per destination node, carrying all of its
    /// envelopes (a node's messages to one destination stay in order).
    private func deliver(_ envelopes: [Envelope]) {
        var start = 0
        while start < envelopes.count {
            let target = envelopes[start].to
            var end = start + 1
            while end < envelopes.count && envelopes[end].to == target { end += 1 }
            transport.send(.raft(start == 0 && end == envelopes.count ? envelopes : Array(envelopes[start..<end])), to: target)
            start = end
        }
    }

    static func canReach(_ a: NodeID, _ b: NodeID, _ partition: [[NodeID]]?) -> Bool {
        guard let partition else { return true }
        guard let group = partition.firstIndex(where: { $0.contains(a) }) else { return false }
        return partition[group].contains(b)
    }

    // MARK: - Switches

    /// Nodes talk only inside their group; nodes left out of every group are each alone.
    public func setPartition(_ groups: [[NodeID]]) {
        change { $0.partition = groups }
    }

    public func setSlow(node: NodeID, delayMs: Int) {
        change { $0.slowMs[node] = delayMs > 0 ? delayMs : nil }
    }

    /// Removes every partition and message delay (and delivers held messages if paused? no:
    /// pause is separate; `resume` ends it).
    public func heal() {
        change { state in
            state.partition = nil
            state.slowMs.removeAll()
        }
    }

    private func change(_ body: (inout State) -> Void) {
        state.withLock { state in
            body(&state)
            switchesOn.store(state.partition != nil || !state.slowMs.isEmpty || state.paused, ordering: .relaxed)
        }
    }

    public var partitionGroups: [[NodeID]]? { state.withLock { $0.partition } }
    public func slowDelay(of node: NodeID) -> Int { state.withLock { $0.slowMs[node] ?? 0 } }
    public var slowDelays: [NodeID: Int] { state.withLock { $0.slowMs } }

    /// Whether `node` is cut off from some other node of `nodes`.
    public func isPartitioned(_ node: NodeID, among nodes: [NodeID]) -> Bool {
        state.withLock { state in nodes.contains { !Self.canReach(node, $0, state.partition) } }
    }

    // MARK: - Pause and step

    public var isPaused: Bool { state.withLock { $0.paused } }

    public func pause() {
        change { $0.paused = true }
    }

    /// Ends the pause: every held message is delivered, in order.
    public func resume() {
        var held: [HeldMessage] = []
        change { state in
            state.paused = false
            held = state.held
            state.held.removeAll()
        }
        deliver(held.map(\.envelope))
    }

    public var heldMessages: [HeldMessage] { state.withLock { $0.held } }

    /// Delivers held message `id` (the oldest when nil); returns it, or nil when there is none.
    public func deliverHeld(_ id: Int?) -> HeldMessage? {
        let message = state.withLock { state -> HeldMessage? in
            guard let position = id.map({ id in state.held.firstIndex { $0.id == id } }) ?? (state.held.isEmpty ? nil : 0) else {
                return nil
            }
            return state.held.remove(at: position)
        }
        if let message { deliver([message.envelope]) }
        return message
    }

    /// Drops held message `id`; returns it, or nil when there is none.
    public func dropHeld(_ id: Int) -> HeldMessage? {
        state.withLock { state in
            guard let position = state.held.firstIndex(where: { $0.id == id }) else { return nil }
            return state.held.remove(at: position)
        }
    }
}
