#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import Synchronization

/// One HTTP connection: parses requests as they arrive, hands each to the handler, and writes the
/// responses back in request order however they complete (pipelining). Keeps the connection open
/// unless the client asks otherwise; a broken request is answered (400, 413, 431, ...) and the
/// connection closed. A response that is an event stream takes the connection over until either
/// side closes. Sockets are non-blocking; a client that stops reading is paused, not waited on.
///
/// @unchecked Sendable: all mutable state is confined to `queue` (shared with other connections);
/// `isClosed` is the only field read elsewhere.
final class HTTPConnection: @unchecked Sendable {
    struct Answer {
        var bytes: [UInt8]
        var keepAlive: Bool
        var stream: EventStream?
    }

    /// An answer coming back from the handler, on any thread.
    struct Delivery: Sendable {
        var connection: HTTPConnection
        var sequence: Int
        var bytes: [UInt8]
        var keepAlive: Bool
        var stream: EventStream?
    }

    let number: Int
    let fd: Int32
    let queue: DispatchQueue
    unowned let listener: HTTPListener
    private var parser: HTTPParser
    private var reading = ReadGate()
    private var writing = WriteGate()
    private var liveSources = 0
    private var receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var output = OutputBuffer()
    /// Answers by request sequence number, from `slotBase + head` on; nil until ready.
    private var slots: [Answer?] = []
    private var head = 0
    private var slotBase = 0
    private var nextSequence = 0
    private var inputClosed = false
    private var closeWhenFlushed = false
    private var streaming: EventStream?
    let isClosed = Atomic<Bool>(false)
    private var lastActivity: UInt64
    /// When the first byte of the request now being received arrived (0: none pending).
    private var partialSince: UInt64 = 0

    static let pauseReadingAbove = 4 << 20
    /// An event stream whose client reads slower than this much buffered output is closed.
    static let streamBacklogLimit = 8 << 20

    init(number: Int, fd: Int32, queue: DispatchQueue, listener: HTTPListener) {
        self.number = number
        self.fd = fd
        self.queue = queue
        self.listener = listener
        self.parser = HTTPParser(bodyLimit: listener.bodyLimit)
        self.lastActivity = HTTPListener.now()
    }

    private var unanswered: Int { slots.count - head }

