import Dispatch
import Synchronization

/// Hands work from any thread to one serial queue, in batches: items posted while the queue has
/// not yet run are delivered together, so a node that answers sixty requests at once wakes each
/// I/O queue once, not sixty times.
public final class HandOff<Item: Sendable>: Sendable {
    public let queue: DispatchQueue
    private let deliver: @Sendable (Item) -> Void
    /// Runs once after each run of deliveries (flushes what they queued, say).
    private let finished: (@Sendable () -> Void)?
    private let state = Mutex<(items: [Item], scheduled: Bool)>(([], false))

    /// `deliver` runs on `queue`, once per item, in the order posted.
    public init(queue: DispatchQueue, deliver: @escaping @Sendable (Item) -> Void) {
        self.queue = queue
        self.deliver = deliver
        self.finished = nil
    }

    /// `deliver` runs on `queue`, once per item, in the order posted; `finished` after every item
    /// that was waiting has been delivered (items posted together are handled as one run).
    public init(queue: DispatchQueue, deliver: @escaping @Sendable (Item) -> Void, finished: @escaping @Sendable () -> Void) {
        self.queue = queue
        self.deliver = deliver
        self.finished = finished
    }

    /// Any thread.
    public func post(_ item: Item) {
        let schedule = state.withLock { state -> Bool in
            state.items.append(item)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { queue.async { self.run() } }
    }

    private func run() {
        let items = state.withLock { state -> [Item] in
            state.scheduled = false
            defer { state.items.removeAll(keepingCapacity: true) }
            return state.items
        }
        for item in items { deliver(item) }
        finished?()
    }
}
