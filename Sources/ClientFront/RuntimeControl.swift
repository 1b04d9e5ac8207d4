import KVWire
import RaftCore

/// What differs between runtimes, as admin requests see it. Each composition root (the
/// one-process cluster, a member process) provides one; nothing else in the client front asks
/// which runtime it is in.
public protocol RuntimeControl: AnyObject, Sendable {
    /// How `status` names the runtime ("one process", "one node per process").
    var modeName: String { get }
    /// Why pause and step cannot be used here (nil: they can).
    var pauseAndStepRefusal: String? { get }
    /// Why an `add` with these addresses cannot be served here (nil: it can).
    func refusalToAdd(_ node: NodeID, addresses: MemberAddressFields) -> String?
    /// At the leader, before the change is proposed: a runtime that hosts new nodes itself
    /// creates node `node` now, so it is there to catch up as a learner.
    func willAdd(_ node: NodeID)
    /// The `add` of `node` ended (it became a voter, or not).
    func finishedAdding(_ node: NodeID, succeeded: Bool)
    /// `node` left the committed configuration through `remove`.
    func removed(_ node: NodeID)
    /// Passes a cluster-wide switch to every other runtime (nothing to do with one process).
    func broadcast(_ request: AdminRequest)
}

/// The figures admin requests need from the configuration.
public struct AdminSettings: Sendable {
    public var enabled: Bool
    public var requestTimeoutMs: Int
    /// The nodes' timer period, for the page's election arcs.
    public var tickMs: Int

    public init(enabled: Bool, requestTimeoutMs: Int, tickMs: Int) {
        self.enabled = enabled
        self.requestTimeoutMs = requestTimeoutMs
        self.tickMs = tickMs
    }
}
