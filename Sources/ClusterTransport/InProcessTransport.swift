import RaftCore
import Synchronization
import NodeHosting
import RuntimeSupport

/// The transport of the one-process cluster: every node is in this process, so a message is
/// handed straight to the receiver (the runtime's `Switchboard`, which puts it on the node's
/// queue). Only Raft messages travel here; there are no other runtimes to talk to.
public final class InProcessTransport: Transport, Sendable {
    private let receiver = Mutex<TransportReceiver?>(nil)

    public init() {}

    public func start(receiver: TransportReceiver) throws(TransportError) {
        self.receiver.withLock { $0 = receiver }
    }

    public func send(_ message: PeerMessage, to node: NodeID, onDrop: (@Sendable () -> Void)?) {
        guard case .raft(let envelopes) = message, let first = envelopes.first,
              let receiver = receiver.withLock({ $0 }) else {
            onDrop?()
            return
        }
        receiver.received(message, from: first.from)
    }

    public func stop() {
        receiver.withLock { $0 = nil }
    }
}
