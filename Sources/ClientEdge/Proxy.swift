#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientFront
import Dispatch
import NetworkIO
import KVWire
import RaftStorage
import Synchronization
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// The TCP listener clients connect to. Connections are spread over a few serial queues
/// (about one per core), so thousands of clients cost sockets and buffers, not threads.
public final class Proxy: Sendable {
    public enum StartError: Error, Equatable, CustomStringConvertible {
        case addressInUse(host: String, port: Int)
        case cannotListen(host: String, port: Int, reason: String)

        public var description: String {
            switch self {
            case .addressInUse(let host, let port): return "port \(port) on \(host) is already in use"
            case .cannotListen(let host, let port, let reason): return "cannot listen on \(host):\(port): \(reason)"
            }
        }
    }

    struct State {
        var listenFD: Int32 = -1
        var boundPort = 0
        var acceptSource: DispatchSourceBox?
        var sweeper: DispatchSourceBox?
        var connections: [Int: LineConnection] = [:]
        var nextNumber = 0
        var warnedNoFiles = false
    }

    let host: String
    let requestedPort: Int
    let limits: WireLimits
    let idleTimeoutSeconds: Int
    let router: RequestRouter
    let metrics: ServerMetrics
    let events: EventLog
    let authorizer: Authorizer
    /// Requests one connection may have waiting; connections this listener holds at once.
    let pendingLimit: Int
    let connectionLimit: Int
    /// TLS for each new connection (nil: plain TCP), and how long its handshake may take.
    let security: ConnectionSecurityFactory?
    let handshakeTimeoutNanos: UInt64
    private let acceptQueue = DispatchQueue(label: "raft.proxy.accept")
    private let ioQueues: [DispatchQueue]
    /// Eventual reads, one hop per node; answers go back through one hand-off per I/O queue.
    let reads: ReadBatcher
    private let replyBatchers: [HandOff<Reply>]
    private let watchBatchers: [HandOff<WatchLine>]

    /// A watch's events on their way to its connection: the batch's shared line tail, which the
    /// connection writes after the watch's own `{"watch":W` prefix.
    struct WatchLine: Sendable {
        var connection: LineConnection
        var watch: LineConnection.LineWatch
        var batch: WatchBatch
    }

    /// An answer for a connection, on its way back from a node queue.
    struct Reply: Sendable {
        var connection: LineConnection
        var sequence: Int
        var line: String
    }
    private let state = Mutex(State())

    public init(host: String, port: Int, limits: WireLimits, idleTimeoutSeconds: Int, router: RequestRouter,
                metrics: ServerMetrics, events: EventLog, ioQueueCount: Int, reads: ReadBatcher,
                authorizer: Authorizer = Authorizer(tokens: []), pendingLimit: Int = 10_000, connectionLimit: Int = 10_000,
                security: ConnectionSecurityFactory? = nil, handshakeTimeoutSeconds: Int = 10) {
        self.authorizer = authorizer
        self.pendingLimit = pendingLimit
        self.connectionLimit = connectionLimit
        self.security = security
        self.handshakeTimeoutNanos = UInt64(handshakeTimeoutSeconds) * 1_000_000_000
        self.host = host
        self.requestedPort = port
        self.limits = limits
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.router = router
        self.metrics = metrics
        self.events = events
        let queues = (0..<max(1, ioQueueCount)).map { DispatchQueue(label: "raft.proxy.io.\($0)", qos: .userInitiated) }
        self.ioQueues = queues
        self.reads = reads
        self.replyBatchers = queues.map { queue in
            HandOff(queue: queue) { reply in reply.connection.answer(reply.sequence, .line(reply.line)) }
        }
        self.watchBatchers = queues.map { queue in
            // Lines are queued as they come and each connection written once per run: under load
            // a connection's lines of several batches go out in one send.
            let touched = WatchFlushList()
            return HandOff(queue: queue, deliver: { item in
                if item.connection.queueWatchLine(item.watch, item.batch) { touched.add(item.connection) }
            }, finished: {
                touched.flush(metrics: metrics)
            })
        }
    }

    /// The connections one I/O queue's watch hand-off queued lines for during its current run,
    /// in the order first touched. @unchecked Sendable: used on that I/O queue only.
    final class WatchFlushList: @unchecked Sendable {
        private var connections: [LineConnection] = []

        func add(_ connection: LineConnection) {
            if !connection.watchFlushPending {
                connection.watchFlushPending = true
                connections.append(connection)
            }
        }

        func flush(metrics: ServerMetrics) {
            var events = 0
            for connection in connections {
                connection.watchFlushPending = false
                events += connection.takeWatchEventsQueued()
                connection.flushPending()
            }
            connections.removeAll(keepingCapacity: true)
            if events > 0 { metrics.watchEventsSent(events) }
        }
    }

