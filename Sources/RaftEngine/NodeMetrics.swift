import RaftCore

/// Counters one node keeps (on its thread) and publishes with its status.
public struct NodeMetrics: Sendable, Equatable {
    public var electionsStarted = 0
    public var preElectionsStarted = 0
    public var electionsWon = 0
    public var proposals = 0
    public var entriesCommitted = 0
    public var appendsSent = 0
    public var appendsRejected = 0
    public var snapshotsTaken = 0
    public var snapshotsInstalled = 0
    public var fsyncs = 0
    /// Writes slower than the heartbeat interval.
    public var slowWrites = 0
    public var fsyncLatency = LatencySamples()
    /// Where a write's time goes at the leader (microseconds, per write): waiting for the
    /// flush that appends it, its own append and fsync there, and from durable to committed
    /// and applied (replication to a majority).
    public var writeQueue = LatencySamples()
    public var writeLocal = LatencySamples()
    public var writeCommit = LatencySamples()
    /// How long each snapshot this node took lasted, from freezing the state to the log cut.
    public var snapshotDuration = Histogram()
    /// How long loading each snapshot received from the leader took (a follower catching up).
    public var snapshotInstallDuration = Histogram()
    /// How long building the state from the snapshot on disk took after a start (in the background).
    public var stateLoadDuration = Histogram()
    /// Each stretch of the node's own thread spent on snapshot work — starting one, finishing
    /// one (the core's compaction), swapping in a loaded state, cutting the log — and the longest.
    public var snapshotThreadHold = Histogram()
    public var longestSnapshotThreadHoldMicros = 0

    public mutating func observeSnapshotThreadHold(microseconds: Int) {
        snapshotThreadHold.observe(microseconds: microseconds)
        longestSnapshotThreadHoldMicros = max(longestSnapshotThreadHoldMicros, microseconds)
    }

    public init() {}

    /// Counts what a Ready says happened.
    public mutating func record(_ ready: Ready) {
        for event in ready.events {
            switch event {
            case .electionStarted(_, let preVote):
                if preVote { preElectionsStarted += 1 } else { electionsStarted += 1 }
            case .becameLeader: electionsWon += 1
            case .installedSnapshot: snapshotsInstalled += 1
            default: break
            }
        }
        for message in ready.earlyMessages + ready.messages {
            if case .appendRequest = message.message { appendsSent += 1 }
        }
        entriesCommitted += ready.committedEntries.count
    }
}

/// The most recent latency samples (microseconds), for percentiles without unbounded memory,
/// and every sample since the start in a histogram (for Prometheus).
public struct LatencySamples: Sendable, Equatable {
    private var samples: [Int] = []
    private var next = 0
    public private(set) var count = 0
    public private(set) var histogram = Histogram()
    static let capacity = 4096

    public init() {}

    public mutating func add(_ microseconds: Int) {
        count += 1
        histogram.observe(microseconds: microseconds)
        if samples.count < Self.capacity {
            samples.append(microseconds)
        } else {
            samples[next] = microseconds
            next = (next + 1) % Self.capacity
        }
    }

    /// p50, p90, p99 and max of the kept samples, in microseconds (zeros when empty).
    public var percentiles: (p50: Int, p90: Int, p99: Int, max: Int) {
        guard !samples.isEmpty else { return (0, 0, 0, 0) }
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Int { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        return (at(0.5), at(0.9), at(0.99), sorted.last!)
    }
}

/// A cumulative latency histogram with fixed buckets (Prometheus' `_bucket`, `_sum`, `_count`):
/// 50 µs to 60 s, so the same buckets serve an fsync, a request and a snapshot. Counts per
/// bucket are kept apart (not cumulative) and summed when read.
public struct Histogram: Sendable, Equatable {
    /// Upper bounds of the buckets in microseconds; one more bucket (+Inf) follows.
    public static let boundsMicroseconds: [Int] = [
        50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
    ]

    private var counts = [Int](repeating: 0, count: Histogram.boundsMicroseconds.count + 1)
    /// Every observation added up (microseconds).
    public private(set) var sumMicroseconds = 0

    public init() {}

    /// The bucket an observation falls in (the last: above every bound).
    public static func bucket(microseconds: Int) -> Int {
        var index = 0
        while index < boundsMicroseconds.count && microseconds > boundsMicroseconds[index] { index += 1 }
        return index
    }

    public mutating func observe(microseconds: Int) {
        let value = max(0, microseconds)
        counts[Self.bucket(microseconds: value)] += 1
        sumMicroseconds += value
    }

    /// Adds counts gathered elsewhere (per bucket, not cumulative; the last is +Inf).
    public init(bucketCounts: [Int], sumMicroseconds: Int) {
        precondition(bucketCounts.count == counts.count, "one count per bucket and one for +Inf")
        counts = bucketCounts
        self.sumMicroseconds = sumMicroseconds
    }

    /// Observations so far.
    public var count: Int { counts.reduce(0, +) }

    /// Observations at or below each bound, then the total (the +Inf bucket).
    public var cumulativeCounts: [Int] {
        var running = 0
        return counts.map { running += $0; return running }
    }
}
