#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import Synchronization

/// An HTTP/1.1 server: accepts connections on `host:port` and spreads them over a few serial
/// queues, so many browsers cost sockets and buffers, not threads. It knows nothing of what the
/// requests mean: `handler` answers them.
public final class HTTPListener: Sendable {
    struct State {
        var listenFD: Int32 = -1
        var boundPort = 0
        var acceptSource: DispatchSourceBoxed?
        var sweeper: DispatchSourceBoxed?
        var connections: [Int: HTTPConnection] = [:]
        var nextNumber = 0
    }

    public let host: String
    public let requestedPort: Int
    let handler: HTTPHandler
    /// Largest body accepted (413 beyond).
    let bodyLimit: Int
    let idleNanos: UInt64
    let partialNanos: UInt64
    /// Builds the JSON body of an error the server itself answers (400, 408, 413, 431, ...).
    let errorBody: @Sendable (Int, String) -> String
    /// TLS for each new connection (nil: plain HTTP), how long its handshake may take, and how
    /// many connections this listener holds at once.
    let security: ConnectionSecurityFactory?
    let handshakeNanos: UInt64
    let connectionLimit: Int
    private let acceptQueue = DispatchQueue(label: "raft.http.accept")
    private let ioQueues: [DispatchQueue]
    /// Answers on their way back to each I/O queue, delivered in batches.
    private let answerHandOffs: [HandOff<HTTPConnection.Delivery>]
    private let state = Mutex(State())

    public init(host: String, port: Int, handler: HTTPHandler, bodyLimit: Int, idleSeconds: Int = 60,
                partialRequestSeconds: Int = 10, ioQueueCount: Int = 2, security: ConnectionSecurityFactory? = nil,
                handshakeSeconds: Int = 10, connectionLimit: Int = 10_000,
                errorBody: @escaping @Sendable (Int, String) -> String) {
        self.security = security
        self.handshakeNanos = UInt64(max(1, handshakeSeconds)) * 1_000_000_000
        self.connectionLimit = connectionLimit
        self.host = host
        self.requestedPort = port
        self.handler = handler
        self.bodyLimit = bodyLimit
        self.idleNanos = UInt64(max(1, idleSeconds)) * 1_000_000_000
        self.partialNanos = UInt64(max(1, partialRequestSeconds)) * 1_000_000_000
        self.errorBody = errorBody
        let queues = (0..<max(1, ioQueueCount)).map { DispatchQueue(label: "raft.http.io.\($0)", qos: .userInitiated) }
        self.ioQueues = queues
        self.answerHandOffs = queues.map { queue in HandOff(queue: queue) { $0.connection.deliver($0) } }
    }

    func answerHandOff(for connection: HTTPConnection) -> HandOff<HTTPConnection.Delivery> {
        answerHandOffs[connection.number % answerHandOffs.count]
    }

    /// The port actually bound (port 0 asks the kernel for a free one).
    public var port: Int { state.withLock { $0.boundPort } }

    public var openConnections: Int { state.withLock { $0.connections.count } }

    public func start() throws(Sockets.Failure) {
        let fd = try Sockets.listen(host: host, port: requestedPort)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { Glibc.close(fd) }
        let sweeper = DispatchSource.makeTimerSource(queue: acceptQueue)
        sweeper.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(100))
        sweeper.setEventHandler { [weak self] in self?.sweep() }
        state.withLock {
            $0.listenFD = fd
            $0.boundPort = Sockets.boundPort(fd)
            $0.acceptSource = DispatchSourceBoxed(source)
            $0.sweeper = DispatchSourceBoxed(sweeper)
        }
        source.resume()
        sweeper.resume()
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        let (source, sweeper, connections) = state.withLock { state -> (DispatchSourceBoxed?, DispatchSourceBoxed?, [HTTPConnection]) in
            defer {
                state.acceptSource = nil
                state.sweeper = nil
                state.listenFD = -1
            }
            return (state.acceptSource, state.sweeper, Array(state.connections.values))
        }
        source?.source.cancel()
        sweeper?.source.cancel()
        for connection in connections { connection.queue.async { connection.closeNow() } }
    }

    private func acceptAll() {
        let listenFD = state.withLock { $0.listenFD }
        guard listenFD >= 0 else { return }
        while let fd = Sockets.accept(listenFD) {
            guard state.withLock({ $0.connections.count }) < connectionLimit else {
                let body = errorBody(503, "this server holds \(connectionLimit) HTTP connections already; try again later")
                var bytes = HTTPResponse.json(503, body).encoded(keepAlive: false)
                _ = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                Glibc.close(fd)
                continue
            }
            let layer: ConnectionSecurity?
            do {
                layer = try security?()
            } catch {
                Glibc.close(fd)
                continue
            }
            let connection = state.withLock { state -> HTTPConnection in
                let number = state.nextNumber
                state.nextNumber += 1
                let connection = HTTPConnection(number: number, fd: fd, queue: ioQueues[number % ioQueues.count], listener: self,
                                                security: layer)
                state.connections[number] = connection
                return connection
            }
            connection.start()
        }
    }

    private func sweep() {
        let now = Self.now()
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.queue.async {
                if connection.handshakePending && now > connection.openedAt && now - connection.openedAt > self.handshakeNanos {
                    return connection.closeNow()
                }
                connection.sweep(now: now, idleNanos: self.idleNanos, partialNanos: self.partialNanos)
            }
        }
    }

    func connectionClosed(_ connection: HTTPConnection) {
        state.withLock { _ = $0.connections.removeValue(forKey: connection.number) }
    }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

/// A dispatch source inside lock-protected state (sources are thread-safe objects).
final class DispatchSourceBoxed: @unchecked Sendable {
    let source: any DispatchSourceProtocol

    init(_ source: any DispatchSourceProtocol) {
        self.source = source
    }
}
