#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterTransport
import Dispatch
import NetworkIO
import NodeHosting
import RaftCore
import RaftWire
import RuntimeSupport
import Synchronization

/// The transport between member processes: listens on the member's `raft` address, keeps one
/// TCP connection per peer member (`PeerLink`: the lower id dials, reconnects with backoff,
/// bounded queues with heartbeats ahead of snapshot chunks), and puts every `PeerMessage` on the
/// wire as a checksummed `PeerFrame`. A peer that sends garbage, a frame over the limit or a
/// message no member would send is disconnected and logged; the member keeps serving.
public final class TCPTransport: Transport, @unchecked Sendable {
    let localID: NodeID
    let listenAddress: String
    let events: EventLog
    let frameLimit: Int
    /// Where each peer's raft port is (the registry knows, from the config and configurations).
    private let addressOf: @Sendable (NodeID) -> String?
    private let acceptQueue = DispatchQueue(label: "raft.peers.accept")
    private let links = Mutex<[NodeID: PeerLink]>([:])
    private let listener = Mutex<(fd: Int32, source: DispatchSourceBox?)>((-1, nil))
    private let receiver = Mutex<TransportReceiver?>(nil)

    public init(localID: NodeID, listenAddress: String, events: EventLog, lineBytes: Int,
                addressOf: @escaping @Sendable (NodeID) -> String?) {
        self.localID = localID
        self.listenAddress = listenAddress
        self.events = events
        self.frameLimit = max(16 << 20, 2 * lineBytes + (2 << 20))
        self.addressOf = addressOf
    }

    func raftAddress(of node: NodeID) -> String? { addressOf(node) }

    // MARK: - Transport

    /// Listens on the raft address; links to peers are made as messages for them come.
    public func start(receiver: TransportReceiver) throws(TransportError) {
        self.receiver.withLock { $0 = receiver }
        guard let split = MemberAddresses.split(listenAddress) else {
            throw TransportError("cannot listen for peers on \(listenAddress): not a host:port address")
        }
        let fd: Int32
        do {
            fd = try Sockets.listen(host: split.host, port: split.port)
        } catch {
            throw TransportError("cannot listen for peers on \(listenAddress): \(error)")
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll(fd) }
        source.setCancelHandler { Glibc.close(fd) }
        listener.withLock { $0 = (fd, DispatchSourceBox(source)) }
        source.resume()
    }

    public func stop() {
        listener.withLock { $0.source?.source.cancel() }
        // The links hold the transport; dropping them here ends that cycle.
        let stopped = links.withLock { links -> [PeerLink] in
            defer { links.removeAll() }
            return Array(links.values)
        }
        for link in stopped { link.stop() }
        receiver.withLock { $0 = nil }
    }

    public func send(_ message: PeerMessage, to node: NodeID, onDrop: (@Sendable () -> Void)?) {
        guard node != localID else { return }
        let bulk: Bool
        if case .raft(let envelopes) = message {
            bulk = envelopes.contains { if case .snapshotRequest = $0.message { return true } else { return false } }
        } else {
            bulk = false
        }
        link(node).send(PeerMessageCodec.frame(message).encoded(), bulk: bulk, onDrop: onDrop)
    }

    /// The link to `peer`, made on first use.
    private func link(_ peer: NodeID) -> PeerLink {
        let (link, isNew) = links.withLock { links -> (PeerLink, Bool) in
            if let link = links[peer] { return (link, false) }
            let link = PeerLink(peer: peer, network: self, dials: localID < peer)
            links[peer] = link
            return (link, true)
        }
        if isNew { link.start() }
        return link
    }

    // MARK: - Incoming connections

    private func acceptAll(_ listenFD: Int32) {
        while let fd = Sockets.accept(listenFD) {
            Handshake(fd: fd, network: self).start()
        }
    }

    /// A peer said hello on `fd`: it is node `peer`.
    fileprivate func identified(_ fd: Int32, as peer: NodeID, reader: PeerFrameReader, frames: [PeerFrame]) {
        guard peer >= 0, peer < localID else {
            // Only a lower id dials a higher one; anything else is not a member of this cluster.
            events.log(.warning, "a connection to the raft port introduced itself as node \(peer), which never dials node \(localID); closed")
            Glibc.close(fd)
            return
        }
        link(peer).adopt(fd, reader: reader, frames: frames)
    }

    // MARK: - From the links

    /// Frames from `peer` (on its link's queue). Returns why the link should be closed, when
    /// the peer sent something no member would.
    func received(_ frames: [PeerFrame], from peer: NodeID) -> String? {
        guard let receiver = receiver.withLock({ $0 }) else { return nil }
        for frame in frames {
            do {
                receiver.received(try PeerMessageCodec.message(frame, from: peer, to: localID), from: peer)
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    /// The link to `peer` broke.
    func linkLost(_ peer: NodeID) {
        receiver.withLock { $0 }?.linkLost(to: peer)
    }
}

/// Reads the hello frame of a connection a peer opened, then hands the socket to its link.
/// A connection that does not say hello within five seconds is closed.
private final class Handshake: @unchecked Sendable {
    let fd: Int32
    let network: TCPTransport
    let queue = DispatchQueue(label: "raft.peers.handshake")
    var reader: PeerFrameReader
    var source: DispatchSourceRead?
    var finished = false
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32, network: TCPTransport) {
        self.fd = fd
        self.network = network
        self.reader = PeerFrameReader(limit: network.frameLimit)
    }

    func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { self.readAvailable() }
            self.source = source
            source.resume()
            self.queue.asyncAfter(deadline: .now() + .seconds(5)) { self.fail("no hello within 5 seconds") }
        }
    }

    private func readAvailable() {
        guard !finished else { return }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        guard count > 0 else { return fail(nil) }
        do {
            var frames = try buffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            guard let hello = frames.first else { return }
            guard hello.kind == .hello, let text = String(validating: hello.payload, as: UTF8.self), let peer = Int(text) else {
                return fail("the first frame is not a hello")
            }
            frames.removeFirst()
            finished = true
            // Hand over without closing: cancel the source, keep the descriptor.
            source?.setCancelHandler {}
            source?.cancel()
            network.identified(fd, as: peer, reader: reader, frames: frames)
        } catch {
            fail("\(error)")
        }
    }

    private func fail(_ reason: String?) {
        guard !finished else { return }
        finished = true
        if let reason { network.events.log(.warning, "a connection to the raft port was closed: \(reason)") }
        source?.setCancelHandler { [fd] in Glibc.close(fd) }
        source?.cancel()
    }
}
