import Synchronization

/// Counters the server keeps about its clients: requests by op and outcome, open connections.
public final class ServerMetrics: Sendable {
    struct State {
        var requests: [String: Int] = [:]
        var openConnections = 0
    }

    private let state = Mutex(State())

    public init() {}

    func countRequest(op: String, outcome: String) {
        state.withLock { $0.requests["\(op) \(outcome)", default: 0] += 1 }
    }

    func connectionOpened() {
        state.withLock { $0.openConnections += 1 }
    }

    func connectionClosed() {
        state.withLock { $0.openConnections -= 1 }
    }

    public var openConnections: Int { state.withLock { $0.openConnections } }

    /// (op, outcome, count), sorted, so output never depends on dictionary order.
    public var requestCounts: [(op: String, outcome: String, count: Int)] {
        state.withLock { state in
            state.requests.keys.sorted().map { key in
                let parts = key.split(separator: " ")
                return (String(parts[0]), String(parts[1]), state.requests[key]!)
            }
        }
    }
}
