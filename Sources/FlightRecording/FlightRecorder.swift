import RaftCore

/// Receives a node's records as they happen, for a recording written continuously (`--record`).
/// Called on the node's thread; implementations hand the work elsewhere.
public protocol TraceSink: AnyObject, Sendable {
    func write(_ records: [TraceRecord])
}

/// A node's flight recorder: every call its engine makes into the core — ticks, messages,
/// proposals, read requests, membership changes, persistence notices, compactions, each
/// `takeReady` with the digest of what it handed out — and every (re)start with the core built
/// from what was loaded, in order, time-stamped.
///
/// Memory stays bounded: records go into segments of at most `segmentInputs`; each segment
/// begins with a copy of the core (a `start`, or a `checkpoint` taken between flushes — copying
/// the core is cheap, its arrays are shared until written), and the oldest segments are dropped
/// while more than `capacity` records are kept, so the ring always begins at a state a replay
/// can start from. With a `sink`, every
/// record (but the ring's own checkpoints) is also handed out in batches (`drain()`).
///
/// @unchecked Sendable: used only on its node's thread (the queue or loop that owns the engine).
public final class FlightRecorder: @unchecked Sendable {
    public let node: NodeID
    public let capacity: Int
    /// The payload bytes (commands, snapshot bytes) the ring may hold before it drops its oldest
    /// segments: a large state's snapshots push history out rather than pile up.
    public let byteCapacity: Int
    public let segmentInputs: Int
    private let clock: () -> UInt64
    private var segments: [[TraceRecord]] = []
    /// Payload bytes of each segment.
    private var segmentBytes: [Int] = []
    private var totalBytes = 0
    /// Records in `segments`.
    public private(set) var count = 0
    private var nextSeq = 1
    /// The current segment is full: the engine should offer a checkpoint at its next quiet moment.
    public private(set) var wantsCheckpoint = false
    public var sink: TraceSink?
    private var unsent: [TraceRecord] = []

    /// Keeps the last `capacity` records or a few more (whole segments of a quarter of that).
    public init(node: NodeID, capacity: Int, byteCapacity: Int = 64 << 20, clock: @escaping () -> UInt64) {
        precondition(capacity > 0, "a flight recorder keeps at least one record")
        self.node = node
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        self.segmentInputs = max(64, capacity / 4)
        self.clock = clock
    }

    /// The node (re)started with `core`, built from what was `loaded`.
    public func started(core: RaftNode, loaded: LoadSummary) {
        openSegment(TraceRecord(seq: nextSeq, time: clock(), event: .start(core: core, loaded: loaded)))
        nextSeq += 1
    }

    /// A quiet moment (between flushes, nothing waiting in `takeReady`): a new segment begins here.
    public func checkpoint(_ core: RaftNode) {
        wantsCheckpoint = false
        // A checkpoint takes no sequence number: it is a state, not an event.
        openSegment(TraceRecord(seq: nextSeq, time: clock(), event: .checkpoint(core)))
    }

    public func record(_ input: CoreInput) {
        guard !segments.isEmpty else { return }  // nothing before the first start
        let last = segments.count - 1
        if case .tick(let more) = input, sink == nil, let previous = segments[last].last,
           case .input(.tick(let count)) = previous.event {
            // An idle node mostly ticks: one record for a run of ticks keeps the ring long.
            segments[last][segments[last].count - 1].event = .input(.tick(count: count + more))
            return
        }
        append(TraceRecord(seq: nextSeq, time: clock(), event: .input(input)))
        nextSeq += 1
        if segments[segments.count - 1].count >= segmentInputs { wantsCheckpoint = true }
    }

    /// The node stopped; `failed`: because a write failed, so its last Ready may be on disk only in part.
    public func stopped(reason: String, failed: Bool) {
        guard !segments.isEmpty else { return }
        append(TraceRecord(seq: nextSeq, time: clock(), event: .stop(reason: reason, failed: failed)))
        nextSeq += 1
    }

    /// Everything in the ring, oldest first, then (when given) the core as it is now: a state the
    /// replay must reach exactly at the end. Call it on the node's thread.
    public func recording(current core: RaftNode?) -> [TraceRecord] {
        var records = segments.flatMap { $0 }
        if let core, !records.isEmpty {
            records.append(TraceRecord(seq: nextSeq, time: clock(), event: .checkpoint(core)))
        }
        return records
    }

    /// Adds a state check to a continuous recording (the core as it is now, for the replay to match).
    public func markCurrentState(_ core: RaftNode) {
        guard sink != nil, !segments.isEmpty else { return }
        unsent.append(TraceRecord(seq: nextSeq, time: clock(), event: .checkpoint(core)))
    }

    /// Hands the records gathered since the last call to the sink.
    public func drain() {
        guard let sink, !unsent.isEmpty else { return }
        let batch = unsent
        unsent.removeAll(keepingCapacity: true)
        sink.write(batch)
    }

    private func openSegment(_ record: TraceRecord) {
        segments.append([record])
        segmentBytes.append(0)
        count += 1
        add(bytes: Self.payloadBytes(record.event))
        dropOldSegments()
        if sink != nil, case .start = record.event { unsent.append(record) }
    }

    private func dropOldSegments() {
        while segments.count > 1 && (count - segments[0].count >= capacity || totalBytes > byteCapacity) {
            count -= segments.removeFirst().count
            totalBytes -= segmentBytes.removeFirst()
        }
    }

    private func add(bytes: Int) {
        guard bytes > 0 else { return }
        segmentBytes[segmentBytes.count - 1] += bytes
        totalBytes += bytes
    }

    /// Roughly the bytes a record keeps alive beyond its own size. A core copy shares its arrays
    /// with the live core (its snapshot bytes are counted by the `compact` that made them).
    static func payloadBytes(_ event: TraceEvent) -> Int {
        switch event {
        case .start(let core, _), .checkpoint(let core):
            return core.log.entries.count * 16
        case .input(.receive(let envelope)):
            switch envelope.message {
            case .appendRequest(let request): return request.entries.reduce(0) { $0 + $1.data.utf8.count + 48 }
            case .snapshotRequest(let chunk): return chunk.data.count
            default: return 0
            }
        case .input(.propose(let commands, _)):
            return commands.reduce(0) { $0 + $1.utf8.count + 16 }
        case .input(.compact(let snapshot)):
            // A snapshot kept in its file costs the ring nothing; one in memory its size.
            return snapshot.data.residentCount
        default:
            return 0
        }
    }

    private func append(_ record: TraceRecord) {
        segments[segments.count - 1].append(record)
        count += 1
        let bytes = Self.payloadBytes(record.event)
        if bytes > 0 {
            add(bytes: bytes)
            if totalBytes > byteCapacity { wantsCheckpoint = true }
        }
        if sink != nil { unsent.append(record) }
    }
}
