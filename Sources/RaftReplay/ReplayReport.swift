import RaftCore

/// What stopped a replay: the re-run disagreed with the recording (`divergence`), a safety
/// property broke (`violation`), or the recording itself is unusable (`badTrace`).
public struct ReplayProblem: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case divergence, violation, badTrace }
    public var kind: Kind
    public var step: Int
    public var node: NodeID
    public var seq: Int
    public var text: String

    public var description: String {
        let what: String
        switch kind {
        case .divergence: what = "the replay diverged from the recording"
        case .violation: what = "safety violation"
        case .badTrace: what = "unusable recording"
        }
        return "\(what) at step \(step) (node \(node), record \(seq)): \(text)"
    }
}

/// One replayed step (one record of one node), for a step-by-step listing.
public struct ReplayStep: Sendable {
    public var step: Int
    public var time: UInt64
    public var node: NodeID
    public var seq: Int
    public var text: String
}

/// How far a replay got and what it checked.
public struct ReplaySummary: Sendable {
    /// Records replayed, over all nodes.
    public var steps = 0
    public var readies = 0
    public var checkpointsMatched = 0
    public var restarts = 0
    /// The step from which the safety checks ran (nil: they never could — see `uncheckedReason`),
    /// and the commit index taken on trust there (0: the recording begins with the cluster).
    public var checkedFromStep: Int?
    public var trustedThrough = 0
    public var uncheckedReason: String?
    public var problem: ReplayProblem?
    /// Every record of every node was replayed.
    public var finished = false
}

/// A message a replayed engine sent that no replayed node has received yet (it may be on its
/// way, or lost: a message the network dropped stays until the replay's `inFlightLimit` pushes
/// it out, oldest first).
public struct InFlightMessage: Sendable, Equatable {
    /// The step at which it was sent.
    public var step: Int
    public var envelope: Envelope
}
