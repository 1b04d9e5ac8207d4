import KVStore

/// The leader's clock for leases, on the node's queue. Only a leader keeps time: each lease's
/// deadline is the leader's monotonic clock plus its TTL, moved on by every keepalive; a lease
/// whose deadline passes is ended by a log entry the leader proposes (`lease_revoke` with
/// `expired`), so every node deletes its keys at the same point of the log. A node that becomes
/// leader gives every lease a full TTL again — a lease never ends early because leadership moved
/// (etcd's lessor promotes the same way); a node that stops leading forgets every deadline.
///
/// @unchecked Sendable: confined to its node's queue.
final class LeaseKeeper: @unchecked Sendable {
    private var deadlines: [Int64: UInt64] = [:]
    /// Leases whose end was proposed, and when (proposed again if it did not happen).
    private var ending: [Int64: UInt64] = [:]
    private(set) var leading = false
    private(set) var expired = 0

    /// Re-proposes an end that did not make it into the log after this long.
    static let retryNanos: UInt64 = 1_000_000_000

    /// Brings the deadlines in line with the leases the store holds, at `now`. Returns the leases
    /// to end now.
    func check(leases: [Int64: KVState.Lease], isLeader: Bool, now: UInt64) -> [Int64] {
        guard isLeader else {
            if leading {
                leading = false
                deadlines.removeAll()
                ending.removeAll()
            }
            return []
        }
        if !leading {
            leading = true
            deadlines.removeAll()
        }
        var due: [Int64] = []
        for id in leases.keys.sorted() {
            guard let deadline = deadlines[id] else {
                deadlines[id] = now + UInt64(leases[id]!.ttlMs) * 1_000_000  // new here: a full TTL
                continue
            }
            guard now >= deadline else { continue }
            if let proposed = ending[id], now - proposed < Self.retryNanos { continue }
            ending[id] = now
            due.append(id)
        }
        if deadlines.count > leases.count {
            for id in deadlines.keys.sorted() where leases[id] == nil {
                if ending.removeValue(forKey: id) != nil { expired += 1 }
                deadlines.removeValue(forKey: id)
            }
        }
        return due
    }

    /// A keepalive at the leader: the lease runs a full TTL from now. Returns false when this
    /// node does not keep its time (it does not lead, or the lease is already being ended).
    func keepAlive(_ id: Int64, lease: KVState.Lease, now: UInt64) -> Bool {
        guard leading, ending[id] == nil else { return false }
        deadlines[id] = now + UInt64(lease.ttlMs) * 1_000_000
        return true
    }

    /// Milliseconds left before the lease ends (nil: this node does not keep its time).
    func remainingMs(_ id: Int64, now: UInt64) -> Int64? {
        guard leading, let deadline = deadlines[id] else { return nil }
        return deadline > now ? Int64((deadline - now) / 1_000_000) : 0
    }

    var count: Int { deadlines.count }
}
