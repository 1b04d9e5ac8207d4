#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import RaftCore
import RaftStorage
import RaftWire
import ClientFront
import ClusterTransport
import NodeHosting
import RuntimeSupport

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
/// @unchecked Sendable: every mutable field is confined to `queue`.
final class PeerLink: @unchecked Sendable {
    let peer: NodeID
    let queue: DispatchQueue
    let network: TCPTransport
    let dials: Bool

    private var socket: PeerSocket?
    private var connected = false
    private var reader: PeerFrameReader
    private var urgent: [[UInt8]] = []
    private var bulk: [[UInt8]] = []
    private var current: [UInt8] = []
    private var currentOffset = 0
    private var queuedBytes = 0
    private var backoffMs = 50
    private var reconnectPending = false
    private var stopped = false
    private var lastComplaint: UInt64 = 0
    private var receiveBuffer = [UInt8](repeating: 0, count: 256 * 1024)
    /// Frames dropped because the link was down or its queue full.
    private(set) var dropped = 0

    static let queueLimitBytes = 64 << 20

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

    /// `send`, already on the link's queue (no extra hop for a caller that batches there).
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

    private func flush() {
        guard connected, let socket else { return }
        while true {
            if currentOffset == current.count {
                if !urgent.isEmpty {
                    current = urgent.removeFirst()
                } else if !bulk.isEmpty {
                    current = bulk.removeFirst()
                } else {
                    current = []
                    currentOffset = 0
                    socket.disarmWrite()
                    return
                }
                currentOffset = 0
            }
            let count = current.withUnsafeBytes { buffer in
                Glibc.send(socket.fd, buffer.baseAddress! + currentOffset, buffer.count - currentOffset, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                currentOffset += count
                if currentOffset == current.count { queuedBytes -= current.count }
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                socket.armWrite { [weak self] in self?.flush() }
                return
            } else {
                disconnect(reason: "sending failed: \(SystemError.message(errno))")
                return
            }
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
            self.becomeConnected(socket)
            self.sendNow(PeerFrame(kind: .hello, payload: Array(String(self.network.localID).utf8)).encoded())
        }
    }

    /// The accepting side: `fd` came from the peer, whose hello has been read; `frames` followed it.
    func adopt(_ fd: Int32, reader: PeerFrameReader, frames: [PeerFrame]) {
        queue.async {
            guard !self.stopped else {
                Glibc.close(fd)
                return
            }
            if self.socket != nil { self.disconnect(reason: nil) }  // the peer reconnected: the old one is dead
            let socket = PeerSocket(fd: fd, queue: self.queue)
            self.socket = socket
            self.reader = reader
            self.becomeConnected(socket)
            if !frames.isEmpty, let problem = self.network.received(frames, from: self.peer) {
                self.network.events.log(.warning, "node \(self.peer) sent \(problem); connection closed")
                self.disconnect(reason: nil)
            }
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

    /// Puts a frame at the head of the line (the hello).
    private func sendNow(_ frame: [UInt8]) {
        queuedBytes += frame.count
        urgent.insert(frame, at: 0)
        flush()
    }

    private func readAvailable(_ socket: PeerSocket) {
        while connected {
            let count = receiveBuffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                do {
                    let frames = try receiveBuffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                    if !frames.isEmpty, let problem = network.received(frames, from: peer) {
                        network.events.log(.warning, "node \(peer) sent \(problem); connection closed")
                        disconnect(reason: nil)
                        return
                    }
                } catch {
                    network.events.log(.warning, "node \(peer) sent \(error); connection closed")
                    disconnect(reason: nil)
                    return
                }
                if count < receiveBuffer.count { return }
            } else if count == 0 {
                disconnect(reason: "node \(peer) closed the connection")
                return
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                disconnect(reason: "receiving from node \(peer) failed: \(SystemError.message(errno))")
                return
            }
        }
    }

    private func disconnect(reason: String?) {
        let wasConnected = connected
        socket?.close()
        socket = nil
        connected = false
        dropped += urgent.count + bulk.count
        urgent.removeAll()
        bulk.removeAll()
        current = []
        currentOffset = 0
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
