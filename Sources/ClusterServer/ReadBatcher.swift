import Dispatch
import JSONText
import KVWire
import RaftCore

/// Groups the eventual reads that arrive on one proxy queue into one hop per node and back:
/// under load, dozens of reads share two thread hand-offs instead of paying two each.
///
/// @unchecked Sendable: confined to `queue` (a proxy I/O queue); nodes answer by hopping back.
final class ReadBatcher: @unchecked Sendable {
    struct Read {
        var key: String
        var id: JSONValue?
        var connection: Connection
        var sequence: Int
    }

    let queue: DispatchQueue
    let router: RequestRouter
    /// Reads waiting for the flush, per node (indexed by node id).
    private var pending: [[Read]] = Array(repeating: [], count: ClusterRegistry.maxNodeID + 1)
    private var flushScheduled = false

    init(queue: DispatchQueue, router: RequestRouter) {
        self.queue = queue
        self.router = router
    }

    /// Queues a read for a follower chosen now; all reads queued before the flush runs go together.
    func add(_ read: Read) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let node = router.registry.pickReadNode() else {
            return router.read(read.key, id: read.id, deadline: router.deadline) {
                read.connection.fillFromAnyThread(read.sequence, $0)
            }
        }
        pending[node].append(read)
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.async { self.flush() }
    }

    private func flush() {
        flushScheduled = false
        for node in pending.indices where !pending[node].isEmpty {
            let reads = pending[node]
            pending[node].removeAll(keepingCapacity: true)
            guard let host = router.registry.host(node) else {
                answer(reads, nil)
                continue
            }
            host.readBatch(reads.map(\.key)) { values in
                self.queue.async { self.answer(reads, values) }
            }
        }
    }

    /// Back on the proxy queue: answer each read, or send it the long way when its node was down.
    private func answer(_ reads: [Read], _ values: [String?]?) {
        guard let values else {
            for read in reads {
                router.read(read.key, id: read.id, deadline: router.deadline) {
                    read.connection.fillFromAnyThread(read.sequence, $0)
                }
            }
            return
        }
        for (read, value) in zip(reads, values) {
            read.connection.fill(read.sequence, router.readAnswer(key: read.key, value: value, id: read.id))
        }
    }
}
