import JSONText
import KVStore
import Synchronization

/// Which keys a watch follows: one key, or every key with a prefix (by their bytes).
public enum WatchFilter: Sendable, Hashable {
    case key(ByteKey)
    case prefix(ByteKey)

    func matches(_ key: ByteKey) -> Bool {
        switch self {
        case .key(let wanted): return key == wanted
        case .prefix(let prefix): return key.hasPrefix(prefix)
        }
    }
}

/// The changes of some revisions, for the watches of one filter: the events themselves, and the
/// same events written once as the JSON array line watchers send (`[{"type":"put",…}]`).
public final class WatchBatch: Sendable {
    public let events: [KVEvent]
    public let eventsJSON: String
    /// The store's revision at the node once these events were applied.
    public let revision: Int64

    public init(events: [KVEvent], revision: Int64) {
        self.events = events
        self.revision = revision
        var text = "["
        text.reserveCapacity(events.count * 120)
        for (position, event) in events.enumerated() {
            if position > 0 { text += "," }
            WatchBatch.append(event, to: &text)
        }
        eventsJSON = text + "]"
    }

    /// One event as the contract writes it: `{"type","key","value","modRevision","createRevision","version"}`.
    public static func append(_ event: KVEvent, to text: inout String) {
        text += "{\"type\":\"\(event.kind.rawValue)\",\"key\":"
        JSONWriter.appendQuoted(event.key, to: &text)
        text += ",\"value\":"
        if let record = event.record {
            JSONWriter.appendQuoted(record.value, to: &text)
            text += ",\"modRevision\":\(event.revision),\"createRevision\":\(record.createRevision),\"version\":\(record.version)}"
        } else {
            text += "null,\"modRevision\":\(event.revision),\"createRevision\":0,\"version\":0}"
        }
    }
}

/// What a watch hears from its node: changes, or that the node can feed it no more (it went down,
/// or jumped past the watch's next revision by loading a leader's snapshot) — the watch then
/// resumes elsewhere, or later, from its next revision.
public enum WatchDelivery: Sendable {
    case changes(WatchBatch)
    case ended(String)
}

/// One watch registered at a node. `deliver` runs on the node's queue and must not block: it
/// hands the delivery to the watcher's own queue.
public final class WatchSubscription: Sendable {
    public let filter: WatchFilter
    let deliver: @Sendable (WatchDelivery) -> Void
    /// The first revision not yet delivered (touched on the node's queue only).
    let next: Mutex<Int64>
    let cancelled = Atomic<Bool>(false)

    public init(filter: WatchFilter, deliver: @escaping @Sendable (WatchDelivery) -> Void) {
        self.filter = filter
        self.deliver = deliver
        self.next = Mutex(0)
    }

    /// Stops deliveries (any thread); the node forgets it at its next publish.
    public func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }
}

/// A node's recent changes and the watches it feeds, on the node's queue: the last
/// `historyRevisions` revisions' events (so a watcher that reconnects can resume from where it
/// was), and the subscriptions, grouped by filter so that a thousand watchers of one prefix cost
/// one match and one JSON rendering per batch. Every revision that changed something has at
/// least one event, so the history is contiguous: it holds every event from `oldestRevision` on.
///
/// @unchecked Sendable: confined to its node's queue.
final class WatchHub: @unchecked Sendable {
    private var history: [(revision: Int64, events: [KVEvent])] = []
    private var historyStart = 0
    /// Every event of a revision from here on is in `history`.
    private(set) var oldestRevision: Int64 = 1
    private var groups: [WatchFilter: [WatchSubscription]] = [:]
    /// Filters in the order they were first watched (deliveries never depend on Dictionary order).
    private var filterOrder: [WatchFilter] = []
    let historyRevisions: Int
    private(set) var watchCount = 0

    init(historyRevisions: Int) {
        self.historyRevisions = max(1, historyRevisions)
    }

    /// The state machine starts (or was replaced) at `revision`: nothing before it is known here.
    func reset(at revision: Int64, reason: String?) {
        history.removeAll()
        historyStart = 0
        oldestRevision = revision + 1
        if let reason { endAll(reason) }
    }

