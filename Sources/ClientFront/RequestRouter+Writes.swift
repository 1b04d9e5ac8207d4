import Dispatch
import JSONText
import KVStore
import KVWire

/// Writes: proposed at the leader (or passed to the leader's member), retried while refused or
/// lost, answered once.
extension RequestRouter {
    func write(_ operation: KVCommand.Operation, request: ClientRequest, id: JSONValue?, hops: Int,
               respond: @escaping @Sendable (String) -> Void) {
        let command = KVCommand(operation, session: request.session)
        let ticket = WriteTicket(router: self, command: command, request: request, id: id, hops: hops, deadline: deadline,
                                 respond: respond)
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
