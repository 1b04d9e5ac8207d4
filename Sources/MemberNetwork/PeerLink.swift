#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import NodeHosting
import RaftCore
import RaftStorage
import RaftWire
import RuntimeSupport
import SecureChannel

/// One open socket and its dispatch sources. The descriptor is closed only once every source on
/// it has been cancelled. Confined to its link's queue.
final class PeerSocket {
    let fd: Int32
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var liveSources = 0
    private(set) var closed = false
    private let queue: DispatchQueue

    init(fd: Int32, queue: DispatchQueue) {
        self.fd = fd
        self.queue = queue
    }

    func startReading(_ handler: @escaping () -> Void) {
        guard !closed, readSource == nil else { return }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler(handler: handler)
        source.setCancelHandler { [self] in self.sourceEnded() }
        liveSources += 1
        readSource = source
        source.resume()
    }

    /// Calls `handler` when the socket can take more bytes (or a connect finished).
    func armWrite(_ handler: @escaping () -> Void) {
        guard !closed, writeSource == nil else { return }
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler(handler: handler)
        source.setCancelHandler { [self] in self.sourceEnded() }
        liveSources += 1
        writeSource = source
        source.resume()
    }

    func disarmWrite() {
        writeSource?.cancel()
        writeSource = nil
    }

    func close() {
        guard !closed else { return }
        closed = true
        readSource?.cancel()
        readSource = nil
        writeSource?.cancel()
        writeSource = nil
        if liveSources == 0 { Glibc.close(fd) }
    }

    private func sourceEnded() {
        liveSources -= 1
        if closed && liveSources == 0 { Glibc.close(fd) }
    }
}

/// The connection to one peer member and what waits to go to it. Exactly one side of each pair
/// dials (the lower node id), so there is one connection per pair; the dialer reconnects with
/// backoff. Outgoing frames wait in two bounded queues: urgent (votes, appends, heartbeats,
/// status) and bulk (snapshot chunks), urgent first, so a snapshot being streamed never holds
/// heartbeats back for longer than one chunk. While there is no connection, messages are dropped:
/// Raft sends them again.
///
/// On the wire, frames may pass through two layers: the peer secret's MAC (`PeerGuard`, after a
/// challenge–response) and TLS (mutual, member certificates). Nothing but the handshake goes out
/// before the peer has proved who it is.
///
/// @unchecked Sendable: every mutable field is confined to `queue`.
final class PeerLink: @unchecked Sendable {
    let peer: NodeID
    let queue: DispatchQueue
    let network: TCPTransport
    let dials: Bool

    private var socket: PeerSocket?
    private var connected = false
    /// The peer proved who it is: queued frames may go.
    private var ready = false
    private var reader: PeerFrameReader
    private var tls: TLSSession?
    private var peerGuard: PeerGuard?
    /// The dialer's nonce while it waits for the acceptor's challenge.
    private var helloNonce: [UInt8]?
    private var urgent: [[UInt8]] = []
    private var bulk: [[UInt8]] = []
    /// Bytes for the socket (after the MAC and TLS layers).
    private var wire = OutputBuffer()
    private var queuedBytes = 0
    private var backoffMs = 50
    private var reconnectPending = false
    private var stopped = false
    private var lastComplaint: UInt64 = 0
    private var receiveBuffer = [UInt8](repeating: 0, count: 256 * 1024)
    private var plaintext: [UInt8] = []
    /// Frames dropped because the link was down or its queue full.
    private(set) var dropped = 0

    static let queueLimitBytes = 64 << 20
    /// Frames are layered onto the wire only while it holds less than this (urgent ones go first).
    static let wireBatchBytes = 256 << 10

    init(peer: NodeID, network: TCPTransport, dials: Bool) {
        self.peer = peer
        self.network = network
        self.dials = dials
        self.queue = DispatchQueue(label: "raft.peer.\(peer)", qos: .userInitiated)
        self.reader = PeerFrameReader(limit: network.frameLimit)
    }

    /// Starts dialing (the dialing side), at once.
    func start() {
        queue.async { if self.dials { self.dial() } }
    }

    func stop() {
        queue.async {
            self.stopped = true
            self.disconnect(reason: nil)
        }
    }

    // MARK: - Sending

    /// Queues a frame (any thread). Snapshot chunks go in the bulk queue. `onDrop` runs (on the
    /// link's queue) when the frame is dropped without being queued.
    func send(_ frame: [UInt8], bulk isBulk: Bool, onDrop: (@Sendable () -> Void)? = nil) {
        queue.async { self.sendHere(frame, bulk: isBulk, onDrop: onDrop) }
    }

