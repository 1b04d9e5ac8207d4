import Synchronization
import ClusterTransport
import NodeHosting
import RuntimeSupport

/// Counters the server keeps about its clients: requests by op and outcome, open connections.
/// Every request counts itself, so the common pairs are plain atomic counters (no lock, no
/// string built); anything else goes to a locked table.
public final class ServerMetrics: Sendable {
    static let ops = ["get", "put", "delete", "cas", "range", "txn", "lease", "watch", "invalid"]
    static let outcomes = ["ok", "not_found", "cas_failed", "stale_request", "timeout", "unavailable", "forwarded_error", "bad_request", "too_large"]

    /// An atomic counter in a box (atomics cannot sit in an array themselves).
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private let counters: [Counter]
    private let others = Mutex<[String: Int]>([:])
    private let open = Atomic<Int>(0)
    private let watches = Atomic<Int>(0)
    private let watchEvents = Atomic<Int>(0)
    private let slowWatchers = Atomic<Int>(0)
    /// Request latency per op (see `startTimer`).
    let latency = RequestLatency()

    public init() {
        counters = (0..<(Self.ops.count * Self.outcomes.count)).map { _ in Counter() }
    }

    public func countRequest(op: String, outcome: String) {
        if let o = Self.ops.firstIndex(of: op), let r = Self.outcomes.firstIndex(of: outcome) {
            counters[o * Self.outcomes.count + r].value.add(1, ordering: .relaxed)
        } else {
            others.withLock { $0["\(op) \(outcome)", default: 0] += 1 }
        }
    }

    public func connectionOpened() {
        open.add(1, ordering: .relaxed)
    }

    public func connectionClosed() {
        open.subtract(1, ordering: .relaxed)
    }

    public var openConnections: Int { open.load(ordering: .relaxed) }

    public func watchOpened() { watches.add(1, ordering: .relaxed) }
    public func watchClosed() { watches.subtract(1, ordering: .relaxed) }
    public func watchEventsSent(_ count: Int) { watchEvents.add(count, ordering: .relaxed) }
    public func slowWatcherCut() { slowWatchers.add(1, ordering: .relaxed) }
    /// Watches open now, events sent to watchers so far, watches stopped for reading too slowly.
    public var watchFigures: (open: Int, eventsSent: Int, slowCut: Int) {
        (watches.load(ordering: .relaxed), watchEvents.load(ordering: .relaxed), slowWatchers.load(ordering: .relaxed))
    }

    /// (op, outcome, count) for every pair seen, sorted, so output never depends on dictionary order.
    public var requestCounts: [(op: String, outcome: String, count: Int)] {
        var counts: [String: Int] = others.withLock { $0 }
        for (o, op) in Self.ops.enumerated() {
            for (r, outcome) in Self.outcomes.enumerated() {
                let count = counters[o * Self.outcomes.count + r].value.load(ordering: .relaxed)
                if count > 0 { counts["\(op) \(outcome)", default: 0] += count }
            }
        }
        return counts.keys.sorted().map { key in
            let parts = key.split(separator: " ")
            return (String(parts[0]), String(parts[1]), counts[key]!)
        }
    }
}
