import Dispatch
import JSONText
import KVStore
import KVWire
import RaftCore
import RaftEngine
import Synchronization
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// Sends a request this process cannot serve to the member that can (one node per process).
public protocol RequestForwarder: Sendable {
    /// Forwards `request` to node `node`'s member; `respond` gets its answer line (without the
    /// client's id), or nil when the member could not be reached or did not answer by `deadline`
    /// (then `sent` says whether the request left this process: a write may have happened).
    func forward(_ request: ClientRequest, to node: NodeID, hops: Int, deadline: UInt64,
                 respond: @escaping @Sendable (_ line: String?, _ sent: Bool) -> Void)
    /// Passes a write (the command as it will stand in the log) to the member of node `node`,
    /// which proposes it to its node; `waiter` hears what a local node would have said.
    func propose(_ command: String, to node: NodeID, waiter: WriteWaiter)
}

/// Time that stops while the cluster is paused, so client deadlines are suspended with it.
public final class PauseClock: Sendable {
    public init() {}

    private let state = Mutex<(pausedAt: UInt64?, pausedTotal: UInt64)>((nil, 0))

    /// Monotonic nanoseconds, minus every pause.
    public func now() -> UInt64 {
        let real = MonotonicClock.now()
        return state.withLock { state in real - state.pausedTotal - (state.pausedAt.map { real - $0 } ?? 0) }
    }

    public func pause() {
        state.withLock { if $0.pausedAt == nil { $0.pausedAt = MonotonicClock.now() } }
    }

    public func resume() {
        state.withLock { state in
            if let since = state.pausedAt {
                state.pausedTotal += MonotonicClock.now() - since
                state.pausedAt = nil
            }
        }
    }
}

/// Serves client requests by sending work to node queues: writes and linearizable reads to the
/// leader's queue, eventual reads to a random follower's — or, with one node per process, to the
/// member that runs the leader. Waits up to `requestTimeoutMs` (of running time: a pause stops
/// the clock) for a leader, retries writes that were refused or lost, and answers `unavailable`
/// or `timeout` as the contract says.
public final class RequestRouter: Sendable {
    package let registry: ClusterRegistry
    let baseRequestTimeoutNanos: UInt64
    /// Slow motion stretches client deadlines with the nodes' timers.
    public let slowMotion = Atomic<Int>(1)
    public let retryQueue = DispatchQueue(label: "raft.router.retry")
    package let metrics: ServerMetrics
    public let clock: PauseClock
    let forwarder: RequestForwarder?
    /// The unsafe switch: linearizable reads go to any node that believes it leads.
    package let unsafeLocalReads: Bool
    /// Member forwards allowed before a request is served where it is.
    public static let maxHops = 2
    private let adminHandler = Mutex<AdminHandler?>(nil)
    /// Writes waiting for their deadline. A sweeper looks every 20 ms — far cheaper than a
    /// dispatch timer per write.
    let outstanding = Mutex<[WriteTicket]>([])
    let sweeper: DispatchSourceBox

    public init(registry: ClusterRegistry, requestTimeoutMs: Int, metrics: ServerMetrics, clock: PauseClock,
                forwarder: RequestForwarder?, unsafeLocalReads: Bool) {
        self.registry = registry
        self.unsafeLocalReads = unsafeLocalReads
        self.baseRequestTimeoutNanos = UInt64(requestTimeoutMs) * 1_000_000
        self.metrics = metrics
        self.clock = clock
        self.forwarder = forwarder
        let timer = DispatchSource.makeTimerSource(queue: retryQueue)
        timer.schedule(deadline: .now() + .milliseconds(20), repeating: .milliseconds(20), leeway: .milliseconds(5))
        self.sweeper = DispatchSourceBox(timer)
        timer.setEventHandler { [weak self] in self?.expireOverdueWrites() }
        timer.resume()
    }

    deinit { sweeper.source.cancel() }

    public func attach(admin: AdminHandler) {
        adminHandler.withLock { $0 = admin }
    }

    public var admin: AdminHandler? { adminHandler.withLock { $0 } }

