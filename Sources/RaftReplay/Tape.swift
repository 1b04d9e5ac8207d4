import FlightRecording
import RaftCore

/// One node's recording and how far the replay has read it. Taking a record counts it as a
/// step and checks that no record is missing before it; `nextCompaction` looks ahead.
final class Tape {
    let trace: NodeTrace
    unowned let checks: ReplayChecks
    private(set) var cursor = 0
    private var lastSeq: Int?
    /// Where the last look-ahead for a compaction stopped, and what it found there.
    private var compactionScan: (position: Int, index: LogIndex?)?

    init(trace: NodeTrace, checks: ReplayChecks) {
        self.trace = trace
        self.checks = checks
    }

    var node: NodeID { trace.node }
    var next: TraceRecord? { record(at: cursor) }
    /// Nothing has been taken yet.
    var atStart: Bool { cursor == 0 }

    func record(at position: Int) -> TraceRecord? {
        position < trace.records.count ? trace.records[position] : nil
    }

    /// Takes the next record: it is replayed now. A gap before it is reported (`badTrace`).
    @discardableResult
    func take() -> TraceRecord {
        let record = trace.records[cursor]
        cursor += 1
        checks.counted(record, node: node)
        if case .checkpoint = record.event {
            // A state, not an event: it carries the number the next event will have.
        } else {
            if let last = lastSeq, record.seq != last + 1 {
                checks.report(.badTrace, "records \(last + 1)...\(record.seq - 1) are missing")
            }
            lastSeq = record.seq
        }
        return record
    }

    /// The index of the next snapshot the recording shows this node compacting to before it
    /// stops or restarts (nil: none). Amortized: a scan is reused until the cursor passes it.
    func nextCompaction() -> LogIndex? {
        if let scan = compactionScan, scan.position >= cursor { return scan.index }
        var position = cursor
        var found: LogIndex?
        scanning: while position < trace.records.count {
            switch trace.records[position].event {
            case .input(.compact(let snapshot)):
                found = snapshot.index
                break scanning
            case .stop, .start:
                break scanning
            default:
                position += 1
            }
        }
        compactionScan = (position, found)
        return found
    }
}
