#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import KVWire

/// One client connection: reads request lines, hands them to the router, and writes the
/// responses back in request order, however they complete. A connection never blocks its
/// queue: sockets are non-blocking, and a client that stops reading is paused, not waited on.
///
/// @unchecked Sendable: all mutable state is confined to `queue` (shared with other connections).
final class Connection: @unchecked Sendable {
    let number: Int
    let fd: Int32
    let queue: DispatchQueue
    unowned let proxy: Proxy
    private var framer: LineFramer
    private var reading = ReadGate()
    private var writing = WriteGate()
    private var liveSources = 0
    private var receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    private var output = OutputBuffer()
    /// Responses by request sequence number, from `slotBase + head` on; nil until answered.
    private var slots: [String?] = []
    private var head = 0
    private var slotBase = 0
    private var nextSequence = 0

    private var inputClosed = false
    private var closeWhenFlushed = false
    private(set) var closed = false
    private var lastActivity: UInt64

    static let pauseReadingAbove = 4 << 20

    init(number: Int, fd: Int32, queue: DispatchQueue, proxy: Proxy) {
        self.number = number
        self.fd = fd
        self.queue = queue
        self.proxy = proxy
        self.framer = LineFramer(limit: proxy.limits.lineBytes)
        self.lastActivity = MonotonicClock.now()
    }

    var unanswered: Int { slots.count - head }

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
        while !closed && !inputClosed && !reading.isPaused {
            let count = receiveBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let events = receiveBuffer.withUnsafeBytes { framer.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                for event in events {
                    switch event {
                    case .line(let line): handleLine(line)
                    case .overflow: handleOverflow()
                    }
                }
                if output.pending > Self.pauseReadingAbove { pauseReading() }
                if count < receiveBuffer.count { break }
            } else if count == 0 {
                endOfInput()
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                closeNow()
            }
        }
        flushOutput()
    }

    private func handleLine(_ line: ArraySlice<UInt8>) {
        lastActivity = MonotonicClock.now()
        let sequence = nextSequence
        nextSequence += 1
        slots.append(nil)
        let parsed = RequestParser.parse(line, limits: proxy.limits)
        switch parsed.result {
        case .failure(let error):
            proxy.metrics.countRequest(op: "invalid", outcome: error.code.rawValue)
            fill(sequence, ClientResponse.error(error, id: parsed.id))
        case .success(.get(let key, .eventual)):
            proxy.readBatcher(for: self).add(ReadBatcher.Read(key: key, id: parsed.id, connection: self, sequence: sequence))
        case .success(let request):
            proxy.router.handle(request, id: parsed.id) { [self] response in
                fillFromAnyThread(sequence, response)
            }
        }
    }

    /// A line longer than the limit: answer `too_large`, then close (the stream cannot resync).
    private func handleOverflow() {
        let sequence = nextSequence
        nextSequence += 1
        slots.append(nil)
        proxy.metrics.countRequest(op: "invalid", outcome: ErrorCode.tooLarge.rawValue)
        fill(sequence, ClientResponse.error(RequestError(.tooLarge, "request line exceeds \(proxy.limits.lineBytes) bytes; closing the connection"), id: nil))
        endOfInput()
        closeWhenFlushed = true
    }

    private func endOfInput() {
        inputClosed = true
        stopReading()
    }

    private func stopReading() { reading.stop() }

    private func pauseReading() { reading.pause() }

    private func resumeReading() { reading.resume() }

    // MARK: - Writing

    /// Hands the answer to the connection's queue (batched with other answers bound there).
    func fillFromAnyThread(_ sequence: Int, _ line: String) {
        proxy.replyBatcher(for: self).post(Proxy.Reply(connection: self, sequence: sequence, line: line))
    }

    /// Stores the response for `sequence` and writes every response now due, in order.
    /// On `queue` only.
    func fill(_ sequence: Int, _ line: String) {
        guard !closed else { return }
        slots[sequence - slotBase] = line
        var wrote = false
        while head < slots.count, let ready = slots[head] {
            output.append(ready.utf8)
            output.append(0x0A)
            slots[head] = nil
            head += 1
            wrote = true
        }
        if head > 256 && head * 2 > slots.count {
            slots.removeFirst(head)
            slotBase += head
            head = 0
        }
        if wrote {
            lastActivity = MonotonicClock.now()
            flushOutput()
        }
    }

    private func flushOutput() {
        guard !closed else { return }
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
        if (inputClosed || closeWhenFlushed) && unanswered == 0 {
            closeNow()
        }
    }

    // MARK: - Closing

    /// Sends `{"close":"ok"}` and closes, if the client has been quiet for `idleNanos`.
    func closeIfIdle(now: UInt64, idleNanos: UInt64) {
        guard !closed, !closeWhenFlushed, unanswered == 0, output.isEmpty,
              now >= lastActivity, now - lastActivity >= idleNanos else { return }
        output.append(ClientResponse.idleClose.utf8)
        output.append(0x0A)
        closeWhenFlushed = true
        endOfInput()
        flushOutput()
    }

    /// Shutdown: read no more requests; close once every accepted request is answered.
    func finishAndClose() {
        guard !closed else { return }
        endOfInput()
        flushOutput()
    }

    func closeNow() {
        guard !closed else { return }
        closed = true
        stopReading()
        writing.stop()
        if liveSources == 0 { release() }
    }

    private func sourceCancelled() {
        liveSources -= 1
        if closed && liveSources == 0 { release() }
    }

    /// The file descriptor is closed only after every source on it has been cancelled.
    private func release() {
        Glibc.close(fd)
        proxy.connectionClosed(self)
    }
}
