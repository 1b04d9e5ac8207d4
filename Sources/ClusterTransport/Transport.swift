import KVWire
import NodeHosting
import RaftCore
import RaftWire
import RuntimeSupport

/// Everything one runtime says to another: Raft messages, and — between member processes — the
/// member's status, cluster-wide switches, client writes passed to the leader's member and what
/// became of them, and client requests passed to the member that can serve them.
public enum PeerMessage: Sendable {
    /// Raft messages, all for one node.
    case raft([Envelope])
    /// The sender's node status (every 200 ms), so `status` anywhere shows the whole cluster.
    case status(NodeStatus)
    /// A cluster-wide switch (partition, isolate, slow, heal, slow motion) to apply here too.
    case admin(AdminRequest)
    /// Client writes for the receiver's node to propose (it leads), and their fates coming back.
    case proposals([ForwardedProposal])
    case outcomes([(id: UInt64, outcome: ForwardedOutcome)])
    /// A client request this member cannot serve (`hops` members have passed it on so far), and
    /// its answer line (without the client's id; nil: the receiver could not answer).
    case request(id: UInt64, hops: Int, request: ClientRequest)
    case answer(id: UInt64, line: String)
}

/// Where a transport hands what arrives for this runtime. Called on the transport's threads.
public protocol TransportReceiver: AnyObject, Sendable {
    func received(_ message: PeerMessage, from node: NodeID)
    /// The link to `node`'s runtime broke: what was sent on it may or may not have arrived.
    func linkLost(to node: NodeID)
}

/// The one seam between runtimes: it carries `PeerMessage`s to the runtime that hosts a node.
/// Every runtime talks to one: the in-process cluster (`InProcessTransport`: every node is
/// here), member processes over TCP (`TCPTransport` in MemberNetwork) and member runtimes inside
/// one test process (`InMemoryTransport`). Faults (partitions, delays, pause and step) are not
/// the transport's business: they are applied above it, in the `Switchboard`.
///
/// Delivery is best effort and in order per destination: a message to a runtime that cannot be
/// reached is dropped (`onDrop` says so); Raft sends again, and the other callers know what a
/// drop means.
public protocol Transport: AnyObject, Sendable {
    /// Starts carrying; what arrives goes to `receiver`.
    func start(receiver: TransportReceiver) throws(TransportError)
    func send(_ message: PeerMessage, to node: NodeID, onDrop: (@Sendable () -> Void)?)
    func stop()
}

extension Transport {
    public func send(_ message: PeerMessage, to node: NodeID) {
        send(message, to: node, onDrop: nil)
    }
}

/// Why a transport could not start.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
