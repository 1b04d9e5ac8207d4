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
    let registry: ClusterRegistry
    let baseRequestTimeoutNanos: UInt64
    /// Slow motion stretches client deadlines with the nodes' timers.
    public let slowMotion = Atomic<Int>(1)
    public let retryQueue = DispatchQueue(label: "raft.router.retry")
    let metrics: ServerMetrics
    public let clock: PauseClock
    let forwarder: RequestForwarder?
    /// The unsafe switch: linearizable reads go to any node that believes it leads.
    let unsafeLocalReads: Bool
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
    var deadline: UInt64 { clock.now() + requestTimeoutNanos }

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
        switch request {
        case .put(let key, let value):
            write(.put(key: key, value: value), request: request, op: "put", id: id, hops: hops, respond: respond)
        case .delete(let key):
            write(.delete(key: key), request: request, op: "delete", id: id, hops: hops, respond: respond)
        case .cas(let key, let expect, let value):
            write(.cas(key: key, expect: expect, value: value), request: request, op: "cas", id: id, hops: hops, respond: respond)
        case .get(let key, .linearizable):
            linearizableRead(key, id: id, hops: hops, deadline: deadline, respond: respond)
        case .get(let key, .eventual):
            read(key, id: id, deadline: deadline, respond: respond)
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

    // MARK: - Reads

    /// The answer to a read that found `value` (nil: no such key), counted in the metrics.
    func readAnswer(key: String, value: String?, id: JSONValue?) -> String {
        if let value {
            metrics.countRequest(op: "get", outcome: "ok")
            return ClientResponse.ok(key: key, value: value, id: id)
        }
        metrics.countRequest(op: "get", outcome: "not_found")
        return ClientResponse.notFound(key: key, id: id)
    }

    func unavailable(_ message: String, key: String?, op: String, id: JSONValue?) -> String {
        metrics.countRequest(op: op, outcome: "unavailable")
        return ClientResponse.error(RequestError(.unavailable, message), key: key, id: id)
    }

    func read(_ key: String, id: JSONValue?, deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        guard let node = registry.pickReadNode(), let host = registry.host(node) else {
            if clock.now() >= deadline {
                return respond(unavailable("no node is up to serve the read", key: key, op: "get", id: id))
            }
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) {
                self.read(key, id: id, deadline: deadline, respond: respond)
            }
            return
        }
        host.readBatch([key]) { values in
            guard let values else {
                return self.read(key, id: id, deadline: deadline, respond: respond)
            }
            respond(self.readAnswer(key: key, value: values[0], id: id))
        }
    }

    /// ReadIndex through the leader; retried on another leader until the deadline. Never
    /// answered from a node that could not confirm its leadership with a quorum (unless the
    /// unsafe switch is on).
    func linearizableRead(_ key: String, id: JSONValue?, hops: Int, deadline: UInt64,
                          respond: @escaping @Sendable (String) -> Void) {
        let retry: @Sendable (Int) -> Void = { ms in
            self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(ms)) {
                self.linearizableRead(key, id: id, hops: hops, deadline: deadline, respond: respond)
            }
        }
        guard clock.now() < deadline else {
            return respond(unavailable("no leader could confirm a quorum within the request timeout", key: key, op: "get", id: id))
        }
        guard let leader = unsafeLocalReads ? registry.anySelfProclaimedLeader : registry.leader else { return retry(10) }
        let place = whereIs(leader, hops: hops)
        if let host = place.local {
            host.readLinearizable(key) { outcome in
                switch outcome {
                case .value(let value): respond(self.readAnswer(key: key, value: value, id: id))
                case .retry: retry(5)
                }
            }
        } else if place.remote {
            forward(.get(key: key, consistency: .linearizable), to: leader, id: id, hops: hops, deadline: deadline,
                    onFailure: { _ in retry(20) }, respond: respond)
        } else {
            retry(10)
        }
    }

    // MARK: - Writes

    func write(_ command: KVCommand, request: ClientRequest, op: String, id: JSONValue?, hops: Int,
               respond: @escaping @Sendable (String) -> Void) {
        let ticket = WriteTicket(router: self, command: command, request: request, op: op, id: id, hops: hops,
                                 deadline: deadline, respond: respond)
        outstanding.withLock { $0.append(ticket) }
        attempt(ticket)
    }

    func attempt(_ ticket: WriteTicket) {
        guard !ticket.isDone else { return }
        guard let leader = registry.leader else {
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) { self.attempt(ticket) }
            return
        }
        let place = whereIs(leader, hops: ticket.hops)
        if let host = place.local {
            ticket.dispatched()
            host.propose(encoded: ticket.encodedCommand, waiter: ticket)
        } else if place.remote, let forwarder {
            ticket.dispatched()
            forwarder.propose(ticket.encodedCommand, to: leader, waiter: ticket)
        } else {
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) { self.attempt(ticket) }
        }
    }

    func retrySoon(_ ticket: WriteTicket) {
        retryQueue.asyncAfter(deadline: .now() + .milliseconds(5)) { self.attempt(ticket) }
    }
}

