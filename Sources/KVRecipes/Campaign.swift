import JSONText
import KVClient
import KVWire

/// The lock and election recipe (docs/recipes.md), as etcd's concurrency package does it:
///
/// 1. grant a lease and keep it alive in the background (`LeaseKeeper`);
/// 2. create `PREFIX<lease id>` with that lease, in a transaction (`if KEY missing then put KEY
///    VALUE`), so the key lives exactly as long as the lease;
/// 3. read every key under PREFIX with its create revision (linearizably): the key created first
///    holds the lock (or leads);
/// 4. otherwise watch only the key created just before ours, from the revision of that read on,
///    for its delete — then read again (step 3). Every contender waits on a different key, so a
///    release wakes exactly one (no thundering herd), and the queue is served in order.
///
/// Releasing is revoking the lease: the key goes, and the next contender's watch sees it. A
/// process that dies stops its keepalives; the lease expires within its TTL and the same happens.
public final class Campaign {
    /// What step 3 concludes.
    public enum Decision: Equatable {
        /// Our key is the oldest: the lock is ours.
        case acquired(createRevision: Int64)
        /// Wait for this key (the one created just before ours) to go.
        case waitFor(key: String, value: String, createRevision: Int64)
        /// Our key is not there: the lease expired or was revoked.
        case keyGone
    }

    /// Step 3 on the keys read: the oldest holds; otherwise the one just older than `mine` is
    /// waited for. Ties (keys of one transaction) are broken by key.
    public static func decide(_ items: [RecipeClient.Item], mine: String) -> Decision {
        let ordered = items.sorted { first, second in
            if first.createRevision != second.createRevision { return first.createRevision < second.createRevision }
            return first.key.utf8.lexicographicallyPrecedes(second.key.utf8)
        }
        guard let position = ordered.firstIndex(where: { $0.key == mine }) else { return .keyGone }
        if position == 0 { return .acquired(createRevision: ordered[0].createRevision) }
        let before = ordered[position - 1]
        return .waitFor(key: before.key, value: before.value, createRevision: before.createRevision)
    }

    public enum Outcome: Equatable {
        /// Ours: the key, its create revision (a fencing token: it only grows from one holder to
        /// the next) and the lease.
        case acquired(key: String, createRevision: Int64, lease: Int64)
        /// Stopped before it was ours (Ctrl-C, end of input).
        case stopped(String)
        /// The lease was lost while waiting.
        case lost(String)
        case failed(String)
    }

    public let client: RecipeClient
    /// `lock/NAME/` or `election/NAME/`.
    public let prefix: String
    public let value: String
    public let ttlMs: Int64
    let notice: (String) -> Void
    public private(set) var lease: Int64?
    public private(set) var keeper: LeaseKeeper?
    public var key: String? { lease.map { prefix + String($0) } }

    public init(client: RecipeClient, prefix: String, value: String, ttlMs: Int64, notice: @escaping (String) -> Void) {
        self.client = client
        self.prefix = prefix
        self.value = value
        self.ttlMs = ttlMs
        self.notice = notice
    }

    /// Steps 1 to 4, until the lock is ours or something stops it.
    public func acquire(_ interruption: Interruption) -> Outcome {
        guard let granted = client.ask(ClientRequest(.leaseGrant(ttlMs: ttlMs)), interruption: interruption) else {
            return interruption.reason.map { .stopped($0) } ?? .failed("cannot grant a lease: \(client.problem)")
        }
        guard granted["status"]?.stringValue == "ok", let id = granted["lease"]?.intValue else {
            return .failed("lease_grant refused: \(Self.describe(granted))")
        }
        lease = Int64(id)
        let keeper = LeaseKeeper(host: client.host, port: client.port, lease: Int64(id), ttlMs: ttlMs)
        keeper.start()
        self.keeper = keeper
        interruption.alsoStopWhen = { keeper.lost }
        let key = prefix + String(id)
        let create = Transaction(compare: [.exists(key: key, false)], success: [.put(key: key, value: value, lease: Int64(id))],
                                 failure: [.get(key: key)])
        guard let created = client.ask(ClientRequest(.txn(create)), interruption: interruption) else {
            return ended(interruption) ?? .failed("cannot create \(key): \(client.problem)")
        }
        guard created["status"]?.stringValue == "ok" else { return .failed("cannot create \(key): \(Self.describe(created))") }
        var waitedFor: String?
        while true {
            guard let (items, revision) = client.keys(under: prefix, interruption: interruption) else {
                return ended(interruption) ?? .failed("cannot read \(prefix): \(client.problem)")
            }
            switch Self.decide(items, mine: key) {
            case .keyGone:
                return .lost(keeper.lost ?? "\(key) is gone: lease \(id) expired or was revoked")
            case .acquired(let createRevision):
                return .acquired(key: key, createRevision: createRevision, lease: Int64(id))
            case .waitFor(let other, let holder, let createRevision):
                if waitedFor != other {
                    notice("waiting: \(Renderers.commandWord(other)) (\(Renderers.shown(holder, width: 40))) was created before ours, at revision \(createRevision)")
                    waitedFor = other
                }
                let watch = WatchStream(host: client.host, port: client.port, target: .key(other), fromRevision: revision + 1,
                                        notice: notice)
                let outcome = watch.run(interruption) { events, _ in !events.contains(where: \.isDelete) }
                switch outcome {
                case .stopped(let why) where why != "done":
                    return ended(interruption) ?? .stopped(why)
                case .failed(let why):
                    return .failed("cannot watch \(other): \(why)")
                case .stopped, .compacted:
                    continue  // it went (or its history did): read again
                }
            }
        }
    }

