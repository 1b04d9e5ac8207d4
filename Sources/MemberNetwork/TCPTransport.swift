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
import SecureChannel
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
    /// The peer secret (members prove they know it and MAC every frame), and TLS between members.
    let secret: [UInt8]?
    let security: PeerTLS?
    private let acceptQueue = DispatchQueue(label: "raft.peers.accept")
    private let links = Mutex<[NodeID: PeerLink]>([:])
    private let listener = Mutex<(fd: Int32, source: DispatchSourceBox?)>((-1, nil))
    private let receiver = Mutex<TransportReceiver?>(nil)

    public init(localID: NodeID, listenAddress: String, events: EventLog, lineBytes: Int, secret: String? = nil,
                security: PeerTLS? = nil, addressOf: @escaping @Sendable (NodeID) -> String?) {
        self.secret = secret.map { Array($0.utf8) }
        self.security = security
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

    /// A peer said hello on `fd` (and proved it is node `peer`, when that is asked).
    fileprivate func identified(_ fd: Int32, as peer: NodeID, reader: PeerFrameReader, frames: [PeerFrame], tls: TLSSession?,
                                peerGuard: PeerGuard?) {
        link(peer).adopt(fd, reader: reader, frames: frames, tls: tls, peerGuard: peerGuard)
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

/// The first moments of a connection a peer opened: TLS (when members use it), the hello, and —
/// with a peer secret — the challenge and the proof; then the socket goes to the peer's link. A
/// connection that has not proved itself within five seconds is closed, and so is one that claims
/// to be a node that never dials this one, or fails a proof; each is logged.
private final class Handshake: @unchecked Sendable {
    let fd: Int32
    let network: TCPTransport
    let queue = DispatchQueue(label: "raft.peers.handshake")
    var reader: PeerFrameReader
    var source: DispatchSourceRead?
    var finished = false
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    var tls: TLSSession?
    var plaintext: [UInt8] = []
    var output = OutputBuffer()
    /// After a hello, with a secret: who it claimed to be, and what its proof must be.
    var awaiting: (peer: NodeID, expectedProof: [UInt8], guard: PeerGuard)?

    init(fd: Int32, network: TCPTransport) {
        self.fd = fd
        self.network = network
        self.reader = PeerFrameReader(limit: network.frameLimit)
    }

    func start() {
        queue.async {
            do {
                self.tls = try self.network.security?.accepting()
            } catch {
                return self.fail("cannot start TLS: \(error)")
            }
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { self.readAvailable() }
            self.source = source
            source.resume()
            self.queue.asyncAfter(deadline: .now() + .seconds(5)) { self.fail("it did not complete the handshake within 5 seconds") }
        }
    }

    private func readAvailable() {
        guard !finished else { return }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        guard count > 0 else { return fail(nil) }
        do {
            var frames: [PeerFrame]
            if let tls {
                plaintext.removeAll(keepingCapacity: true)
                try buffer.withUnsafeBytes { try tls.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count]), plaintext: &plaintext) }
                tls.drain(into: &output)
                _ = output.send(to: fd)
                frames = try plaintext.withUnsafeBytes { try reader.feed($0) }
            } else {
                frames = try buffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
            try proceed(&frames)
        } catch {
            fail("\(error)")
        }
    }

    /// Works through the handshake frames; hands the connection over once the peer proved itself.
    private func proceed(_ frames: inout [PeerFrame]) throws {
        if awaiting == nil {
            guard let hello = frames.first else { return }
            frames.removeFirst()
            guard hello.kind == .hello, let (peer, nonce) = PeerGuard.parseHello(hello.payload) else {
                return fail("the first frame is not a hello")
            }
            guard peer >= 0, peer < network.localID else {
                // Only a lower id dials a higher one; anything else is not a member of this cluster.
                return fail("it introduced itself as node \(peer), which never dials node \(network.localID)")
            }
            if let tls, let problem = network.security?.checkIdentity(tls, expected: peer) { return fail(problem) }
            guard let secret = network.secret else { return handOver(peer, frames, nil) }
            guard let nonce else { return fail("node \(peer) did not offer the peer secret's challenge (its hello has no nonce)") }
            let (payload, expected, acceptorNonce) = PeerGuard.challenge(secret: secret, dialer: peer, acceptor: network.localID,
                                                                         dialerNonce: nonce)
            awaiting = (peer, expected, PeerGuard.acceptor(secret: secret, dialer: peer, acceptor: network.localID,
                                                           dialerNonce: nonce, acceptorNonce: acceptorNonce))
            send(PeerFrame(kind: .challenge, payload: payload))
        }
        guard let (peer, expected, peerGuard) = awaiting, let proof = frames.first else { return }
        frames.removeFirst()
        guard proof.kind == .proof, constantTimeEquals(proof.payload, expected) else {
            return fail("node \(peer) does not know the peer secret (its proof is wrong)")
        }
        handOver(peer, frames, peerGuard)
    }

    private func send(_ frame: PeerFrame) {
        let bytes = frame.encoded()
        if let tls {
            try? bytes.withUnsafeBytes { try tls.send($0) }
            tls.drain(into: &output)
        } else {
            output.append(bytes)
        }
        _ = output.send(to: fd)
    }

    private func handOver(_ peer: NodeID, _ frames: [PeerFrame], _ peerGuard: PeerGuard?) {
        finished = true
        // Hand over without closing: cancel the source, keep the descriptor.
        source?.setCancelHandler {}
        source?.cancel()
        network.identified(fd, as: peer, reader: reader, frames: frames, tls: tls, peerGuard: peerGuard)
    }

    private func fail(_ reason: String?) {
        guard !finished else { return }
        finished = true
        if let reason { network.events.log(.warning, "a connection to the raft port was refused: \(reason)") }
        source?.setCancelHandler { [fd] in Glibc.close(fd) }
        source?.cancel()
        if source == nil { Glibc.close(fd) }
    }
}
