import ClientFront
import Dispatch
import JSONText
import KVWire
import NodeHosting
import Synchronization

/// Eventual reads, gathered into one hop per node: reads wait in a list per node, and the first
/// one asks the node's queue to serve the list; whatever has gathered by the time the node gets to
/// it is served in one go, and each answer is handed straight from the node's queue to whoever
/// asked (the line connections and HTTP connections, which batch the hop back to their own
/// queues). Under load dozens of reads share two thread hand-offs instead of paying two each.
public final class ReadBatcher: Sendable {
    struct Read: Sendable {
        var request: ClientRequest
        var id: JSONValue?
        var answer: @Sendable (String) -> Void
    }

    let router: RequestRouter
    private let state = Mutex<(pending: [[Read]], scheduled: [Bool])>(
        (Array(repeating: [], count: ClusterRegistry.maxNodeID + 1), Array(repeating: false, count: ClusterRegistry.maxNodeID + 1)))

    public init(router: RequestRouter) {
        self.router = router
    }

    /// Serves an eventual get or range from a follower chosen now; `answer` gets the answer line
    /// (with `id`), on any thread.
    func read(_ request: ClientRequest, id: JSONValue?, answer: @escaping @Sendable (String) -> Void) {
        guard let node = router.registry.pickReadNode(), let host = router.registry.host(node) else {
            return router.read(request, id: id, deadline: router.deadline, respond: answer)
        }
        let schedule = state.withLock { state -> Bool in
            state.pending[node].append(Read(request: request, id: id, answer: answer))
            guard !state.scheduled[node] else { return false }
            state.scheduled[node] = true
            return true
        }
        guard schedule else { return }
        let router = self.router
        host.withMachine { machine in
            let reads = self.state.withLock { state -> [Read] in
                state.scheduled[node] = false
                defer { state.pending[node].removeAll(keepingCapacity: true) }
                return state.pending[node]
            }
            guard let machine else {
                // The node went down meanwhile: each read takes the long way.
                for read in reads { router.read(read.request, id: read.id, deadline: router.deadline, respond: read.answer) }
                return
            }
            for read in reads { router.serve(read.request, from: machine, id: read.id, respond: read.answer) }
        }
    }
}
