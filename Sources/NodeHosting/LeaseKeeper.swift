import KVStore

/// The leader's clock for leases, on the node's queue. Only a leader keeps time: each lease's
/// deadline is the leader's monotonic clock plus its TTL, moved on by every keepalive; a lease
/// whose deadline passes is ended by a log entry the leader proposes (`lease_revoke` with
/// `expired`), so every node deletes its keys at the same point of the log. A node that becomes
/// leader gives every lease a full TTL again — a lease never ends early because leadership moved
/// (etcd's lessor promotes the same way); a node that stops leading forgets every deadline.
///
/// Costs: a keepalive is O(1) (it moves the lease's deadline in a dictionary and leaves the
/// heap alone); the periodic check pops only heap entries that are due, each O(log n). The heap
/// holds at most one entry per lease, never later than the lease's deadline: when an entry comes
/// due but a keepalive moved the deadline on, it goes back in at the new deadline (a lazy timer).
/// Only becoming leader walks every lease.
///
/// @unchecked Sendable: confined to its node's queue.
final class LeaseKeeper: @unchecked Sendable {
    /// Each lease's deadline (monotonic nanoseconds), for the leases this leader keeps time for.
    private var deadlines: [Int64: UInt64] = [:]
    /// When each lease is next looked at: at most one entry per lease in `deadlines`.
    private var due = DeadlineHeap()
    /// Leases whose end was proposed, and when (proposed again if it did not happen).
    private var ending: [Int64: UInt64] = [:]
    private(set) var leading = false
    private(set) var expired = 0

    /// Re-proposes an end that did not make it into the log after this long.
    static let retryNanos: UInt64 = 1_000_000_000

    /// Periodic: follows leadership, and returns the leases to end now (their deadline passed
    /// and no end of theirs was proposed within `retryNanos`), in deadline order.
    func check(leases: [Int64: KVState.Lease], isLeader: Bool, now: UInt64) -> [Int64] {
        guard isLeader else {
            if leading { forget() }
            return []
        }
        lead(leases: leases, now: now)
        settleEnding(leases)
        var ended: [Int64] = []
        while let top = due.peek, top.deadline <= now {
            due.pop()
            guard let deadline = deadlines[top.id] else { continue }  // forgotten (revoked and settled)
            guard leases[top.id] != nil else {  // revoked or ended meanwhile
                deadlines.removeValue(forKey: top.id)
                if ending.removeValue(forKey: top.id) != nil { expired += 1 }
                continue
            }
            if deadline > now {  // kept alive since this entry went in
                due.push(deadline: deadline, id: top.id)
                continue
            }
            if let proposed = ending[top.id], now - proposed < Self.retryNanos {
                due.push(deadline: proposed + Self.retryNanos, id: top.id)
                continue
            }
            ending[top.id] = now
            ended.append(top.id)
            due.push(deadline: now + Self.retryNanos, id: top.id)  // looked at again: settled, or proposed again
        }
        return ended
    }

    /// This node leads: on becoming leader, every lease the store holds gets a full TTL from
    /// `now` (the only walk over every lease). Cheap when already leading.
    func lead(leases: [Int64: KVState.Lease], now: UInt64) {
        guard !leading else { return }
        leading = true
        deadlines.removeAll(keepingCapacity: true)
        ending.removeAll()
        var entries: [DeadlineHeap.Entry] = []
        entries.reserveCapacity(leases.count)
        for id in leases.keys.sorted() {
            let deadline = now + UInt64(leases[id]!.ttlMs) * 1_000_000
            deadlines[id] = deadline
            entries.append(.init(deadline: deadline, id: id))
        }
        due = DeadlineHeap(entries)
    }

    /// This node no longer leads (or went down): every deadline is forgotten.
    func forget() {
        leading = false
        deadlines.removeAll()
        ending.removeAll()
        due = DeadlineHeap()
    }

    /// The state machine (re)started from a snapshot: time is kept afresh from the next check.
    func storeReplaced() {
        if leading { forget() }
    }

    /// A lease was granted by an entry this node applied: at a leader it runs a full TTL from now.
    func granted(_ id: Int64, ttlMs: Int64, now: UInt64) {
        guard leading, deadlines[id] == nil else { return }
        let deadline = now + UInt64(ttlMs) * 1_000_000
        deadlines[id] = deadline
        due.push(deadline: deadline, id: id)
    }

    /// A keepalive at the leader: the lease runs a full TTL from now. Returns false when this
    /// node does not keep its time (it does not lead), or the lease is already over its deadline
    /// or being ended.
    func keepAlive(_ id: Int64, lease: KVState.Lease, now: UInt64) -> Bool {
        guard leading, ending[id] == nil else { return false }
        let deadline = now + UInt64(lease.ttlMs) * 1_000_000
        guard let current = deadlines[id] else {  // not seen yet (granted before this node kept time)
            deadlines[id] = deadline
            due.push(deadline: deadline, id: id)
            return true
        }
        guard now < current else { return false }  // past its deadline: the next check ends it
        deadlines[id] = max(current, deadline)
        return true
    }

    /// Milliseconds left before the lease ends (nil: this node does not keep its time).
    func remainingMs(_ id: Int64, now: UInt64) -> Int64? {
        guard leading, let deadline = deadlines[id] else { return nil }
        return deadline > now ? Int64((deadline - now) / 1_000_000) : 0
    }

    /// Ends that were carried out (the lease left the store) are counted and forgotten; only the
    /// few leases being ended are looked at.
    private func settleEnding(_ leases: [Int64: KVState.Lease]) {
        guard !ending.isEmpty else { return }
        for id in ending.keys.sorted() where leases[id] == nil {
            ending.removeValue(forKey: id)
            deadlines.removeValue(forKey: id)
            expired += 1
        }
    }

    /// Leases this node keeps time for.
    var count: Int { deadlines.count }
    /// Entries in the deadline heap (at most one per lease kept, whatever the keepalives).
    var scheduledCount: Int { due.count }
}

/// A binary min-heap of (deadline, lease id), earliest deadline first (ties: lower id first, so
/// the order never depends on insertion history).
struct DeadlineHeap {
    struct Entry {
        var deadline: UInt64
        var id: Int64

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : id < other.id
        }
    }

    private var entries: [Entry] = []

    init() {}

    /// Builds a heap of `entries` in O(n).
    init(_ entries: [Entry]) {
        self.entries = entries
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    var count: Int { entries.count }
    var peek: Entry? { entries.first }

    mutating func push(deadline: UInt64, id: Int64) {
        entries.append(Entry(deadline: deadline, id: id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !entries.isEmpty else { return }
        entries.swapAt(0, entries.count - 1)
        entries.removeLast()
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = parent * 2 + 1
            guard left < entries.count else { return }
            var first = left
            if left + 1 < entries.count && entries[left + 1].precedes(entries[left]) { first = left + 1 }
            guard entries[first].precedes(entries[parent]) else { return }
            entries.swapAt(parent, first)
            parent = first
        }
    }
}
