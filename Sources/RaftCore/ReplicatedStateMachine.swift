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
    /// The state a snapshot holds, as of entry `appliedIndex`.
    init(restoring data: [UInt8], appliedIndex: LogIndex) throws
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
    static func serialize(_ frozen: Frozen) -> [UInt8]
}
