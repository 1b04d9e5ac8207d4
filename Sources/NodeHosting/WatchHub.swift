import Dispatch
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
/// same events encoded once for every watcher that gets them — the tail of the line protocol's
/// event line (`,"events":[…],"revision":R}` and a newline; each watch puts its own
/// `{"watch":W` in front), and, when an HTTP stream first asks, the server-sent event frames.
public final class WatchBatch: Sendable {
    public let events: [KVEvent]
    /// The store's revision at the node once these events were applied.
    public let revision: Int64
    /// `,"events":[{"type":"put",…}],"revision":R}\n`, shared by every line watcher of the batch.
    public let lineTail: [UInt8]
    private let frames = Mutex<[UInt8]?>(nil)

    public init(events: [KVEvent], revision: Int64) {
        self.events = events
        self.revision = revision
        var text = ",\"events\":["
        text.reserveCapacity(events.count * 120 + 40)
        for (position, event) in events.enumerated() {
            if position > 0 { text += "," }
            WatchBatch.append(event, to: &text)
        }
        text += "],\"revision\":\(revision)}\n"
        lineTail = Array(text.utf8)
    }

    /// The events as server-sent event frames (`event: put`, `id:` on the last event of each
    /// revision, `data:` the event), encoded by the first stream that asks and shared after.
    public var sseFrames: [UInt8] {
        frames.withLock { cached in
            if let cached { return cached }
            var bytes: [UInt8] = []
            for (position, event) in events.enumerated() {
                var data = ""
                WatchBatch.append(event, to: &data)
                let last = position + 1 == events.count || events[position + 1].revision != event.revision
                bytes.append(contentsOf: "event: \(event.kind.rawValue)\n".utf8)
                if last { bytes.append(contentsOf: "id: \(event.revision)\n".utf8) }
                bytes.append(contentsOf: "data: ".utf8)
                bytes.append(contentsOf: data.utf8)
                bytes.append(contentsOf: "\n\n".utf8)
            }
            cached = bytes
            return bytes
        }
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

/// One watch registered at a node. `deliver` runs on the node's fan-out queue (never on the
/// node's own queue), one delivery at a time in the order the node made them, and must not block:
/// it hands the delivery to the watcher's own queue.
public final class WatchSubscription: Sendable {
    public let filter: WatchFilter
    let deliver: @Sendable (WatchDelivery) -> Void
    /// The first revision not yet delivered (set on the node's queue when it subscribes, then
    /// moved on by the fan-out queue).
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

    /// A batch, on the fan-out queue: only the events at or past the next revision (never one
    /// it had, never going back).
    func offer(_ batch: WatchBatch) {
        guard !cancelled.load(ordering: .relaxed) else { return }
        let fresh = next.withLock { next -> WatchBatch? in
            let last = batch.events.last!.revision
            guard last >= next else { return nil }
            defer { next = last + 1 }
            if batch.events.first!.revision >= next { return batch }
            let after = next
            return WatchBatch(events: batch.events.filter { $0.revision >= after }, revision: batch.revision)
        }
        if let fresh { deliver(.changes(fresh)) }
    }
}

/// The watches of one filter at a node, in the order they subscribed. @unchecked Sendable:
/// confined to its node's queue (the fan-out queue gets copies of `subscriptions`).
final class WatchGroup: @unchecked Sendable {
    let filter: WatchFilter
    /// When the filter was first watched at this node: deliveries go out in this order.
    let order: Int
    var subscriptions: [WatchSubscription] = []
    /// The events of the publish under way that match the filter.
    var matched: [KVEvent] = []

    init(filter: WatchFilter, order: Int) {
        self.filter = filter
        self.order = order
    }
}

/// A node's recent changes and the watches it feeds: the last `historyRevisions` revisions'
/// events (so a watcher that reconnects can resume from where it was), and the subscriptions,
/// grouped by filter. Every revision that changed something has at least one event, so the
/// history is contiguous: it holds every event from `oldestRevision` on.
///
/// A publish costs the node's queue a lookup per event and prefix length watched (exact keys by
/// hash, prefixes by hashing the key's first bytes at each length some prefix watch has — never
/// a scan over the watches) and one encoding per filter with matching events; handing the batch
/// to each watcher happens on the hub's own serial fan-out queue, so a thousand watchers of one
/// prefix cost the node's queue nothing more than one. Every delivery (replays, changes, ends)
/// goes through that one queue in the order the node made it, so each watch hears its node in
/// revision order.
///
/// @unchecked Sendable: confined to its node's queue (deliveries run on `fanOut`).
final class WatchHub: @unchecked Sendable {
    private var history: [(revision: Int64, events: [KVEvent])] = []
    private var historyStart = 0
    /// Every event of a revision from here on is in `history`.
    private(set) var oldestRevision: Int64 = 1
    private var groups: [WatchFilter: WatchGroup] = [:]
    /// The byte lengths of the prefixes watched (sorted), and whether any single key is watched.
    private var prefixLengths: [Int] = []
    private var keyGroups = 0
    private var nextGroupOrder = 0
    let historyRevisions: Int
    private(set) var watchCount = 0
    /// Where deliveries are handed to the watchers, in order, off the node's queue.
    let fanOut: DispatchQueue

    init(historyRevisions: Int, label: String = "raft.watch.fanout") {
        self.historyRevisions = max(1, historyRevisions)
        self.fanOut = DispatchQueue(label: label, qos: .userInitiated)
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
        let ended = orderedGroups().flatMap(\.subscriptions)
        groups.removeAll()
        prefixLengths.removeAll()
        keyGroups = 0
        watchCount = 0
        guard !ended.isEmpty else { return }
        fanOut.async {
            for subscription in ended where !subscription.cancelled.load(ordering: .relaxed) {
                subscription.deliver(.ended(reason))
            }
        }
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
            let batch = WatchBatch(events: replay, revision: currentRevision)
            fanOut.async { subscription.offer(batch) }
        }
        let group: WatchGroup
        if let existing = groups[subscription.filter] {
            group = existing
        } else {
            group = WatchGroup(filter: subscription.filter, order: nextGroupOrder)
            nextGroupOrder += 1
            groups[subscription.filter] = group
            indexFilters()
        }
        group.subscriptions.append(subscription)
        watchCount += 1
        return .success(start - 1)
    }

    /// Changes the node just applied (in revision order), now at `revision`: kept, and handed to
    /// every watch they match.
    func publish(_ events: [KVEvent], revision: Int64) {
        guard !events.isEmpty else { return }
        record(events)
        guard watchCount > 0 else { return }
        forgetCancelled()
        var touched: [WatchGroup] = []
        for event in events {
            matchingGroups(of: event.key) { group in
                if group.matched.isEmpty { touched.append(group) }
                group.matched.append(event)
            }
        }
        guard !touched.isEmpty else { return }
        touched.sort { $0.order < $1.order }
        var deliveries: [(batch: WatchBatch, subscriptions: [WatchSubscription])] = []
        deliveries.reserveCapacity(touched.count)
        for group in touched {
            deliveries.append((WatchBatch(events: group.matched, revision: revision), group.subscriptions))
            group.matched.removeAll()
        }
        let ready = deliveries
        fanOut.async {
            for delivery in ready {
                for subscription in delivery.subscriptions { subscription.offer(delivery.batch) }
            }
        }
    }

    /// Calls `body` with each group whose filter matches `key`: the key's own group, and one per
    /// prefix length watched, by hash.
    private func matchingGroups(of key: String, _ body: (WatchGroup) -> Void) {
        if keyGroups > 0, let group = groups[.key(ByteKey(key))], !group.subscriptions.isEmpty { body(group) }
        guard !prefixLengths.isEmpty else { return }
        let bytes = key.utf8
        for length in prefixLengths {
            guard length <= bytes.count else { break }
            let prefix = length == 0 ? ByteKey("") : ByteKey(bytes: bytes.prefix(length))
            if let group = groups[.prefix(prefix)], !group.subscriptions.isEmpty { body(group) }
        }
    }

    /// Drops cancelled subscriptions, and groups left empty (a cheap check when none is).
    private func forgetCancelled() {
        var emptied = false
        var removed = 0
        for group in groups.values where group.subscriptions.contains(where: { $0.cancelled.load(ordering: .relaxed) }) {
            let before = group.subscriptions.count
            group.subscriptions.removeAll { $0.cancelled.load(ordering: .relaxed) }
            removed += before - group.subscriptions.count
            if group.subscriptions.isEmpty { emptied = true }
        }
        watchCount -= removed
        if emptied {
            groups = groups.filter { !$0.value.subscriptions.isEmpty }
            indexFilters()
        }
    }

    /// Recomputes which prefix lengths and keys are watched.
    private func indexFilters() {
        var lengths = Set<Int>()
        keyGroups = 0
        for filter in groups.keys {
            switch filter {
            case .key: keyGroups += 1
            case .prefix(let prefix): lengths.insert(prefix.count)
            }
        }
        prefixLengths = lengths.sorted()
    }

    /// The groups in the order their filters were first watched.
    private func orderedGroups() -> [WatchGroup] {
        groups.values.sorted { $0.order < $1.order }
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