    var requestTimeoutNanos: UInt64 { baseRequestTimeoutNanos * UInt64(slowMotion.load(ordering: .relaxed)) }
    package var deadline: UInt64 { clock.now() + requestTimeoutNanos }

    /// Answers every write whose deadline passed; forgets the ones already answered.
    func expireOverdueWrites() {
        let now = clock.now()
        let tickets = outstanding.withLock { tickets -> [WriteTicket] in
            defer { tickets.removeAll(keepingCapacity: true) }
            return tickets
        }
        var keep: [WriteTicket] = []
        for ticket in tickets where !ticket.isDone {
            if now >= ticket.deadline { ticket.expire() } else { keep.append(ticket) }
        }
        if !keep.isEmpty { outstanding.withLock { $0.append(contentsOf: keep) } }
    }

    /// Serves one request; `respond` gets exactly one response line. `hops` counts the members
    /// that forwarded it here.
    public func handle(_ request: ClientRequest, id: JSONValue?, hops: Int = 0, respond: @escaping @Sendable (String) -> Void) {
        switch request.operation {
        case .put(let key, let value, let lease):
            write(.put(key: key, value: value, lease: lease), request: request, id: id, hops: hops, respond: respond)
        case .delete(let key):
            write(.delete(key: key), request: request, id: id, hops: hops, respond: respond)
        case .deletePrefix(let prefix):
            write(.deletePrefix(prefix), request: request, id: id, hops: hops, respond: respond)
        case .cas(let key, let expect, let value):
            write(.cas(key: key, expect: expect, value: value), request: request, id: id, hops: hops, respond: respond)
        case .casRevision(let key, let revision, let value):
            write(.casRevision(key: key, expectRevision: revision, value: value), request: request, id: id, hops: hops, respond: respond)
        case .txn(let transaction):
            write(.txn(transaction), request: request, id: id, hops: hops, respond: respond)
        case .get(_, let consistency) where consistency == .linearizable:
            linearizableRead(request, id: id, hops: hops, deadline: deadline, respond: respond)
        case .range(let query) where query.consistency == .linearizable:
            linearizableRead(request, id: id, hops: hops, deadline: deadline, respond: respond)
        case .get, .range:
            read(request, id: id, deadline: deadline, respond: respond)
        case .leaseGrant(let ttl):
            write(.leaseGrant(ttlMs: ttl), request: request, id: id, hops: hops, respond: respond)
        case .leaseRevoke(let lease):
            write(.leaseRevoke(id: lease, expired: false), request: request, id: id, hops: hops, respond: respond)
        case .leaseKeepAlive, .leaseInfo, .leaseList:
            atLeader(request, id: id, hops: hops, deadline: deadline, respond: respond)
        case .watch, .unwatch:
            respond(ClientResponse.error(RequestError(.badRequest, "a watch needs a connection that stays open: send it on the line protocol, or use GET /v1/watch"), id: id))
        case .admin(let adminRequest):
            guard let admin = adminHandler.withLock({ $0 }) else {
                return respond(ClientResponse.error(RequestError(.unavailable, "the server is starting"), id: id))
            }
            admin.handle(adminRequest, id: id, hops: hops, respond: respond)
        }
    }

    /// Where the node runs: here (its host), or in another member's process.
    func whereIs(_ node: NodeID, hops: Int) -> (local: NodeHost?, remote: Bool) {
        if let host = registry.host(node) { return (host, false) }
        return (nil, forwarder != nil && hops < Self.maxHops)
    }

    /// Sends `request` to the member running `node`, answering with its line and the client's id.
    func forward(_ request: ClientRequest, to node: NodeID, id: JSONValue?, hops: Int, deadline: UInt64,
                 onFailure: @escaping @Sendable (_ sent: Bool) -> Void, respond: @escaping @Sendable (String) -> Void) {
        guard let forwarder else { return onFailure(false) }
        forwarder.forward(request, to: node, hops: hops + 1, deadline: deadline) { line, sent in
            if let line { respond(RequestEncoder.withID(line, id: id)) } else { onFailure(sent) }
        }
    }
}
