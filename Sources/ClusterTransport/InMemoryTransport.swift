import Dispatch
import RaftCore
import RaftWire
import Synchronization
import NodeHosting
import RuntimeSupport

/// Several runtimes in one process, each on its own endpoint, as if they were member processes
/// on a network — hashicorp/raft's in-memory transport is the model. Every message is put through
/// the same frame codec the TCP transport uses (so what the members say to each other must
/// survive the wire) and delivered on a serial queue per receiving endpoint, in order.
/// `disconnect` and `reconnect` cut and restore the link between two members as a broken TCP
/// connection would (both sides hear `linkLost`); a stopped endpoint is unreachable.
public final class InMemoryNetwork: Sendable {
    private struct State {
        var endpoints: [NodeID: InMemoryTransport] = [:]
        var cut: Set<[NodeID]> = []
        var wireErrors: [String] = []
        /// Client requests passed from one member to another, and Raft messages carried, by kind.
        var forwardedRequests = 0
        var raftMessages: [String: Int] = [:]
    }

    private let state = Mutex(State())
    /// Frames carried, over all endpoints.
    private let carried = Atomic<Int>(0)

    public init() {}

    /// The endpoint of the member that runs `node`, made on first use.
    public func endpoint(_ node: NodeID) -> InMemoryTransport {
        state.withLock { state in
            if let existing = state.endpoints[node] { return existing }
            let endpoint = InMemoryTransport(node: node, network: self)
            state.endpoints[node] = endpoint
            return endpoint
        }
    }

    /// Breaks the link between `a` and `b` until `reconnect`.
    public func disconnect(_ a: NodeID, _ b: NodeID) {
        let (first, second) = state.withLock { state -> (InMemoryTransport?, InMemoryTransport?) in
            state.cut.insert([min(a, b), max(a, b)])
            return (state.endpoints[a], state.endpoints[b])
        }
        first?.peerLost(b)
        second?.peerLost(a)
    }

    public func reconnect(_ a: NodeID, _ b: NodeID) {
        _ = state.withLock { $0.cut.remove([min(a, b), max(a, b)]) }
    }

    public var framesCarried: Int { carried.load(ordering: .relaxed) }

    /// Messages that did not survive encoding and decoding (a member bug; should stay empty).
    public var wireErrors: [String] { state.withLock { $0.wireErrors } }

    fileprivate func recordWireError(_ text: String) {
        state.withLock { $0.wireErrors.append(text) }
    }

    /// The endpoint a message from `from` to `to` reaches, if the link is up.
    fileprivate func route(from: NodeID, to: NodeID) -> InMemoryTransport? {
        state.withLock { state in
            guard !state.cut.contains([min(from, to), max(from, to)]) else { return nil }
            return state.endpoints[to]
        }
    }

    fileprivate func countFrame(_ message: PeerMessage) {
        carried.add(1, ordering: .relaxed)
        switch message {
        case .request:
            state.withLock { $0.forwardedRequests += 1 }
        case .raft(let envelopes):
            state.withLock { state in
                for envelope in envelopes { state.raftMessages[MessageKind.of(envelope.message).rawValue, default: 0] += 1 }
            }
        default:
            break
        }
    }

    /// Client requests one member passed to another to serve (`PeerMessage.request`).
    public var forwardedRequests: Int { state.withLock { $0.forwardedRequests } }

    /// Raft messages of one kind carried so far.
    public func raftMessages(_ kind: MessageKind) -> Int { state.withLock { $0.raftMessages[kind.rawValue] ?? 0 } }

    /// Every other started endpoint (for `linkLost` when one stops).
    fileprivate func others(than node: NodeID) -> [InMemoryTransport] {
        state.withLock { state in state.endpoints.keys.sorted().filter { $0 != node }.map { state.endpoints[$0]! } }
    }
}

/// One member's endpoint on an `InMemoryNetwork`.
public final class InMemoryTransport: Transport, Sendable {
    public let node: NodeID
    private let network: InMemoryNetwork
    private let queue: DispatchQueue
    private let receiver = Mutex<TransportReceiver?>(nil)

    fileprivate init(node: NodeID, network: InMemoryNetwork) {
        self.node = node
        self.network = network
        self.queue = DispatchQueue(label: "raft.inmemory.\(node)")
    }

    public func start(receiver: TransportReceiver) throws(TransportError) {
        self.receiver.withLock { $0 = receiver }
    }

    public func stop() {
        guard receiver.withLock({ $0 }) != nil else { return }
        receiver.withLock { $0 = nil }
        for other in network.others(than: node) { other.peerLost(node) }
    }

    public func send(_ message: PeerMessage, to target: NodeID, onDrop: (@Sendable () -> Void)?) {
        guard receiver.withLock({ $0 }) != nil, let destination = network.route(from: node, to: target) else {
            onDrop?()
            return
        }
        let frame = PeerMessageCodec.frame(message).encoded()
        network.countFrame(message)
        destination.arrive(frame, from: node)
    }

    /// A frame from `sender`, decoded as the TCP transport would decode it.
    private func arrive(_ bytes: [UInt8], from sender: NodeID) {
        queue.async {
            guard let receiver = self.receiver.withLock({ $0 }) else { return }
            var reader = PeerFrameReader(limit: Int.max)
            do {
                let frames = try bytes.withUnsafeBytes { try reader.feed($0) }
                for frame in frames {
                    receiver.received(try PeerMessageCodec.message(frame, from: sender, to: self.node), from: sender)
                }
            } catch {
                // A member said something the wire cannot carry: a bug the tests must see.
                self.network.recordWireError("node \(sender) to node \(self.node): \(error)")
            }
        }
    }

    fileprivate func peerLost(_ peer: NodeID) {
        queue.async { self.receiver.withLock { $0 }?.linkLost(to: peer) }
    }
}
