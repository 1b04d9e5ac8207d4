import JSONText
import KVStore
import KVWire
import NodeHosting
import RaftEngine
import Synchronization

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
    let id: JSONValue?
    let hops: Int
    let deadline: UInt64
    let respond: @Sendable (String) -> Void
    let state = Mutex(State())

    init(router: RequestRouter, command: KVCommand, request: ClientRequest, id: JSONValue?, hops: Int, deadline: UInt64,
         respond: @escaping @Sendable (String) -> Void) {
        self.router = router
        self.command = command
        self.encodedCommand = command.encoded
        self.request = request
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
            answer(Answers.write(result, for: request, id: id), outcome: Answers.outcome(result))
        case .notLeader, .nodeDown:
            state.withLock { $0.dispatched -= 1 }  // refused before it was appended
            router.retrySoon(self)
        case .lost:
            state.withLock { $0.unresolvedAppends -= 1 }
            router.retrySoon(self)
        case .unknown:
            answer(ClientResponse.error(RequestError(.timeout, "the node holding the write went down; it may still commit"),
                                        key: request.key, id: id), outcome: "timeout")
        }
    }

    /// The request timeout ran out.
    func expire() {
        // A proposal still on its way may yet be appended: its fate is as unknown as an appended one's.
        let appended = state.withLock { $0.unresolvedAppends > 0 || $0.dispatched > 0 }
        if appended {
            answer(ClientResponse.error(RequestError(.timeout, "the write reached a leader but did not commit in time; it may still commit"),
                                        key: request.key, id: id), outcome: "timeout")
        } else {
            answer(ClientResponse.error(RequestError(.unavailable, "no leader with a quorum within the request timeout; nothing was written"),
                                        key: request.key, id: id), outcome: "unavailable")
        }
    }

    private func answer(_ line: String, outcome: String) {
        let first = state.withLock { state -> Bool in
            if state.done { return false }
            state.done = true
            return true
        }
        guard first else { return }
        router.metrics.countRequest(op: request.opName, outcome: outcome)
        respond(line)
    }
}