/// One client write in flight: it may be proposed several times (refused, lost) but is
/// answered once. Whether some attempt is appended and unresolved — or handed to a node that
/// has not said yet whether it appended it — decides, at the deadline, between `timeout` (it
/// may still commit) and `unavailable` (it never will).
final class WriteTicket: WriteWaiter, Sendable {
    struct State {
        var done = false
        /// Proposals handed to a node that has neither appended nor refused them yet.
        var dispatched = 0
        var unresolvedAppends = 0
    }

    let router: RequestRouter
    let command: KVCommand
    /// The command as it stands in the log (encoded once, however many attempts).
    let encodedCommand: String
    let request: ClientRequest
    let op: String
    let id: JSONValue?
    let hops: Int
    let deadline: UInt64
    let respond: @Sendable (String) -> Void
    let state = Mutex(State())

    init(router: RequestRouter, command: KVCommand, request: ClientRequest, op: String, id: JSONValue?, hops: Int,
         deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        self.router = router
        self.command = command
        self.encodedCommand = command.encoded
        self.request = request
        self.op = op
        self.id = id
        self.hops = hops
        self.deadline = deadline
        self.respond = respond
    }

    var isDone: Bool { state.withLock { $0.done } }

    /// A proposal is on its way to a node's queue.
    func dispatched() {
        state.withLock { $0.dispatched += 1 }
    }

    func appended() {
        state.withLock {
            $0.dispatched -= 1
            $0.unresolvedAppends += 1
        }
    }

    func finish(_ outcome: WriteOutcome<KVResult>) {
        switch outcome {
        case .applied(let result):
            answer(response(for: result), outcome: result.isCasFailure ? "cas_failed" : "ok")
        case .notLeader, .nodeDown:
            state.withLock { $0.dispatched -= 1 }  // refused before it was appended
            router.retrySoon(self)
        case .lost:
            state.withLock { $0.unresolvedAppends -= 1 }
            router.retrySoon(self)
        case .unknown:
            answer(ClientResponse.error(RequestError(.timeout, "the node holding the write went down; it may still commit"),
                                        key: command.key, id: id), outcome: "timeout")
        }
    }

    /// The request timeout ran out.
    func expire() {
        // A proposal still on its way may yet be appended: its fate is as unknown as an appended one's.
        let appended = state.withLock { $0.unresolvedAppends > 0 || $0.dispatched > 0 }
        if appended {
            answer(ClientResponse.error(RequestError(.timeout, "the write reached a leader but did not commit in time; it may still commit"),
                                        key: command.key, id: id), outcome: "timeout")
        } else {
            answer(ClientResponse.error(RequestError(.unavailable, "no leader with a quorum within the request timeout; nothing was written"),
                                        key: command.key, id: id), outcome: "unavailable")
        }
    }

    private func answer(_ line: String, outcome: String) {
        let first = state.withLock { state -> Bool in
            if state.done { return false }
            state.done = true
            return true
        }
        guard first else { return }
        router.metrics.countRequest(op: op, outcome: outcome)
        respond(line)
    }

    private func response(for result: KVResult) -> String {
        switch (command, result) {
        case (.read(let key), .value(let value)):
            return value.map { ClientResponse.ok(key: key, value: $0, id: id) } ?? ClientResponse.notFound(key: key, id: id)
        case (_, .value(let value)):
            return ClientResponse.ok(key: command.key, value: value, id: id)
        case (_, .casFailed(let current)):
            return ClientResponse.casFailed(key: command.key, current: current, id: id)
        }
    }
}

extension KVResult {
    var isCasFailure: Bool {
        if case .casFailed = self { return true }
        return false
    }
}