    func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { [unowned self] in self.readAvailable() }
            source.setCancelHandler { [self] in self.sourceCancelled() }
            self.liveSources += 1
            self.reading.attach(source)
            source.resume()
        }
    }

    // MARK: - Reading

    private func readAvailable() {
        while !isClosed.load(ordering: .relaxed) && !inputClosed && !reading.isPaused {
            let count = receiveBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                if streaming != nil { continue }  // nothing more is read once a stream has started
                let now = HTTPListener.now()
                lastActivity = now
                if partialSince == 0 { partialSince = now }
                let events = receiveBuffer.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                for event in events where !inputClosed {
                    switch event {
                    case .request(let request): dispatch(request)
                    case .failure(let status, let message): refuse(status, message)
                    }
                }
                if inputClosed { stopReading() }
                partialSince = parser.hasPartialRequest ? partialSince : 0
                if output.pending > Self.pauseReadingAbove { pauseReading() }
                if count < receiveBuffer.count { break }
            } else if count == 0 {
                inputClosed = true
                stopReading()
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                closeNow()
            }
        }
        flushOutput()
    }

    private func dispatch(_ request: HTTPRequest) {
        let sequence = nextSequence
        nextSequence += 1
        slots.append(nil)
        let keepAlive = request.keepAlive
        if !keepAlive { inputClosed = true }  // nothing after this request is read
        let handOff = listener.answerHandOff(for: self)
        listener.handler.handle(request) { [self] response in
            handOff.post(Delivery(connection: self, sequence: sequence, bytes: response.encoded(keepAlive: keepAlive),
                                  keepAlive: keepAlive && response.stream == nil, stream: response.stream))
        }
    }

    /// A request the parser could not accept: answer, then close (the stream cannot resync).
    private func refuse(_ status: Int, _ message: String) {
        let sequence = nextSequence
        nextSequence += 1
        slots.append(nil)
        inputClosed = true
        stopReading()
        let body = listener.errorBody(status, message)
        fill(sequence, Answer(bytes: HTTPResponse.json(status, body).encoded(keepAlive: false), keepAlive: false, stream: nil))
    }

    private func stopReading() { reading.stop() }

    private func pauseReading() { reading.pause() }

    private func resumeReading() { reading.resume() }

    // MARK: - Writing

    /// An answer handed back to this connection's queue.
    func deliver(_ delivery: Delivery) {
        fill(delivery.sequence, Answer(bytes: delivery.bytes, keepAlive: delivery.keepAlive, stream: delivery.stream))
    }

    /// Stores the answer for `sequence` and writes every answer now due, in order.
    private func fill(_ sequence: Int, _ answer: Answer) {
        guard !isClosed.load(ordering: .relaxed), streaming == nil else { return }
        slots[sequence - slotBase] = answer
        while head < slots.count, let ready = slots[head] {
            output.append(ready.bytes)
            slots[head] = nil
            head += 1
            lastActivity = HTTPListener.now()
            if let stream = ready.stream {
                startStreaming(stream)
                break
            }
            if !ready.keepAlive {
                closeWhenFlushed = true
                break
            }
        }
        if head > 64 && head * 2 > slots.count {
            slots.removeFirst(head)
            slotBase += head
            head = 0
        }
        flushOutput()
    }

    private func startStreaming(_ stream: EventStream) {
        streaming = stream
        stream.attach { [weak self] bytes in
            guard let self, !self.isClosed.load(ordering: .relaxed) else { return false }
            self.queue.async { self.appendStreamBytes(bytes) }
            return true
        }
    }

    private func appendStreamBytes(_ bytes: [UInt8]) {
        guard !isClosed.load(ordering: .relaxed) else { return }
        if output.pending > Self.streamBacklogLimit {
            streaming?.close()
            closeNow()  // a reader this far behind is gone or too slow
            return
        }
        output.append(bytes)
        flushOutput()
    }

    private func flushOutput() {
        guard !isClosed.load(ordering: .relaxed) else { return }
        switch output.send(to: fd) {
        case .sent:
            break
        case .wouldBlock:
            let armed = writing.arm(fd: fd, queue: queue, writable: { [unowned self] in self.flushOutput() },
                                    cancelled: { [self] in self.sourceCancelled() })
            if armed { liveSources += 1 }
            return
        case .failed:
            closeNow()
            return
        }
        writing.stop()
        resumeReading()
        if streaming != nil {
            if inputClosed { closeNow() }  // the client hung up
            return
        }
        if closeWhenFlushed || (inputClosed && unanswered == 0) {
            closeNow()
        }
    }

    // MARK: - Timeouts and closing

    /// Closes a connection idle for `idleNanos`, and answers 408 to a request half-sent for
    /// `partialNanos`. Event streams are left alone.
    func sweep(now: UInt64, idleNanos: UInt64, partialNanos: UInt64) {
        guard !isClosed.load(ordering: .relaxed), streaming == nil else { return }
        if partialSince > 0 && now > partialSince && now - partialSince >= partialNanos {
            partialSince = 0
            refuse(408, "the request was not completed within \(partialNanos / 1_000_000_000) seconds")
            return
        }
        if unanswered == 0 && output.isEmpty && now > lastActivity && now - lastActivity >= idleNanos {
            closeNow()
        }
    }

    func closeNow() {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        streaming?.close()
        stopReading()
        writing.stop()
        if liveSources == 0 { release() }
    }

    private func sourceCancelled() {
        liveSources -= 1
        if isClosed.load(ordering: .relaxed) && liveSources == 0 { release() }
    }

    /// The descriptor is closed only after every source on it has been cancelled.
    private func release() {
        Glibc.close(fd)
        listener.connectionClosed(self)
    }
}
