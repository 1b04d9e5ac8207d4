import FlightRecording
import RaftCore

/// One move of a replay: node `node` took records `records` of its trace (one input from outside,
/// or a whole flush) at `time`; the messages it sent have serials `sent`, those it received (or
/// that the in-flight limit pushed out meanwhile) `received`.
public struct Move: Sendable {
    public var node: NodeID
    public var records: Range<Int>
    public var time: UInt64
    public var sent: Range<Int>
    public var received: [Int]
}

/// A message a replayed engine sent: the step it left at, and the step it was received at (nil:
/// never, in this recording) — or pushed out of the in-flight list (`evicted`: probably lost).
public struct FlightMessage: Sendable {
    public var serial: Int
    public var envelope: Envelope
    public var sentStep: Int
    public var endStep: Int?
    public var evicted = false
    /// Dropped by hand (pause and step) at this step: a note of the recording says so.
    public var droppedStep: Int?
}

/// A mark on the timeline: something the recording shows (an election, a leader, a stop, a
/// restart, a snapshot, a membership change, client writes) or a note placed by time.
public struct TimelineEvent: Sendable {
    public var step: Int
    public var time: UInt64
    /// start, restart, stop, election, prevote, leader, snapshot, membership, write, problem —
    /// or a note's kind (partition, scenario, admin…).
    public var kind: String
    public var node: NodeID?
    public var text: String

    public init(step: Int, time: UInt64, kind: String, node: NodeID?, text: String) {
        self.step = step
        self.time = time
        self.kind = kind
        self.node = node
        self.text = text
    }
}

/// Something the recording cannot show (a partition, a hand-delivered message, a scenario's
/// narration), with its monotonic time: the timeline places it at the last step before it.
public struct TimelineNote: Sendable, Equatable {
    public var time: UInt64
    public var kind: String
    public var node: NodeID?
    public var text: String
    /// A message dropped by hand: it leaves the messages in flight here.
    public var dropped: Envelope?

    public init(time: UInt64, kind: String, node: NodeID? = nil, text: String, dropped: Envelope? = nil) {
        self.time = time
        self.kind = kind
        self.node = node
        self.text = text
        self.dropped = dropped
    }
}

/// A node's state after a step, in the figures the live `status` shows.
public struct NodeFrame: Sendable, Equatable {
    public var alive: Bool
    /// Its recording has begun (a node never started is shown down).
    public var started: Bool
    public var role: RoleKind
    public var term: Term
    public var votedFor: NodeID?
    public var leaderID: NodeID?
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var lastIndex: LogIndex
    public var snapshotIndex: LogIndex
    public var snapshotTerm: Term
    public var electionElapsed: Int
    public var electionTimeout: Int
    public var configuration: ClusterConfiguration
    public var configurationIndex: LogIndex
    public var configurationCommitted: Bool
    public var replication: [ReplicationStatus]
    public var transferee: NodeID?
    /// What the node's state machine holds: items, and the store's revision where known.
    public var keys: Int
    public var revision: Int64?
    /// Why it stopped, while down.
    public var stopReason: String?

    static let notStarted = NodeFrame(alive: false, started: false, role: .follower, term: 0, votedFor: nil, leaderID: nil,
                                      commitIndex: 0, appliedIndex: 0, lastIndex: 0, snapshotIndex: 0, snapshotTerm: 0,
                                      electionElapsed: 0, electionTimeout: 0, configuration: .empty, configurationIndex: 0,
                                      configurationCommitted: true, replication: [], transferee: nil, keys: 0, revision: nil,
                                      stopReason: "its recording has not begun")

    public var entriesInLog: Int { lastIndex - snapshotIndex }
}

/// The last entries of a node's log at a step: entries `first...last` (after the snapshot base).
public struct LogTail: Sendable {
    public var first: LogIndex
    public var entries: [Entry]
    public var snapshotIndex: LogIndex
    public var snapshotTerm: Term
    public var commitIndex: LogIndex
    public var last: LogIndex
}

public struct NodeMoment: Sendable {
    public var id: NodeID
    public var frame: NodeFrame
    /// Nil while the node is down.
    public var log: LogTail?
}

/// The whole cluster after a step: every node, and the messages sent and not yet received.
public struct ClusterMoment: Sendable {
    public var step: Int
    public var time: UInt64
    public var nodes: [NodeMoment]
    public var inFlight: [FlightMessage]