    func watchHandOff(for connection: LineConnection) -> HandOff<WatchLine> {
        watchBatchers[connection.number % watchBatchers.count]
    }

    func replyBatcher(for connection: LineConnection) -> HandOff<Reply> {
        replyBatchers[connection.number % replyBatchers.count]
    }

    /// The port actually bound (useful when the config asks for port 0).
    public var port: Int { state.withLock { $0.boundPort } }

    public var openConnections: Int { state.withLock { $0.connections.count } }

    public func start() throws(StartError) {
        let fd: Int32
        do {
            fd = try Sockets.listen(host: host, port: requestedPort)
        } catch {
            switch error {
            case .addressInUse(let host, let port): throw .addressInUse(host: host, port: port)
            case .failed(let host, let port, let reason): throw .cannotListen(host: host, port: port, reason: reason)
            }
        }
        let bound = Sockets.boundPort(fd)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { Glibc.close(fd) }
        var sweeper: DispatchSourceTimer?
        if idleTimeoutSeconds > 0 || security != nil {
            let timer = DispatchSource.makeTimerSource(queue: acceptQueue)
            let period = idleTimeoutSeconds > 0 ? min(1000, idleTimeoutSeconds * 250) : 1000
            timer.schedule(deadline: .now() + .milliseconds(period), repeating: .milliseconds(period))
            timer.setEventHandler { [weak self] in self?.sweepIdle() }
            sweeper = timer
        }
        state.withLock {
            $0.listenFD = fd
            $0.boundPort = bound
            $0.acceptSource = DispatchSourceBox(source)
            $0.sweeper = sweeper.map(DispatchSourceBox.init)
        }
        source.resume()
        sweeper?.resume()
    }

    private func acceptAll() {
        let listenFD = state.withLock { $0.listenFD }
        guard listenFD >= 0 else { return }
        while true {
            guard let fd = Sockets.accept(listenFD) else {
                if errno == EMFILE || errno == ENFILE {
                    let warn = state.withLock { state -> Bool in
                        defer { state.warnedNoFiles = true }
                        return !state.warnedNoFiles
                    }
                    if warn { events.log(.warning, "cannot accept more connections: out of file descriptors") }
                }
                return
            }
            guard state.withLock({ $0.connections.count }) < connectionLimit else {
                refuse(fd, "{\"status\":\"error\",\"code\":\"unavailable\",\"error\":\"this server holds \(connectionLimit) connections already (limits.connectionsPerListener); try again later\"}\n")
                continue
            }
            let layer: ConnectionSecurity?
            do {
                layer = try security?()
            } catch {
                events.log(.error, "cannot start TLS for a new connection: \(error)")
                Glibc.close(fd)
                continue
            }
            let connection = state.withLock { state -> LineConnection in
                let number = state.nextNumber
                state.nextNumber += 1
                let connection = LineConnection(number: number, fd: fd, queue: ioQueues[number % ioQueues.count], proxy: self,
                                                security: layer)
                state.connections[number] = connection
                return connection
            }
            metrics.connectionOpened()
            connection.start()
        }
    }

    /// Best effort, without waiting: one line to a connection that is not kept, then close.
    private func refuse(_ fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.close(fd)
    }

    /// Idle connections get `{"close":"ok"}`; a TLS handshake left half-open past its deadline is dropped.
    private func sweepIdle() {
        let idleNanos = UInt64(idleTimeoutSeconds) * 1_000_000_000
        let now = MonotonicClock.now()
        let connections = state.withLock { Array($0.connections.values) }
        let handshakeDeadline = handshakeTimeoutNanos
        for connection in connections {
            connection.queue.async {
                if connection.handshakePending && now > connection.openedAt && now - connection.openedAt > handshakeDeadline {
                    return connection.closeNow()
                }
                if idleNanos > 0 { connection.closeIfIdle(now: now, idleNanos: idleNanos) }
            }
        }
    }

    func connectionClosed(_ connection: LineConnection) {
        state.withLock { _ = $0.connections.removeValue(forKey: connection.number) }
        metrics.connectionClosed()
    }

    /// Stops accepting; connections read no more requests and close once answered.
    public func stopAccepting() {
        let (source, sweeper, connections) = state.withLock { state -> (DispatchSourceBox?, DispatchSourceBox?, [LineConnection]) in
            defer {
                state.acceptSource = nil
                state.sweeper = nil
                state.listenFD = -1
            }
            return (state.acceptSource, state.sweeper, Array(state.connections.values))
        }
        source?.source.cancel()
        sweeper?.source.cancel()
        for connection in connections {
            connection.queue.async { connection.finishAndClose() }
        }
    }

    /// Closes whatever connections are still open.
    public func closeAll() {
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            connection.queue.sync { connection.closeNow() }
        }
    }
}
