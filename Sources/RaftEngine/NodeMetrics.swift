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

/// The most recent latency samples (microseconds), for percentiles without unbounded memory.
public struct LatencySamples: Sendable, Equatable {
    private var samples: [Int] = []
    private var next = 0
    public private(set) var count = 0
    static let capacity = 4096

    public init() {}

    public mutating func add(_ microseconds: Int) {
        count += 1
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
