import RaftCore

/// Whoever hears every call an engine makes into its core, in order, on the engine's thread: the
/// flight recorder of a running node, or a replay that checks each call against a recording.
/// An engine calls `record` for every input (`tick`, `receive` and the other calls that go through
/// the engine's `note` are recorded just before the core sees them; calls that return something,
/// just after), offers `checkpoint` at a quiet moment when `wantsCheckpoint` says so, and says
/// `stopped` once.
public protocol CoreRecorder: AnyObject {
    /// A copy of the core is wanted at the next quiet moment (between flushes, nothing waiting in `takeReady`).
    var wantsCheckpoint: Bool { get }
    func checkpoint(_ core: RaftNode)
    func record(_ input: CoreInput)
    /// The node (re)started with `core`, built from what was `loaded`.
    func started(core: RaftNode, loaded: LoadSummary)
    /// The node stopped; `failed`: because a write failed, so its last Ready may be on disk only in part.
    func stopped(reason: String, failed: Bool)
    /// Hands out what was gathered since the last call (end of a flush, a start, a stop).
    func drain()
}

extension FlightRecorder: CoreRecorder {}
