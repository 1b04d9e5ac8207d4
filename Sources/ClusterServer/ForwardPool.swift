#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import KVWire
import RaftStorage
import Synchronization

/// A few pipelined connections to one member's client port, used to pass on requests this
/// member cannot serve (writes and linearizable reads when another member leads, admin requests
/// about another member's node). Requests are spread over the connections; each connection
/// answers in order.
final class ForwardPool: Sendable {
    let address: String
    private let links: [ForwardLink]
    private let next = Atomic<Int>(0)

    static let connections = 4

    init(address: String, host: String, port: Int, events: EventLog) {
        self.address = address
        self.links = (0..<Self.connections).map { ForwardLink(host: host, port: port, number: $0, events: events) }
    }

    /// `respond` gets the answer line, or nil (with whether the request was sent) when the member
    /// could not be reached or did not answer by `deadline` (monotonic, in the router's running time).
    func send(_ line: String, deadline: UInt64, respond: @escaping @Sendable (String?, Bool) -> Void) {
        let number = next.wrappingAdd(1, ordering: .relaxed).oldValue
        links[number % links.count].send(line, deadline: deadline, respond: respond)
    }

    func close() {
        for link in links { link.close() }
    }
}

/// One JSON-lines connection to a member's client port, opened on first use and again after it
/// fails. Confined to its queue.
final class ForwardLink: @unchecked Sendable {
    struct Waiting {
        var deadline: UInt64
        var sent: Bool
        var respond: (@Sendable (String?, Bool) -> Void)?
    }

    let host: String
    let port: Int
    let events: EventLog
    let queue: DispatchQueue
    private var socket: PeerSocket?
    private var connected = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    /// Requests in the order they were written (and will be answered), then those not yet written.
    private var waiting: [Waiting] = []
    private var framer = LineFramer(limit: 64 << 20)
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var sweeper: DispatchSourceTimer?
    /// A flush is queued: requests passed on meanwhile go out with it, in one write.
    private var flushQueued = false

    init(host: String, port: Int, number: Int, events: EventLog) {
        self.host = host
        self.port = port
        self.events = events
        self.queue = DispatchQueue(label: "raft.forward.\(port).\(number)")
    }

    func send(_ line: String, deadline: UInt64, respond: @escaping @Sendable (String?, Bool) -> Void) {
        queue.async {
            self.waiting.append(Waiting(deadline: deadline, sent: false, respond: respond))
            self.output.append(contentsOf: line.utf8)
            self.output.append(0x0A)
            self.startSweeping()
            if self.socket == nil {
                self.connect()
            } else if !self.flushQueued {
                self.flushQueued = true
                self.queue.async {
                    self.flushQueued = false
                    self.flush()
                }
            }
        }
    }

    func close() {
        queue.async { self.fail(reason: nil) }
    }

    private func connect() {
        do {
            let fd = try Sockets.startConnect(host: host, port: port)
            let socket = PeerSocket(fd: fd, queue: queue)
            self.socket = socket
            socket.armWrite { [weak self, weak socket] in
                guard let self, let socket, self.socket === socket, !self.connected else { return }
                socket.disarmWrite()
                guard Sockets.connectError(fd) == 0 else { return self.fail(reason: "cannot connect") }
                self.connected = true
                socket.startReading { [weak self] in self?.readAvailable() }
                self.flush()
            }
        } catch {
            fail(reason: "\(error)")
        }
    }

    private func flush() {
        guard connected, let socket else { return }
        while outputOffset < output.count {
            let count = output.withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress! + outputOffset, $0.count - outputOffset, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                outputOffset += count
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                socket.armWrite { [weak self] in self?.flush() }
                return
            } else {
                return fail(reason: "sending failed")
            }
        }
        socket.disarmWrite()
        for index in waiting.indices { waiting[index].sent = true }
        output.removeAll(keepingCapacity: true)
        outputOffset = 0
    }

    private func readAvailable() {
        guard let socket else { return }
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let events = buffer.withUnsafeBytes { framer.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                for event in events {
                    guard case .line(let bytes) = event else { return fail(reason: "an answer was too long") }
                    let line = String(decoding: bytes, as: UTF8.self)
                    guard !waiting.isEmpty else { return fail(reason: nil) }  // e.g. the idle close notice
                    let first = waiting.removeFirst()
                    first.respond?(line, true)
                }
                if count < buffer.count { return }
            } else if count == 0 {
                return fail(reason: nil)
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                return fail(reason: "receiving failed")
            }
        }
    }

    /// The connection is gone: every request still waiting learns it got no answer.
    private func fail(reason: String?) {
        socket?.close()
        socket = nil
        connected = false
        output.removeAll()
        outputOffset = 0
        framer = LineFramer(limit: 64 << 20)
        let failed = waiting
        waiting.removeAll()
        for item in failed { item.respond?(nil, item.sent) }
        if let reason, !failed.isEmpty { events.log(.debug, "forwarding to \(host):\(port) failed: \(reason)") }
    }

    /// Answers requests past their deadline (their late answers are skipped when they come).
    private func startSweeping() {
        guard sweeper == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(50), leeway: .milliseconds(10))
        timer.setEventHandler { [weak self] in self?.sweep() }
        sweeper = timer
        timer.resume()
    }

    private func sweep() {
        let now = MonotonicClock.now()
        for index in waiting.indices where waiting[index].respond != nil && now > waiting[index].deadline + 200_000_000 {
            waiting[index].respond?(nil, waiting[index].sent)
            waiting[index].respond = nil
        }
    }
}
