#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import KVWire
import RaftStorage
import Synchronization

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
        var connections: [Int: Connection] = [:]
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
    private let acceptQueue = DispatchQueue(label: "raft.proxy.accept")
    private let ioQueues: [DispatchQueue]
    /// One read batcher (confined to its queue) and one reply batcher per I/O queue.
    private let readBatchers: [ReadBatcher]
    private let replyBatchers: [ReplyBatcher]
    private let state = Mutex(State())

    init(host: String, port: Int, limits: WireLimits, idleTimeoutSeconds: Int, router: RequestRouter,
         metrics: ServerMetrics, events: EventLog, ioQueueCount: Int) {
        self.host = host
        self.requestedPort = port
        self.limits = limits
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.router = router
        self.metrics = metrics
        self.events = events
        let queues = (0..<max(1, ioQueueCount)).map { DispatchQueue(label: "raft.proxy.io.\($0)", qos: .userInitiated) }
        self.ioQueues = queues
        self.readBatchers = queues.map { ReadBatcher(queue: $0, router: router, clusterSize: router.registry.clusterSize) }
        self.replyBatchers = queues.map { ReplyBatcher(queue: $0) }
    }

    func replyBatcher(for connection: Connection) -> ReplyBatcher {
        replyBatchers[connection.number % replyBatchers.count]
    }

    func readBatcher(for connection: Connection) -> ReadBatcher {
        readBatchers[connection.number % readBatchers.count]
    }

    /// The port actually bound (useful when the config asks for port 0).
    public var port: Int { state.withLock { $0.boundPort } }

    public var openConnections: Int { state.withLock { $0.connections.count } }

    func start() throws(StartError) {
        let fd = try Self.listen(host: host, port: requestedPort)
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let family = address.ss_family
        let bound: Int = withUnsafePointer(to: &address) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { Glibc.close(fd) }
        var sweeper: DispatchSourceTimer?
        if idleTimeoutSeconds > 0 {
            let timer = DispatchSource.makeTimerSource(queue: acceptQueue)
            let period = min(1000, idleTimeoutSeconds * 250)
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

    static func listen(host: String, port: Int) throws(StartError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &list)
        guard lookup == 0, let first = list else {
            throw .cannotListen(host: host, port: port, reason: String(cString: gai_strerror(lookup)))
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotListen(host: host, port: port, reason: SystemError.message(errno)) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            let code = errno
            Glibc.close(fd)
            if code == EADDRINUSE { throw .addressInUse(host: host, port: port) }
            throw .cannotListen(host: host, port: port, reason: SystemError.message(code))
        }
        if Glibc.listen(fd, 4096) != 0 {
            let code = errno
            Glibc.close(fd)
            throw .cannotListen(host: host, port: port, reason: SystemError.message(code))
        }
        return fd
    }

    private func acceptAll() {
        let listenFD = state.withLock { $0.listenFD }
        guard listenFD >= 0 else { return }
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                if errno == EMFILE || errno == ENFILE {
                    let warn = state.withLock { state -> Bool in
                        defer { state.warnedNoFiles = true }
                        return !state.warnedNoFiles
                    }
                    if warn { events.log(.warning, "cannot accept more connections: out of file descriptors") }
                }
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let connection = state.withLock { state -> Connection in
                let number = state.nextNumber
                state.nextNumber += 1
                let connection = Connection(number: number, fd: fd, queue: ioQueues[number % ioQueues.count], proxy: self)
                state.connections[number] = connection
                return connection
            }
            metrics.connectionOpened()
            connection.start()
        }
    }

    private func sweepIdle() {
        let idleNanos = UInt64(idleTimeoutSeconds) * 1_000_000_000
        let now = MonotonicClock.now()
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            connection.queue.async { connection.closeIfIdle(now: now, idleNanos: idleNanos) }
        }
    }

    func connectionClosed(_ connection: Connection) {
        state.withLock { _ = $0.connections.removeValue(forKey: connection.number) }
        metrics.connectionClosed()
    }

    /// Stops accepting; connections read no more requests and close once answered.
    func stopAccepting() {
        let (source, sweeper, connections) = state.withLock { state -> (DispatchSourceBox?, DispatchSourceBox?, [Connection]) in
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
    func closeAll() {
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            connection.queue.sync { connection.closeNow() }
        }
    }
}

/// Holds a dispatch source inside lock-protected state. Dispatch sources are thread-safe
/// objects; the box only tells the compiler so.
final class DispatchSourceBox: @unchecked Sendable {
    let source: any DispatchSourceProtocol

    init(_ source: any DispatchSourceProtocol) {
        self.source = source
    }
}
