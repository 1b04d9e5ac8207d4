/// What a node applies its committed entries to: deterministic, so every node that applies the
/// same commands in the same order holds the same state; snapshotted and rebuilt from snapshots.
/// The core never calls it; it is the contract between the runtime's pipeline and the application.
public protocol ReplicatedStateMachine: Sendable {
    /// What applying a command tells the client that proposed it.
    associatedtype Output: Sendable
    /// A copy of the state, cheap to take on the node's thread and safe to serialize on another.
    associatedtype Frozen: Sendable

    /// The empty state, before any entry.
    init()
    /// The state a snapshot holds, as of entry `appliedIndex` (the bytes are borrowed: a file
    /// mapped into memory, or an array).
    init(restoring bytes: UnsafeRawBufferPointer, appliedIndex: LogIndex) throws
    /// The index of the last entry applied or skipped.
    var appliedIndex: LogIndex { get }
    /// How many items the state holds (reported with each snapshot).
    var itemCount: Int { get }
    /// Applies the command of entry `index` (which follows `appliedIndex`); throws when the
    /// command is unreadable, in which case the entry counts as skipped.
    mutating func apply(command: String, at index: LogIndex) throws -> Output
    /// Records that entry `index` holds no command (a leader's no-op, a configuration).
    mutating func skip(to index: LogIndex)
    func freeze() -> Frozen
    /// Writes a frozen state's bytes to `sink`, in pieces, so a large state never sits in
    /// memory twice; the bytes are what `init(restoring:appliedIndex:)` reads back.
    static func serialize(_ frozen: Frozen, to sink: any SnapshotSink) throws
}

/// Where a snapshot's bytes are written as they are produced (a file, or memory).
public protocol SnapshotSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// A sink that keeps the bytes in memory.
public final class MemorySnapshotSink: SnapshotSink {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) {
        self.bytes.append(contentsOf: bytes)
    }
}

extension ReplicatedStateMachine {
    /// The state a snapshot holds, from an array of its bytes.
    public init(restoring data: [UInt8], appliedIndex: LogIndex) throws {
        self = try data.withUnsafeBytes { try Self(restoring: $0, appliedIndex: appliedIndex) }
    }

    /// The state a snapshot holds, wherever its bytes are (read whole, or mapped from its file).
    public init(restoring data: SnapshotData, appliedIndex: LogIndex) throws {
        self = try data.withContiguousBytes { try Self(restoring: $0, appliedIndex: appliedIndex) }
    }

    /// A frozen state's bytes, in memory.
    public static func serialize(_ frozen: Frozen) -> [UInt8] {
        let sink = MemorySnapshotSink()
        // A memory sink cannot fail; a state machine that throws for its own reasons would be a bug.
        do { try serialize(frozen, to: sink) } catch { preconditionFailure("serializing to memory failed: \(error)") }
        return sink.bytes
    }
}