    /// The running leader of the highest term (nil: none).
    public var leader: NodeID? {
        nodes.filter { $0.frame.alive && $0.frame.role == .leader }.max { $0.frame.term < $1.frame.term }?.id
    }
}

/// What one step was: the records its node took (the first is the input), the messages it
/// received and sent, and how its state changed, in words.
public struct StepDetail: Sendable {
    public var step: Int
    public var node: NodeID
    public var time: UInt64
    public var records: [TraceRecord]
    public var received: [FlightMessage]
    public var sent: [FlightMessage]
    public var changes: [String]
}

/// One node's log through a replay, as versions of entries: each written at one step and valid
/// until the step it was cut or overwritten (`Int.max`: still there). The current view is what
/// the core held after the node's last move; `update` compares it with the core's log from the
/// end backwards — by log matching, entries of the same index and term are the same entry — so
/// a move costs what it changed.
struct LogHistory {
    struct Version {
        var entry: Entry
        var from: Int
        var to: Int
    }

    /// The log index of `versions[0]`.
    private var base = 1
    private var versions: [[Version]] = []
    private var last = 0
    /// The steps at which entries were written and cut, with the indexes, in step order.
    private var writes: [(step: Int, indexes: ClosedRange<LogIndex>)] = []
    private var cuts: [(step: Int, indexes: ClosedRange<LogIndex>)] = []

    private func current(_ index: LogIndex) -> Version? {
        let slot = index - base
        guard slot >= 0 && slot < versions.count, let version = versions[slot].last, version.to == Int.max else { return nil }
        return version
    }

    mutating func update(to log: RaftLog, at step: Int) {
        let newLast = log.lastIndex
        let floor = log.snapshotIndex
        var same = min(last, newLast)
        while same > floor, let version = current(same), version.entry.term != log.term(at: same) { same -= 1 }
        if last > same {
            for index in (same + 1)...last {
                let slot = index - base
                guard slot >= 0 && slot < versions.count, var version = versions[slot].last, version.to == Int.max else { continue }
                version.to = step
                versions[slot][versions[slot].count - 1] = version
            }
            cuts.append((step, (same + 1)...last))
        }
        let start = max(same, floor) + 1
        if newLast >= start {
            if versions.isEmpty { base = start }
            if start < base {
                versions.insert(contentsOf: Array(repeating: [], count: base - start), at: 0)
                base = start
            }
            for entry in log.entries(from: start, through: newLast) {
                let slot = entry.index - base
                while versions.count <= slot { versions.append([]) }
                versions[slot].append(Version(entry: entry, from: step, to: Int.max))
            }
            writes.append((step, start...newLast))
        }
        last = newLast
    }

    /// The last `count` entries as they were after `step`, for a node whose state then was `frame`.
    func tail(frame: NodeFrame, at step: Int, count: Int) -> LogTail {
        let first = max(frame.snapshotIndex + 1, frame.lastIndex - max(0, count) + 1)
        var entries: [Entry] = []
        if first <= frame.lastIndex {
            entries.reserveCapacity(frame.lastIndex - first + 1)
            for index in first...frame.lastIndex {
                let slot = index - base
                let version = slot >= 0 && slot < versions.count
                    ? versions[slot].last { $0.from <= step && step < $0.to } : nil
                entries.append(version?.entry ?? Entry(index: index, term: 0, data: ""))
            }
        }
        return LogTail(first: first, entries: entries, snapshotIndex: frame.snapshotIndex, snapshotTerm: frame.snapshotTerm,
                       commitIndex: frame.commitIndex, last: frame.lastIndex)
    }

    /// The entries written at `step`.
    func written(at step: Int) -> [Entry] {
        guard let found = Self.find(writes, step) else { return [] }
        return found.compactMap { index in
            let slot = index - base
            guard slot >= 0 && slot < versions.count else { return nil }
            return versions[slot].last { $0.from == step }?.entry
        }
    }

    /// The indexes cut at `step`.
    func cut(at step: Int) -> [LogIndex] {
        Self.find(cuts, step).map(Array.init) ?? []
    }

    private static func find(_ list: [(step: Int, indexes: ClosedRange<LogIndex>)], _ step: Int) -> ClosedRange<LogIndex>? {
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].step < step { low = middle + 1 } else { high = middle }
        }
        return low < list.count && list[low].step == step ? list[low].indexes : nil
    }
}
