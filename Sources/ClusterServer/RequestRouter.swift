import Dispatch
import JSONText
import KVStore
import KVWire
import RaftCore
import Synchronization

/// Serves client requests by sending work to node queues: writes (and linearizable reads, which
/// go through the log) to the leader's queue, eventual reads to a random follower's. Waits up to
/// `requestTimeoutMs` for a leader, retries writes that were refused or lost, and answers
/// `unavailable` or `timeout` as the contract says.
public final class RequestRouter: Sendable {
    let registry: ClusterRegistry
    let requestTimeoutNanos: UInt64
    let retryQueue = DispatchQueue(label: "raft.router.retry")
    let admin: AdminHandler
    let metrics: ServerMetrics
    /// Writes waiting for their deadline. A sweeper looks every 20 ms — far cheaper than a
    /// dispatch timer per write.
    let outstanding = Mutex<[WriteTicket]>([])
    let sweeper: DispatchSourceBox

    init(registry: ClusterRegistry, requestTimeoutMs: Int, admin: AdminHandler, metrics: ServerMetrics) {
        self.registry = registry
        self.requestTimeoutNanos = UInt64(requestTimeoutMs) * 1_000_000
        self.admin = admin
        self.metrics = metrics
        let timer = DispatchSource.makeTimerSource(queue: retryQueue)
        timer.schedule(deadline: .now() + .milliseconds(20), repeating: .milliseconds(20), leeway: .milliseconds(5))
        self.sweeper = DispatchSourceBox(timer)
        timer.setEventHandler { [weak self] in self?.expireOverdueWrites() }
        timer.resume()
    }

    deinit { sweeper.source.cancel() }

    /// Answers every write whose deadline passed; forgets the ones already answered.
    func expireOverdueWrites() {
        let now = MonotonicClock.now()
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

    /// Serves one request; `respond` gets exactly one response line.
    public func handle(_ request: ClientRequest, id: JSONValue?, respond: @escaping @Sendable (String) -> Void) {
        switch request {
        case .put(let key, let value):
            write(.put(key: key, value: value), op: "put", id: id, respond: respond)
        case .delete(let key):
            write(.delete(key: key), op: "delete", id: id, respond: respond)
        case .cas(let key, let expect, let value):
            write(.cas(key: key, expect: expect, value: value), op: "cas", id: id, respond: respond)
        case .get(let key, .linearizable):
            linearizableRead(key, id: id, deadline: MonotonicClock.now() + requestTimeoutNanos, respond: respond)
        case .get(let key, .eventual):
            read(key, id: id, deadline: MonotonicClock.now() + requestTimeoutNanos, respond: respond)
        case .admin(let adminRequest):
            admin.handle(adminRequest, id: id, respond: respond)
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

    func read(_ key: String, id: JSONValue?, deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        guard let node = registry.pickReadNode() else {
            if MonotonicClock.now() >= deadline {
                metrics.countRequest(op: "get", outcome: "unavailable")
                return respond(ClientResponse.error(RequestError(.unavailable, "no node is up to serve the read"), key: key, id: id))
            }
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) {
                self.read(key, id: id, deadline: deadline, respond: respond)
            }
            return
        }
        registry.host(node).readBatch([key]) { values in
            guard let values else {
                return self.read(key, id: id, deadline: deadline, respond: respond)
            }
            respond(self.readAnswer(key: key, value: values[0], id: id))
        }
    }

    /// ReadIndex through the leader; retried on another leader until the deadline. Never
    /// answered from a node that could not confirm its leadership with a quorum.
    func linearizableRead(_ key: String, id: JSONValue?, deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        guard MonotonicClock.now() < deadline else {
            metrics.countRequest(op: "get", outcome: "unavailable")
            return respond(ClientResponse.error(RequestError(.unavailable, "no leader could confirm a quorum within the request timeout"),
                                                key: key, id: id))
        }
        guard let leader = registry.leader else {
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) {
                self.linearizableRead(key, id: id, deadline: deadline, respond: respond)
            }
            return
        }
        registry.host(leader).readLinearizable(key) { outcome in
            switch outcome {
            case .value(let value):
                respond(self.readAnswer(key: key, value: value, id: id))
            case .retry:
                self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(5)) {
                    self.linearizableRead(key, id: id, deadline: deadline, respond: respond)
                }
            }
        }
    }

    // MARK: - Writes

    func write(_ command: KVCommand, op: String, id: JSONValue?, respond: @escaping @Sendable (String) -> Void) {
        let ticket = WriteTicket(router: self, command: command, op: op, id: id,
                                 deadline: MonotonicClock.now() + requestTimeoutNanos, respond: respond)
        outstanding.withLock { $0.append(ticket) }
        attempt(ticket)
    }

    func attempt(_ ticket: WriteTicket) {
        guard !ticket.isDone else { return }
        guard let leader = registry.leader else {
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) { self.attempt(ticket) }
            return
        }
        registry.host(leader).propose(ticket.command, waiter: ticket)
    }

    func retrySoon(_ ticket: WriteTicket) {
        retryQueue.asyncAfter(deadline: .now() + .milliseconds(5)) { self.attempt(ticket) }
    }
}

/// One client write in flight: it may be proposed several times (refused, lost) but is
/// answered once. Whether some attempt is appended and unresolved decides, at the deadline,
/// between `timeout` (it may still commit) and `unavailable` (it never will).
final class WriteTicket: WriteWaiter, Sendable {
    struct State {
        var done = false
        var unresolvedAppends = 0
    }

    let router: RequestRouter
    let command: KVCommand
    let op: String
    let id: JSONValue?
    let deadline: UInt64
    let respond: @Sendable (String) -> Void
    let state = Mutex(State())

    init(router: RequestRouter, command: KVCommand, op: String, id: JSONValue?, deadline: UInt64,
         respond: @escaping @Sendable (String) -> Void) {
        self.router = router
        self.command = command
        self.op = op
        self.id = id
        self.deadline = deadline
        self.respond = respond
    }

    var isDone: Bool { state.withLock { $0.done } }

    func appended() {
        state.withLock { $0.unresolvedAppends += 1 }
    }

    func finish(_ outcome: WriteOutcome) {
        switch outcome {
        case .applied(let result):
            answer(response(for: result), outcome: result.isCasFailure ? "cas_failed" : "ok")
        case .notLeader, .nodeDown:
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
        let appended = state.withLock { $0.unresolvedAppends > 0 }
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
