import ClientFront
import Dispatch
import KVStore
import NodeHosting
import RaftCore
import Synchronization

/// One client's watch, wherever it is served: subscribed at a live node of this process, and
/// moved to another (or the same one, back up) from its next revision whenever its node can feed
/// it no more — so the client sees every change once, in revision order, without gaps and never
/// going back, across node crashes and restarts. Everything it hands on passes through its lock,
/// so batches from an old node and a new one can never overtake each other.
final class WatchFollower: Sendable {
    struct State {
        /// The first revision the client has not been sent.
        var next: Int64?
        var subscription: WatchSubscription?
        var node: NodeID?
        /// Counts subscriptions: deliveries of an earlier one (a node's old incarnation, say) are dropped.
        var generation = 0
        var started = false
        var stopped = false
    }

    let registry: ClusterRegistry
    let filter: WatchFilter
    private let state = Mutex(State())
    /// Receives batches, in order, under the follower's lock: it must only hand them on.
    private let deliver: @Sendable (WatchBatch) -> Void
    /// The first subscription: in place at a revision, or refused as compacted.
    private let started: @Sendable (Result<Int64, CompactedError>) -> Void
    /// The watch cannot go on (its history is gone everywhere it could resume).
    private let ended: @Sendable (CompactedError) -> Void
    static let retryQueue = DispatchQueue(label: "raft.watch.retry")

    init(registry: ClusterRegistry, filter: WatchFilter, from: Int64?, deliver: @escaping @Sendable (WatchBatch) -> Void,
         started: @escaping @Sendable (Result<Int64, CompactedError>) -> Void, ended: @escaping @Sendable (CompactedError) -> Void) {
        self.registry = registry
        self.filter = filter
        self.deliver = deliver
        self.started = started
        self.ended = ended
        state.withLock { $0.next = from }
    }

    /// Subscribes at a live node (a follower when there is one), retrying until one is up.
    func start() {
        guard let node = registry.pickReadNode(), let host = registry.host(node) else {
            return Self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(50)) { [weak self] in self?.startIfRunning() }
        }
        let generation = state.withLock { state -> Int in
            state.generation += 1
            return state.generation
        }
        let subscription = WatchSubscription(filter: filter) { [weak self] delivery in self?.received(delivery, generation: generation) }
        let from = state.withLock { state -> Int64? in
            state.subscription = subscription
            state.node = node
            return state.next
        }
        host.watch(subscription, from: from) { [weak self] outcome in self?.subscribed(outcome, subscription) }
    }

    private func startIfRunning() {
        if !state.withLock({ $0.stopped }) { start() }
    }

    private func subscribed(_ outcome: Result<Int64, CompactedError>?, _ subscription: WatchSubscription) {
        guard let outcome else {  // the node went down before the watch was in place
            subscription.cancel()
            return Self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(20)) { [weak self] in self?.startIfRunning() }
        }
        let first = state.withLock { state -> Bool? in
            guard !state.stopped, state.subscription === subscription else { return nil }
            defer { state.started = true }
            if case .success(let revision) = outcome, state.next == nil { state.next = revision + 1 }
            return !state.started
        }
        guard let first else { return subscription.cancel() }
        if first {
            started(outcome)
            if case .failure = outcome { stop() }
        } else if case .failure(let compacted) = outcome {
            ended(compacted)
            stop()
        }
    }

    private func received(_ delivery: WatchDelivery, generation: Int) {
        switch delivery {
        case .changes(let batch):
            state.withLock { state in
                guard !state.stopped, state.generation == generation, state.node != nil else { return }
                let next = state.next ?? 0
                let fresh: WatchBatch
                if batch.events.first!.revision >= next {
                    fresh = batch
                } else {
                    let events = batch.events.filter { $0.revision >= next }
                    guard !events.isEmpty else { return }
                    fresh = WatchBatch(events: events, revision: batch.revision)
                }
                state.next = fresh.events.last!.revision + 1
                deliver(fresh)
            }
        case .ended:
            let resume = state.withLock { state -> Bool in
                guard !state.stopped, state.generation == generation, state.node != nil else { return false }
                state.subscription = nil
                state.node = nil
                return true
            }
            if resume { Self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) { [weak self] in self?.startIfRunning() } }
        }
    }

    func stop() {
        let subscription = state.withLock { state -> WatchSubscription? in
            state.stopped = true
            defer { state.subscription = nil }
            return state.subscription
        }
        subscription?.cancel()
    }

    /// The first revision the client has not seen yet (where it would resume).
    var nextRevision: Int64? { state.withLock { $0.next } }
}