    /// Holds until something stops it: `nil` when asked to (Ctrl-C, end of input), or why the
    /// lock was lost.
    public func hold(_ interruption: Interruption) -> String? {
        while true {
            if case .stop = interruption.wait(for: nil, timeoutMs: 1000) { return keeper?.lost }
        }
    }

    /// Gives the lock (or leadership, or the place in the queue) up: stops the keepalives and
    /// revokes the lease, which deletes the key. Returns what the server said, for a message.
    @discardableResult
    public func resign() -> String {
        keeper?.stop()
        guard let lease else { return "nothing held" }
        if keeper?.lost != nil { return "lease \(lease) was already gone" }
        guard let answer = client.ask(ClientRequest(.leaseRevoke(lease)), seconds: 5) else {
            return "could not revoke lease \(lease) (\(client.problem)); it expires within \(Durations.text(milliseconds: ttlMs))"
        }
        return answer["status"]?.stringValue == "ok" ? "lease \(lease) revoked" : "lease \(lease): \(Self.describe(answer))"
    }

    /// Why the loop ended, when the interruption (or the lost lease) ended it.
    private func ended(_ interruption: Interruption) -> Outcome? {
        if let lost = keeper?.lost { return .lost(lost) }
        return interruption.reason.map { .stopped($0) }
    }

    package static func describe(_ answer: JSONObject) -> String {
        let code = answer["code"]?.stringValue ?? "error"
        return answer["error"]?.stringValue.map { "\(code): \($0)" } ?? code
    }
}

/// `elect NAME --observe`: who leads an election, each time that changes. Reads every candidate
/// (its key, value and create revision), then follows the prefix from that read on; the
/// candidate created first leads.
public final class ElectionObserver {
    public let client: RecipeClient
    public let prefix: String
    let notice: (String) -> Void

    public init(client: RecipeClient, prefix: String, notice: @escaping (String) -> Void) {
        self.client = client
        self.prefix = prefix
        self.notice = notice
    }

    /// The leader among `candidates` (key → value and create revision): the oldest.
    public static func leader(_ candidates: [String: (value: String, createRevision: Int64)]) -> (key: String, value: String)? {
        let items = candidates.map { RecipeClient.Item(key: $0.key, value: $0.value.value, createRevision: $0.value.createRevision) }
        let first = items.min { first, second in
            if first.createRevision != second.createRevision { return first.createRevision < second.createRevision }
            return first.key.utf8.lexicographicallyPrecedes(second.key.utf8)
        }
        guard let first else { return nil }
        return (first.key, first.value)
    }

    /// Reports the leader at first and after every change of leader (or of its value), until stopped.
    public func run(_ interruption: Interruption, report: ((key: String, value: String)?, Int64) -> Void) -> WatchStream.Outcome {
        while true {
            guard let (items, revision) = client.keys(under: prefix, interruption: interruption) else {
                if let why = interruption.reason { return .stopped(why) }
                return .failed("cannot read \(prefix): \(client.problem)")
            }
            var candidates: [String: (value: String, createRevision: Int64)] = [:]
            for item in items { candidates[item.key] = (item.value, item.createRevision) }
            var shown = Self.leader(candidates)
            report(shown, revision)
            let watch = WatchStream(host: client.host, port: client.port, target: .prefix(prefix), fromRevision: revision + 1, notice: notice)
            let outcome = watch.run(interruption) { events, revision in
                for event in events {
                    if event.isDelete {
                        candidates[event.key] = nil
                    } else {
                        candidates[event.key] = (event.value ?? "", event.createRevision ?? event.modRevision)
                    }
                }
                let now = Self.leader(candidates)
                if now?.key != shown?.key || now?.value != shown?.value {
                    shown = now
                    report(now, events.last?.modRevision ?? revision)
                }
                return true
            }
            if case .compacted = outcome { continue }  // read everything again
            return outcome
        }
    }
}
