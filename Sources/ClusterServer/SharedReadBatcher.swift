import Dispatch
import Synchronization

/// Groups eventual reads that arrive from any thread (the HTTP API's connections) into one hop
/// per node: reads wait in a list per node until one flush on the batcher's queue hands each
/// node its keys together, and the node answers every read straight from its own queue.
final class SharedReadBatcher: Sendable {
    struct Read: Sendable {
        var key: String
        var answer: @Sendable (String) -> Void
    }

    let router: RequestRouter
    private let queue = DispatchQueue(label: "raft.http.reads", qos: .userInitiated)
    private let state = Mutex<(pending: [[Read]], scheduled: Bool)>(
        (Array(repeating: [], count: ClusterRegistry.maxNodeID + 1), false))

    init(router: RequestRouter) {
        self.router = router
    }

    /// Reads `key` from a follower chosen now; `answer` gets the answer line, on any thread.
    func read(_ key: String, answer: @escaping @Sendable (String) -> Void) {
        guard let node = router.registry.pickReadNode() else {
            return router.read(key, id: nil, deadline: router.deadline, respond: answer)
        }
        let schedule = state.withLock { state -> Bool in
            state.pending[node].append(Read(key: key, answer: answer))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { queue.async { self.flush() } }
    }

    private func flush() {
        let batches = state.withLock { state -> [(node: Int, reads: [Read])] in
            state.scheduled = false
            var batches: [(node: Int, reads: [Read])] = []
            for node in state.pending.indices where !state.pending[node].isEmpty {
                batches.append((node, state.pending[node]))
                state.pending[node].removeAll(keepingCapacity: true)
            }
            return batches
        }
        let router = self.router
        for (node, reads) in batches {
            guard let host = router.registry.host(node) else {
                for read in reads { router.read(read.key, id: nil, deadline: router.deadline, respond: read.answer) }
                continue
            }
            host.readBatch(reads.map(\.key)) { values in
                guard let values else {
                    // The node went down meanwhile: each read takes the long way.
                    for read in reads { router.read(read.key, id: nil, deadline: router.deadline, respond: read.answer) }
                    return
                }
                for (read, value) in zip(reads, values) {
                    read.answer(router.readAnswer(key: read.key, value: value, id: nil))
                }
            }
        }
    }
}