    /// Ends every watch (the node went down).
    func endAll(_ reason: String) {
        for filter in filterOrder {
            for subscription in groups[filter] ?? [] where !subscription.cancelled.load(ordering: .relaxed) {
                subscription.deliver(.ended(reason))
            }
        }
        groups.removeAll()
        filterOrder.removeAll()
        watchCount = 0
    }

    /// Registers a watch from `from` (nil: from the next change). Replays the history it asks
    /// for first; returns the revision it starts after, or the oldest revision kept when it asks
    /// for less.
    func subscribe(_ subscription: WatchSubscription, from: Int64?, currentRevision: Int64) -> Result<Int64, CompactedError> {
        let start = from ?? (currentRevision + 1)
        guard start >= oldestRevision else { return .failure(CompactedError(oldestRevision: oldestRevision)) }
        subscription.next.withLock { $0 = start }
        var replay: [KVEvent] = []
        for position in historyStart..<history.count where history[position].revision >= start {
            replay.append(contentsOf: history[position].events.filter { subscription.filter.matches(ByteKey($0.key)) })
        }
        if !replay.isEmpty {
            subscription.deliver(.changes(WatchBatch(events: replay, revision: currentRevision)))
            subscription.next.withLock { $0 = max($0, replay.last!.revision + 1) }
        }
        if groups[subscription.filter] == nil { filterOrder.append(subscription.filter) }
        groups[subscription.filter, default: []].append(subscription)
        watchCount += 1
        return .success(start - 1)
    }

    /// Changes the node just applied (in revision order), now at `revision`: kept, and handed to
    /// every watch they match.
    func publish(_ events: [KVEvent], revision: Int64) {
        guard !events.isEmpty else { return }
        record(events)
        guard watchCount > 0 else { return }
        var removed = 0
        for filter in filterOrder {
            guard var subscriptions = groups[filter] else { continue }
            let before = subscriptions.count
            subscriptions.removeAll { $0.cancelled.load(ordering: .relaxed) }
            removed += before - subscriptions.count
            groups[filter] = subscriptions
            guard !subscriptions.isEmpty else { continue }
            let matching = events.filter { filter.matches(ByteKey($0.key)) }
            guard !matching.isEmpty else { continue }
            let batch = WatchBatch(events: matching, revision: revision)
            for subscription in subscriptions { deliver(batch, to: subscription) }
        }
        if removed > 0 {
            watchCount -= removed
            filterOrder.removeAll { groups[$0]?.isEmpty ?? true }
            for filter in Array(groups.keys) where groups[filter]!.isEmpty { groups.removeValue(forKey: filter) }
        }
    }

    /// A watch only ever gets events at or past its next revision (never one it had, never going back).
    private func deliver(_ batch: WatchBatch, to subscription: WatchSubscription) {
        let next = subscription.next.withLock { $0 }
        if batch.events.first!.revision >= next {
            subscription.deliver(.changes(batch))
        } else {
            let fresh = batch.events.filter { $0.revision >= next }
            guard !fresh.isEmpty else { return }
            subscription.deliver(.changes(WatchBatch(events: fresh, revision: batch.revision)))
        }
        subscription.next.withLock { $0 = batch.events.last!.revision + 1 }
    }

    private func record(_ events: [KVEvent]) {
        var start = 0
        while start < events.count {
            var end = start + 1
            while end < events.count && events[end].revision == events[start].revision { end += 1 }
            if let last = history.last, last.revision == events[start].revision {
                history[history.count - 1].events.append(contentsOf: events[start..<end])
            } else {
                history.append((events[start].revision, Array(events[start..<end])))
            }
            start = end
        }
        let kept = history.count - historyStart
        if kept > historyRevisions {
            historyStart += kept - historyRevisions
            oldestRevision = history[historyStart].revision
            if historyStart > 4096 && historyStart * 2 > history.count {
                history.removeFirst(historyStart)
                historyStart = 0
            }
        }
    }
}

/// A watch asked for revisions the node no longer keeps.
public struct CompactedError: Error, Sendable {
    public var oldestRevision: Int64
}
