import RaftEngine
import RuntimeSupport
import Synchronization

/// Request latency per kind of operation, from the moment a request arrived at this server (its
/// line parsed, its HTTP request read) to the moment its answer was handed back: a histogram of
/// atomic counters per op, so timing a request takes no lock.
final class RequestLatency: Sendable {
    /// The ops timed, as `ClientRequest.opName` names them (admin requests and watches are not).
    static let ops = ["get", "put", "delete", "cas", "range", "txn", "lease"]

    /// One op's histogram: a counter per bucket (the last: +Inf) and the sum in nanoseconds.
    final class Counters: Sendable {
        let buckets: [ServerMetrics.Counter]
        let sumNanoseconds = Atomic<Int>(0)

        init() {
            buckets = (0...Histogram.boundsMicroseconds.count).map { _ in ServerMetrics.Counter() }
        }

        func observe(nanoseconds: UInt64) {
            let nanos = Int(truncatingIfNeeded: nanoseconds)
            buckets[Histogram.bucket(microseconds: nanos / 1000)].value.add(1, ordering: .relaxed)
            sumNanoseconds.add(nanos, ordering: .relaxed)
        }

        var histogram: Histogram {
            Histogram(bucketCounts: buckets.map { $0.value.load(ordering: .relaxed) },
                      sumMicroseconds: sumNanoseconds.load(ordering: .relaxed) / 1000)
        }
    }

    let perOp: [Counters] = RequestLatency.ops.map { _ in Counters() }

    func counters(for op: String) -> Counters? {
        Self.ops.firstIndex(of: op).map { perOp[$0] }
    }
}

/// A request being timed: started when it arrived, stopped when its answer goes back.
public struct RequestTimer: Sendable {
    let counters: RequestLatency.Counters?
    let started: UInt64

    /// Records the time since the request arrived (once: call it where the answer is handed back).
    public func stop() {
        guard let counters else { return }
        counters.observe(nanoseconds: MonotonicClock.now() &- started)
    }
}

extension ServerMetrics {
    /// Starts timing a request of kind `op` (`ClientRequest.opName`); ops that are not timed
    /// (admin, watch) give a timer that records nothing.
    public func startTimer(op: String) -> RequestTimer {
        let counters = latency.counters(for: op)
        return RequestTimer(counters: counters, started: counters == nil ? 0 : MonotonicClock.now())
    }

    /// Request latency so far, per op (every timed op, in a fixed order, even when none came yet).
    public var requestLatencies: [(op: String, histogram: Histogram)] {
        zip(RequestLatency.ops, latency.perOp).map { ($0, $1.histogram) }
    }
}
