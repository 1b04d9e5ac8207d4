import Dispatch
import Synchronization

/// Carries answers from node queues back to one proxy I/O queue: answers posted while the queue
/// has not yet run are delivered together, so a leader that commits a batch of 60 writes wakes
/// each proxy queue once, not 60 times.
final class ReplyBatcher: Sendable {
    struct Reply {
        var connection: Connection
        var sequence: Int
        var line: String
    }

    let queue: DispatchQueue
    private let state = Mutex<(replies: [Reply], scheduled: Bool)>(([], false))

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    /// Any thread.
    func post(_ reply: Reply) {
        let schedule = state.withLock { state -> Bool in
            state.replies.append(reply)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { queue.async { self.deliver() } }
    }

    private func deliver() {
        let replies = state.withLock { state -> [Reply] in
            state.scheduled = false
            defer { state.replies.removeAll(keepingCapacity: true) }
            return state.replies
        }
        for reply in replies {
            reply.connection.fill(reply.sequence, reply.line)
        }
    }
}
