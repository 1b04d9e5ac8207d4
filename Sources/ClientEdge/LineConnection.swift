import ClientFront
import Dispatch
import KVWire
import NetworkIO
import Observability

/// One client of the line protocol: each request line is parsed and handed to the router (or the
/// read batcher), and each answer goes back as one line, in request order, whatever order the
/// answers come in. The socket, the ordering and back-pressure are `StreamConnection`'s.
///
/// @unchecked Sendable: all mutable state is confined to `queue` (shared with other connections).
final class LineConnection: StreamConnection, @unchecked Sendable {
    /// Strong: an open connection keeps its proxy alive (it leaves the proxy's table when it closes).
    let proxy: Proxy
    private var framer: LineFramer
    /// This connection's watches, by the JSON text of their names.
    var watches: [String: LineWatch] = [:]
    /// Event lines were queued during the current run of the watch hand-off (it flushes once).
    var watchFlushPending = false
    /// Events queued since the last flush (counted for the metrics when flushed).
    var watchEventsQueued = 0

    init(number: Int, fd: Int32, queue: DispatchQueue, proxy: Proxy, security: ConnectionSecurity?) {
        self.proxy = proxy
        self.framer = LineFramer(limit: proxy.limits.lineBytes)
        super.init(number: number, fd: fd, queue: queue, security: security)
    }

    override func consume(_ bytes: UnsafeRawBufferPointer) {
        for event in framer.feed(bytes) where !inputClosed {
            switch event {
            case .line(let line): handleLine(line)
            case .overflow: handleOverflow()
            }
        }
    }

    private func handleLine(_ line: ArraySlice<UInt8>) {
        let sequence = reserveAnswer()
        var parsed = RequestParser.parse(line, limits: proxy.limits)
        if unanswered > proxy.pendingLimit {
            parsed.result = .failure(RequestError(.unavailable, "more than \(proxy.pendingLimit) requests on this connection are waiting for their answers; read them before sending more"))
        } else if !proxy.authorizer.isOpen, case .success(let request) = parsed.result,
                  let refusal = proxy.authorizer.refusal(of: request, token: parsed.token) {
            parsed.result = .failure(refusal)
        }
        switch parsed.result {
        case .failure(let error):
            proxy.metrics.countRequest(op: "invalid", outcome: error.code.rawValue)
            answer(sequence, .line(ClientResponse.error(error, id: parsed.id)))
        case .success(let request) where request.isStreamRequest:
            switch request.operation {
            case .watch(let watch): startWatch(watch, id: parsed.id, sequence: sequence)
            case .unwatch(let name): stopWatch(named: name, id: parsed.id, sequence: sequence)
            default: break
            }
        case .success(let request) where request.isEventualRead:
            let timer = proxy.metrics.startTimer(op: request.opName)
            proxy.reads.read(request, id: parsed.id) { [self] line in
                timer.stop()
                self.answerFromAnyThread(sequence, line)
            }
        case .success(let request):
            let timer = proxy.metrics.startTimer(op: request.opName)
            proxy.router.handle(request, id: parsed.id) { [self] response in
                timer.stop()
                self.answerFromAnyThread(sequence, response)
            }
        }
    }

    /// A line longer than the limit: answer `too_large`, then close (the stream cannot resync).
    private func handleOverflow() {
        let sequence = reserveAnswer()
        proxy.metrics.countRequest(op: "invalid", outcome: ErrorCode.tooLarge.rawValue)
        let line = ClientResponse.error(RequestError(.tooLarge, "request line exceeds \(proxy.limits.lineBytes) bytes; closing the connection"), id: nil)
        answer(sequence, .bytesThenClose(Array((line + "\n").utf8)))
    }

    /// Hands the answer to the connection's queue (batched with other answers bound there).
    func answerFromAnyThread(_ sequence: Int, _ line: String) {
        proxy.replyBatcher(for: self).post(Proxy.Reply(connection: self, sequence: sequence, line: line))
    }

    /// Sends `{"close":"ok"}` and closes, if the client has been quiet for `idleNanos`.
    func closeIfIdle(now: UInt64, idleNanos: UInt64) {
        guard isIdle(now: now, idleNanos: idleNanos) else { return }
        finish(with: Array((ClientResponse.idleClose + "\n").utf8))
    }

    override func closing() {
        stopAllWatches()
    }

    override func released() {
        proxy.connectionClosed(self)
    }
}
