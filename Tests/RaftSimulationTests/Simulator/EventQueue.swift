import RaftCore

/// What can happen in the simulated world at a point in time.
enum SimEventKind {
    case tick(node: NodeID, incarnation: Int)
    case deliver(Envelope)
    /// A node's slow write is done: it reads every message that arrived meanwhile, in one go.
    case drainInbox(node: NodeID, incarnation: Int)
    /// Work a node handed to its executor is done: its completion runs on the node.
    case offloaded(node: NodeID, incarnation: Int, complete: () -> Void)
}

struct SimEvent {
    var time: Int
    var sequence: Int
    var kind: SimEventKind
}

/// A binary min-heap of events ordered by (time, sequence): ties break by insertion order, so the
/// order of the world never depends on anything but the seed.
struct EventQueue {
    private var heap: [SimEvent] = []
    private var nextSequence = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Int? { heap.first?.time }

    mutating func push(at time: Int, _ kind: SimEventKind) {
        heap.append(SimEvent(time: time, sequence: nextSequence, kind: kind))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> SimEvent? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && precedes(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }

    private func precedes(_ a: SimEvent, _ b: SimEvent) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }
}