    /// `send`, already on the link's queue.
    func sendHere(_ frame: [UInt8], bulk isBulk: Bool, onDrop: (@Sendable () -> Void)? = nil) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard connected else {
            dropped += 1
            onDrop?()
            return
        }
        guard queuedBytes + frame.count <= Self.queueLimitBytes else {
            dropped += 1
            complain("the queue to node \(peer) is full (\(queuedBytes) bytes unsent); dropping messages until it drains")
            onDrop?()
            return
        }
        queuedBytes += frame.count
        if isBulk { bulk.append(frame) } else { urgent.append(frame) }
        flush()
    }

    /// A frame of the handshake, ahead of everything (it is not sealed: it carries its own proof).
    private func sendControl(_ frame: PeerFrame) {
        emit(frame.encoded())
        flush()
    }

    /// Puts bytes on the wire through TLS, when the link has it.
    private func emit(_ bytes: [UInt8]) {
        guard let tls else { return wire.append(bytes) }
        do {
            try bytes.withUnsafeBytes { try tls.send($0) }
        } catch {
            return disconnect(reason: "TLS to node \(peer) failed: \(error)")
        }
        tls.drain(into: &wire)
    }

    private func flush() {
        guard connected, let socket else { return }
        if ready {
            while wire.pending < Self.wireBatchBytes, let frame = urgent.isEmpty ? (bulk.isEmpty ? nil : bulk.removeFirst()) : urgent.removeFirst() {
                queuedBytes -= frame.count
                emit(peerGuard.map { $0.seal(frame) } ?? frame)
                guard connected else { return }
            }
        }
        switch wire.send(to: socket.fd) {
        case .sent:
            if ready && !(urgent.isEmpty && bulk.isEmpty) { return flush() }
            socket.disarmWrite()
        case .wouldBlock:
            socket.armWrite { [weak self] in self?.flush() }
        case .failed:
            disconnect(reason: "sending failed: \(SystemError.message(errno))")
        }
    }

    // MARK: - Connecting

    private func dial() {
        guard !stopped, socket == nil else { return }
        guard let address = network.raftAddress(of: peer), let target = MemberAddresses.split(address) else {
            return scheduleReconnect(reason: "the raft address of node \(peer) is not known yet")
        }
        let fd: Int32
        do {
            fd = try Sockets.startConnect(host: target.host, port: target.port)
        } catch {
            return scheduleReconnect(reason: "\(error)")
        }
        let socket = PeerSocket(fd: fd, queue: queue)
        self.socket = socket
        socket.armWrite { [weak self, weak socket] in
            guard let self, let socket, self.socket === socket, !self.connected else { return }
            socket.disarmWrite()
            let code = Sockets.connectError(fd)
            guard code == 0 else {
                self.disconnect(reason: "cannot connect to node \(self.peer) at \(address): \(SystemError.message(code))")
                return
            }
            do {
                self.tls = try self.network.security?.dialing(self.peer, host: target.host)
            } catch {
                return self.disconnect(reason: "cannot start TLS to node \(self.peer): \(error)")
            }
            self.becomeConnected(socket)
            self.helloNonce = self.network.secret == nil ? nil : SecureRandom.nonce()
            self.ready = self.helloNonce == nil && self.tls == nil
            self.sendControl(PeerFrame(kind: .hello, payload: PeerGuard.hello(id: self.network.localID, nonce: self.helloNonce)))
        }
    }

    /// The accepting side: `fd` came from the peer, who said hello (and, with a secret, proved
    /// it knows it); `frames` followed. `tls` and `peerGuard` are the connection's layers.
    func adopt(_ fd: Int32, reader: PeerFrameReader, frames: [PeerFrame], tls: TLSSession?, peerGuard: PeerGuard?) {
        queue.async {
            guard !self.stopped else {
                Glibc.close(fd)
                return
            }
            if self.socket != nil { self.disconnect(reason: nil) }  // the peer reconnected: the old one is dead
            let socket = PeerSocket(fd: fd, queue: self.queue)
            self.socket = socket
            self.reader = reader
            self.tls = tls
            self.peerGuard = peerGuard
            self.becomeConnected(socket)
            self.ready = true
            if !frames.isEmpty { self.deliver(frames) }
            self.flush()
        }
    }

    private func becomeConnected(_ socket: PeerSocket) {
        connected = true
        backoffMs = 50
        network.events.log(.debug, "connected to node \(peer)")
        socket.startReading { [weak self, weak socket] in
            guard let self, let socket, self.socket === socket else { return }
            self.readAvailable(socket)
        }
    }

    // MARK: - Receiving

    private func readAvailable(_ socket: PeerSocket) {
        while connected {
            let count = receiveBuffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                do {
                    let frames = try unwrap(count)
                    if !ready && helloNonce == nil, let tls, tls.isEstablished {
                        // TLS without a secret: the acceptor proved who it is with its certificate.
                        if let problem = network.security?.checkIdentity(tls, expected: peer) { return refuse(problem) }
                        ready = true
                    }
                    if !frames.isEmpty { deliver(frames) }
                } catch {
                    refuse("\(error)")
                    return
                }
                if count < receiveBuffer.count { break }
            } else if count == 0 {
                disconnect(reason: "node \(peer) closed the connection")
                return
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                disconnect(reason: "receiving from node \(peer) failed: \(SystemError.message(errno))")
                return
            }
        }
        flush()  // TLS may have handshake replies to send
    }

    /// The frames in what was just read, through TLS.
    private func unwrap(_ count: Int) throws -> [PeerFrame] {
        guard let tls else {
            return try receiveBuffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        plaintext.removeAll(keepingCapacity: true)
        try receiveBuffer.withUnsafeBytes { try tls.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count]), plaintext: &plaintext) }
        tls.drain(into: &wire)
        guard !plaintext.isEmpty else { return [] }
        return try plaintext.withUnsafeBytes { try reader.feed($0) }
    }

    /// Frames from the peer: the dialer's awaited challenge first, then, with a secret, only
    /// sealed frames whose MAC is right.
    private func deliver(_ frames: [PeerFrame]) {
        var frames = frames[...]
        if !ready {
            guard helloNonce != nil else { return refuse("frames before the TLS handshake ended") }
            guard let challenge = frames.first else { return }
            frames = frames.dropFirst()
            guard establish(with: challenge) else { return }
        }
        var opened: [PeerFrame] = []
        for frame in frames {
            guard let peerGuard else { opened.append(frame); continue }
            guard let inner = peerGuard.open(frame) else {
                return refuse("a frame that fails authentication (forged, replayed or damaged)")
            }
            opened.append(inner)
        }
        if !opened.isEmpty, let problem = network.received(opened, from: peer) { refuse(problem) }
    }

    /// The dialer's side of the secret's handshake: the acceptor's challenge must prove it knows
    /// the secret (and, with TLS, its certificate must be the peer's). Returns whether the link is ready.
    private func establish(with frame: PeerFrame) -> Bool {
        if let tls, let problem = network.security?.checkIdentity(tls, expected: peer) {
            refuse(problem)
            return false
        }
        guard let secret = network.secret, let nonce = helloNonce else { return false }
        guard frame.kind == .challenge,
              let (proof, peerGuard) = PeerGuard.answer(challenge: frame.payload, secret: secret, dialer: network.localID,
                                                       acceptor: peer, dialerNonce: nonce) else {
            refuse("it does not know the peer secret (its challenge does not prove it)")
            return false
        }
        sendControl(PeerFrame(kind: .proof, payload: proof))
        self.peerGuard = peerGuard
        helloNonce = nil
        ready = true
        flush()
        return true
    }

    private func refuse(_ problem: String) {
        network.events.log(.warning, "node \(peer) sent \(problem); connection closed")
        disconnect(reason: nil)
    }

    private func disconnect(reason: String?) {
        let wasConnected = connected
        socket?.close()
        socket = nil
        connected = false
        ready = false
        tls = nil
        peerGuard = nil
        helloNonce = nil
        dropped += urgent.count + bulk.count
        urgent.removeAll()
        bulk.removeAll()
        wire.discardAll()
        queuedBytes = 0
        reader = PeerFrameReader(limit: network.frameLimit)
        if wasConnected { network.linkLost(peer) }
        if let reason, wasConnected { network.events.log(.warning, "lost the connection to node \(peer): \(reason)") }
        if dials && !stopped { scheduleReconnect(reason: wasConnected ? nil : reason) }
    }

    private func scheduleReconnect(reason: String?) {
        if let reason { complain(reason) }
        guard !reconnectPending, !stopped else { return }
        reconnectPending = true
        let delay = backoffMs
        backoffMs = min(backoffMs * 2, 2000)
        queue.asyncAfter(deadline: .now() + .milliseconds(delay)) {
            self.reconnectPending = false
            self.dial()
        }
    }

    /// A warning at most every ten seconds per link, so a dead peer does not flood the log.
    private func complain(_ text: String) {
        let now = MonotonicClock.now()
        guard now - lastComplaint > 10_000_000_000 else { return }
        lastComplaint = now
        network.events.log(.warning, text)
    }
}

extension SecureRandom {
    static func nonce() -> [UInt8] { bytes(PeerGuard.nonceBytes) }
}
