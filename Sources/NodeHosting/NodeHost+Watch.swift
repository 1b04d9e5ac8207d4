import Dispatch
import KVStore
import RaftCore
import RuntimeSupport

/// What a lease request learns at a node.
public enum LeaseAnswer: Sendable {
    /// The lease's TTL, the time left before it ends (as the leader keeps it), and its keys.
    case lease(ttlMs: Int64, remainingMs: Int64, keys: [String])
    /// Every live lease in id order: id, TTL, time left, and how many keys it holds.
    case leases([(id: Int64, ttlMs: Int64, remainingMs: Int64, keys: Int)])
    case notFound
    /// This node does not lead (or is down): ask the leader.
    case notLeader
}

/// Watches and leases at a node: subscriptions to its changes, and the leader's lease clock.
extension NodeHost {
    /// Watches `filter` from revision `from` (nil: from the next change). `reply` gets the node's
    /// revision when the watch is in place, the oldest revision kept when it asks for less, or
    /// nil when the node is down.
    public func watch(_ subscription: WatchSubscription, from: Int64?,
                      reply: @escaping @Sendable (Result<Int64, CompactedError>?) -> Void) {
        queue.async {
            guard let engine = self.engine else { return reply(nil) }
            if self.flushScheduled { self.flush() }  // what arrived is applied and published first
            let current = engine.machine.revision
            reply(self.watchHub.subscribe(subscription, from: from, currentRevision: current).map { _ in current })
        }
    }

    /// Watches this node feeds (for the metrics), and the leases its store holds and those it ended.
    public func watchAndLeaseFigures(reply: @escaping @Sendable ((watches: Int, leases: Int, expired: Int)) -> Void) {
        queue.async {
            reply((self.watchHub.watchCount, self.engine?.machine.state.leases.count ?? 0, self.leaseKeeper.expired))
        }
    }

    /// A keepalive: at the leader, the lease runs a full TTL from now. Keepalives that arrive
    /// while the node's queue is busy are served together, in the order they came, by one hop.
    public func leaseKeepAlive(_ id: Int64, reply: @escaping @Sendable (LeaseAnswer) -> Void) {
        let schedule = keepalivesWaiting.withLock { waiting -> Bool in
            waiting.requests.append((id, reply))
            defer { waiting.scheduled = true }
            return !waiting.scheduled
        }
        if schedule { queue.async { self.serveKeepalives() } }
    }

    /// On the node's queue: every keepalive waiting, at one clock reading.
    private func serveKeepalives() {
        let requests = keepalivesWaiting.withLock { waiting in
            defer {
                waiting.requests.removeAll(keepingCapacity: true)
                waiting.scheduled = false
            }
            return waiting.requests
        }
        guard let engine = engine, engine.raft.isLeader else {
            for request in requests { request.reply(.notLeader) }
            return
        }
        let now = MonotonicClock.now()
        leaseKeeper.lead(leases: engine.machine.state.leases, now: now)  // O(1) unless just elected
        for (id, reply) in requests {
            guard let lease = engine.machine.state.leases[id], leaseKeeper.keepAlive(id, lease: lease, now: now) else {
                reply(.notFound)
                continue
            }
            reply(.lease(ttlMs: lease.ttlMs, remainingMs: lease.ttlMs, keys: []))
        }
    }

    /// A lease's TTL, time left and keys, as the leader knows them.
    public func leaseInfo(_ id: Int64, reply: @escaping @Sendable (LeaseAnswer) -> Void) {
        queue.async {
            guard let engine = self.engine, engine.raft.isLeader else { return reply(.notLeader) }
            guard let lease = engine.machine.state.leases[id] else { return reply(.notFound) }
            let now = MonotonicClock.now()
            self.leaseKeeper.lead(leases: engine.machine.state.leases, now: now)
            let remaining = self.leaseKeeper.remainingMs(id, now: now) ?? lease.ttlMs
            reply(.lease(ttlMs: lease.ttlMs, remainingMs: remaining, keys: lease.keys.sorted().map(\.string)))
        }
    }

    /// Every live lease, in id order, as the leader knows them.
    public func leaseList(reply: @escaping @Sendable (LeaseAnswer) -> Void) {
        queue.async {
            guard let engine = self.engine, engine.raft.isLeader else { return reply(.notLeader) }
            let leases = engine.machine.state.leases
            let now = MonotonicClock.now()
            self.leaseKeeper.lead(leases: leases, now: now)
            let listed = leases.keys.sorted().map { id in
                let lease = leases[id]!
                return (id: id, ttlMs: lease.ttlMs, remainingMs: self.leaseKeeper.remainingMs(id, now: now) ?? lease.ttlMs,
                        keys: lease.keys.count)
            }
            reply(.leases(listed))
        }
    }

    /// At the leader, every tenth of a second: leases past their deadline are ended by a log entry.
    func checkLeases(_ engine: KVEngine) {
        let isLeader = engine.raft.isLeader
        guard isLeader || leaseKeeper.leading else { return }
        let now = MonotonicClock.now()
        guard now - lastLeaseCheck >= 100_000_000 || !isLeader else { return }
        lastLeaseCheck = now
        for id in leaseKeeper.check(leases: engine.machine.state.leases, isLeader: isLeader, now: now) {
            events.log(node: self.id, "lease \(id) expired: no keepalive within its TTL; ending it and deleting its keys")
            engine.propose(KVCommand(.leaseRevoke(id: id, expired: true)).encoded, finish: { _ in })
        }
    }
}
