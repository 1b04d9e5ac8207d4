#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// The skeleton every request/response connection stands on — the line protocol's and HTTP's:
/// a non-blocking socket read on the connection's queue, answers written back in request order
/// however they complete (pipelining), lines pushed outside that order (event streams), output
/// back-pressure (a client that stops reading is paused, not waited on), and a close that
/// releases the descriptor only once every dispatch source on it is gone. A subclass turns bytes
/// into requests (`consume`) and says what happens when the connection is released.
///
/// @unchecked Sendable: all mutable state is confined to `queue` (shared with other
/// connections); `isClosed` is the only field read elsewhere.
open class StreamConnection: @unchecked Sendable {
    /// What an answer is and what comes after it.
    public enum Answer {
        /// A line of text; a newline is added.
        case line(String)
        /// A line, and then `written` runs once it is in the output (before anything after it).
        case lineThen(String, written: () -> Void)
        /// Bytes as they are; the connection stays open.
        case bytes([UInt8])
        /// Bytes, then the connection closes once they are out (nothing after them is written).
        case bytesThenClose([UInt8])
        /// Bytes, then the connection is a one-way stream: later answers are dropped, requests
        /// are no longer read, and `writeOutOfBand` carries the stream.
        case bytesThenStream([UInt8])
    }

    public let number: Int
    public let fd: Int32
    public let queue: DispatchQueue
    public let isClosed = Atomic<Bool>(false)
    /// Monotonic nanoseconds of the last request or answer.
    private var lastActivity: UInt64
    /// The peer will send no more requests (it closed its side, or the connection refused more).
    public private(set) var inputClosed = false
    public private(set) var isStreaming = false
    private var closeWhenFlushed = false
    private var reading = ReadGate()
    private var writing = WriteGate()
    private var liveSources = 0
    private var receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var output = OutputBuffer()
    /// TLS, when the listener speaks it: then `output` holds plaintext until it is sealed into `wire`.
    private let security: ConnectionSecurity?
    private var wire = OutputBuffer()
    private var plaintext: [UInt8] = []
    /// When the connection was accepted (for the handshake's deadline).
    public let openedAt: UInt64
    /// Answers by sequence number, from `slotBase + head` on; nil until ready.
    private var slots: [Answer?] = []
    private var head = 0
    private var slotBase = 0
    private var nextSequence = 0

    /// Reading pauses while more than this much output waits for a slow reader.
    public static let pauseReadingAbove = 4 << 20

    public init(number: Int, fd: Int32, queue: DispatchQueue, security: ConnectionSecurity? = nil) {
        self.number = number
        self.fd = fd
        self.queue = queue
        self.security = security
        self.lastActivity = StreamConnection.now()
        self.openedAt = lastActivity
    }

    /// A secured connection whose handshake is not done (nil: plain TCP, or done).
    public var handshakePending: Bool { security.map { !$0.isEstablished } ?? false }

