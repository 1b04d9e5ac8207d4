import RaftCore
import RaftEngine
import RaftStorage

/// A replayed engine's executor, on the replay's thread. The work a snapshot's start offloads
/// (serializing the state, preparing the file) is held until the recording shows that
/// snapshot's compaction, and finishes exactly there; any other work (loading a snapshot
/// received from the leader, which makes no call into the core) finishes as soon as the move
/// that offloaded it is done.
///
/// @unchecked Sendable: a replay is single-threaded; no job leaves the replay's thread.
final class ReplayExecutor: EngineExecutor, @unchecked Sendable {
    private var holdingNext = false
    /// The held snapshot's finish; given a snapshot, it finishes with that one instead of its own.
    private var held: ((Snapshot?) -> Void)?
    private var due: [() -> Void] = []

    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping @Sendable (T) -> Void) {
        guard holdingNext else { return due.append { then(work()) } }
        holdingNext = false
        held = { replacement in
            // A snapshot's work yields the prepared file (if that ever changes, the engine finishes
            // its own snapshot and the replay reports the difference).
            if let replacement, let prepared = Self.prepared(replacement) as? T {
                then(prepared)
            } else {
                then(work())
            }
        }
    }

    /// What a snapshot's work yields: the prepared snapshot, already committed (the caller of
    /// `releaseHeld(replacingWith:)` stores a replacement itself).
    private static func prepared(_ snapshot: Snapshot) -> Result<PreparedSnapshot?, StorageError> {
        .success(PreparedSnapshot(snapshot: snapshot, temporaryPath: nil))
    }

    /// A snapshot's work is held, waiting for its compaction in the recording.
    var isHolding: Bool { held != nil }

    /// Runs `start` (which starts a snapshot) and holds the work it offloads.
    func hold(_ start: () -> Void) {
        holdingNext = true
        start()
        holdingNext = false
    }

    /// Finishes the held snapshot: the engine commits it, cuts its log and tells the core. With
    /// `replacement`, the engine finishes that snapshot instead of the one it started.
    func releaseHeld(replacingWith replacement: Snapshot? = nil) {
        let job = held
        held = nil
        job?(replacement)
    }

    /// Finishes every other job offloaded so far (and those they offload in turn).
    func runDue() {
        while !due.isEmpty {
            due.removeFirst()()
        }
    }
}
