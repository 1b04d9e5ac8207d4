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
/// side closes. The socket, the ordering and back-pressure are `StreamConnection`'s.
///
/// @unchecked Sendable: all mutable state is confined to `queue` (shared with other connections).
final class HTTPConnection: StreamConnection, @unchecked Sendable {
    /// An answer coming back from the handler, on any thread.
    struct Delivery: Sendable {
        var connection: HTTPConnection
        var sequence: Int
        var bytes: [UInt8]
        var keepAlive: Bool
        var stream: EventStream?
    }

    /// Strong: an open connection keeps its listener alive (it leaves the listener's table when it closes).
    let listener: HTTPListener
    private var parser: HTTPParser
    private var streaming: EventStream?
    /// When the first byte of the request now being received arrived (0: none pending).
    private var partialSince: UInt64 = 0

    /// An event stream whose client reads slower than this much buffered output is closed.
    static let streamBacklogLimit = 8 << 20

    init(number: Int, fd: Int32, queue: DispatchQueue, listener: HTTPListener, security: ConnectionSecurity?) {
        self.listener = listener
        self.parser = HTTPParser(bodyLimit: listener.bodyLimit)
        super.init(number: number, fd: fd, queue: queue, security: security)
    }

    override func consume(_ bytes: UnsafeRawBufferPointer) {
        if partialSince == 0 { partialSince = StreamConnection.now() }
        for event in parser.feed(bytes) where !inputClosed {
            switch event {
            case .request(let request): dispatch(request)
            case .failure(let status, let message): refuse(status, message)
            }
        }
        partialSince = parser.hasPartialRequest ? partialSince : 0
    }

    private func dispatch(_ request: HTTPRequest) {
        let sequence = reserveAnswer()
        let keepAlive = request.keepAlive
        if !keepAlive { endInput() }  // nothing after this request is read
        let handOff = listener.answerHandOff(for: self)
        listener.handler.handle(request) { [self] response in
            handOff.post(Delivery(connection: self, sequence: sequence, bytes: response.encoded(keepAlive: keepAlive),
                                  keepAlive: keepAlive && response.stream == nil, stream: response.stream))
        }
    }

    /// A request the parser could not accept: answer, then close (the stream cannot resync).
    private func refuse(_ status: Int, _ message: String) {
        let sequence = reserveAnswer()
        endInput()
        let body = listener.errorBody(status, message)
        answer(sequence, .bytesThenClose(HTTPResponse.json(status, body).encoded(keepAlive: false)))
    }

    /// An answer handed back to this connection's queue.
    func deliver(_ delivery: Delivery) {
        if let stream = delivery.stream {
            answer(delivery.sequence, .bytesThenStream(delivery.bytes))
            if isStreaming && streaming == nil { startStreaming(stream) }
        } else {
            answer(delivery.sequence, delivery.keepAlive ? .bytes(delivery.bytes) : .bytesThenClose(delivery.bytes))
        }
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
        if outputPending > Self.streamBacklogLimit {
            closeNow()  // a reader this far behind is gone or too slow
            return
        }
        writeOutOfBand(bytes)
    }

    /// Closes a connection idle for `idleNanos`, and answers 408 to a request half-sent for
    /// `partialNanos`. Event streams are left alone.
    func sweep(now: UInt64, idleNanos: UInt64, partialNanos: UInt64) {
        guard !isClosed.load(ordering: .relaxed), !isStreaming else { return }
        if partialSince > 0 && now > partialSince && now - partialSince >= partialNanos {
            partialSince = 0
            refuse(408, "the request was not completed within \(partialNanos / 1_000_000_000) seconds")
            return
        }
        if isIdle(now: now, idleNanos: idleNanos) { closeNow() }
    }

    override func closing() {
        streaming?.close()
    }

    override func released() {
        listener.connectionClosed(self)
    }
}