    /// Starts reading (on the connection's queue).
    public func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { [self] in self.readAvailable() }
            source.setCancelHandler { [self] in self.sourceCancelled() }
            self.liveSources += 1
            self.reading.attach(source)
            source.resume()
        }
    }

    // MARK: - For subclasses

    /// Bytes arrived (on `queue`). Parse them; reserve an answer per request, in order.
    open func consume(_ bytes: UnsafeRawBufferPointer) {}

    /// The descriptor is closed and the connection is finished.
    open func released() {}

    /// Answers not yet written.
    public var unanswered: Int { slots.count - head }

    /// Output waiting for the client to read it.
    public var outputPending: Int { output.pending + wire.pending }

    /// Reserves the place of the next answer; returns its sequence number.
    public func reserveAnswer() -> Int {
        dispatchPrecondition(condition: .onQueue(queue))
        lastActivity = Self.now()
        slots.append(nil)
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// Stores the answer for `sequence` and writes every answer now due, in order.
    public func answer(_ sequence: Int, _ answer: Answer) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed.load(ordering: .relaxed), !isStreaming else { return }
        slots[sequence - slotBase] = answer
        var wrote = false
        while head < slots.count, let ready = slots[head] {
            slots[head] = nil
            head += 1
            wrote = true
            switch ready {
            case .line(let text):
                output.append(text.utf8)
                output.append(0x0A)
            case .lineThen(let text, let written):
                output.append(text.utf8)
                output.append(0x0A)
                written()
            case .bytes(let bytes):
                output.append(bytes)
            case .bytesThenClose(let bytes):
                output.append(bytes)
                closeWhenFlushed = true
                endInput()
            case .bytesThenStream(let bytes):
                output.append(bytes)
                isStreaming = true
            }
            if closeWhenFlushed || isStreaming { break }
        }
        if head > 256 && head * 2 > slots.count {
            slots.removeFirst(head)
            slotBase += head
            head = 0
        }
        if wrote {
            lastActivity = Self.now()
            flushOutput()
        }
    }

    /// Writes bytes now, outside the order of answers (a stream's events).
    public func writeOutOfBand(_ bytes: some Sequence<UInt8>) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed.load(ordering: .relaxed) else { return }
        output.append(bytes)
        flushOutput()
    }

    /// `writeOutOfBand` for bytes already in an array (one copy).
    public func writeOutOfBand(_ bytes: [UInt8]) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed.load(ordering: .relaxed) else { return }
        output.append(bytes)
        flushOutput()
    }

    /// Queues bytes outside the order of answers without writing yet (a stream's events, many
    /// of them gathered into one write): `flushPending` writes them.
    public func appendOutOfBand(_ bytes: [UInt8]) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed.load(ordering: .relaxed) else { return }
        output.append(bytes)
    }

    /// Writes what `appendOutOfBand` queued.
    public func flushPending() {
        dispatchPrecondition(condition: .onQueue(queue))
        flushOutput()
    }

    /// Reads no more requests; the connection closes once every accepted request is answered.
    public func endInput() {
        inputClosed = true
        reading.stop()
    }

    /// Sends `bytes` last and closes once they are out.
    public func finish(with bytes: [UInt8]) {
        output.append(bytes)
        closeWhenFlushed = true
        endInput()
        flushOutput()
    }

    /// Shutdown: read no more requests; close once every accepted request is answered.
    public func finishAndClose() {
        guard !isClosed.load(ordering: .relaxed) else { return }
        endInput()
        flushOutput()
    }

    /// Whether nothing has happened for `idleNanos` and nothing is owed to the client.
    public func isIdle(now: UInt64, idleNanos: UInt64) -> Bool {
        !isClosed.load(ordering: .relaxed) && !closeWhenFlushed && !isStreaming && unanswered == 0 && output.isEmpty && wire.isEmpty
            && now > lastActivity && now - lastActivity >= idleNanos
    }

    public func closeNow() {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        if let security, security.isEstablished {  // a goodbye, best effort
            security.close()
            security.drain(into: &wire)
            _ = wire.send(to: fd)
        }
        reading.stop()
        writing.stop()
        closing()
        if liveSources == 0 { release() }
    }

    /// The connection is closing (before the descriptor is released): end streams and the like.
    open func closing() {}

    // MARK: - The socket

    private func readAvailable() {
        while !isClosed.load(ordering: .relaxed) && !inputClosed && !reading.isPaused {
            let count = receiveBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                lastActivity = Self.now()
                if let security {
                    guard unseal(count, security) else { return }
                } else if !isStreaming {  // a stream reads nothing more from its client
                    receiveBuffer.withUnsafeBytes { consume(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                }
                if outputPending > Self.pauseReadingAbove { reading.pause() }
                if count < receiveBuffer.count { break }
            } else if count == 0 {
                endInput()
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                closeNow()
            }
        }
        flushOutput()
    }

    /// Ciphertext from the socket through the security layer; the plaintext to `consume`.
    /// Returns false when the connection is over (refused, or the peer said goodbye).
    private func unseal(_ count: Int, _ security: ConnectionSecurity) -> Bool {
        do {
            try receiveBuffer.withUnsafeBytes { try security.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count]), plaintext: &plaintext) }
        } catch {
            security.drain(into: &wire)
            _ = wire.send(to: fd)
            refused(error)
            closeNow()
            return false
        }
        if !plaintext.isEmpty && !isStreaming {
            plaintext.withUnsafeBytes { consume($0) }
        }
        plaintext.removeAll(keepingCapacity: true)
        if security.peerClosed { endInput() }
        flushOutput()
        return !isClosed.load(ordering: .relaxed)
    }

    /// The security layer refused the peer (a failed TLS handshake, say).
    open func refused(_ error: any Error) {}

    private func flushOutput() {
        guard !isClosed.load(ordering: .relaxed) else { return }
        if let security {
            if !output.isEmpty {
                do {
                    try output.withPending { try security.send($0) }
                } catch {
                    closeNow()
                    return
                }
                output.discardAll()
            }
            security.drain(into: &wire)
        }
        let result = security == nil ? output.send(to: fd) : wire.send(to: fd)
        switch result {
        case .sent:
            break
        case .wouldBlock:
            let armed = writing.arm(fd: fd, queue: queue, writable: { [self] in self.flushOutput() },
                                    cancelled: { [self] in self.sourceCancelled() })
            if armed { liveSources += 1 }
            return
        case .failed:
            closeNow()
            return
        }
        writing.stop()
        reading.resume()
        if isStreaming {
            if inputClosed { closeNow() }  // the client hung up
            return
        }
        if closeWhenFlushed || (inputClosed && unanswered == 0) {
            closeNow()
        }
    }

    private func sourceCancelled() {
        liveSources -= 1
        if isClosed.load(ordering: .relaxed) && liveSources == 0 { release() }
    }

    /// The descriptor is closed only after every source on it has been cancelled.
    private func release() {
        Glibc.close(fd)
        released()
    }

    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
