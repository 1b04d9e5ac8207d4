import JSONText
import KVWire
import RaftCore

/// The replicated key-value store: keys in UTF-8 byte order (a persistent B-tree, so a snapshot
/// freezes it in O(1)), the store's revision and each key's revisions, and the client sessions
/// that make writes exactly-once. `apply` is deterministic: the same commands in the same order
/// give the same state on every node — time comes from the log, never from a clock. It knows
/// nothing about Raft roles.
public struct KVStateMachine: ReplicatedStateMachine, Sendable {
    public typealias Frozen = KVState
    public typealias Output = KVApplied

    public internal(set) var state = KVState()
    /// The log index of the last command applied.
    public internal(set) var appliedIndex: Int = 0

    public init() {}

    public var count: Int { state.keys.count }
    public var itemCount: Int { state.keys.count }
    /// Raised by one by every committed write that changed something.
    public var revision: Int64 { state.revision }
    public var sessionCount: Int { state.sessions.count }

    public func get(_ key: String) -> String? { state.keys[key]?.value }

    public func record(_ key: String) -> KeyRecord? { state.keys[key] }

    /// A copy for a snapshot or a range served off the node's thread: one root reference.
    public func freeze() -> KVState { state }

    /// Decodes and applies the command of entry `index`.
    public mutating func apply(command: String, at index: Int) throws -> KVApplied {
        let decoded: KVCommand
        do {
            decoded = try KVCommand.decodeFast(command)
        } catch {
            skip(to: index)
            throw error
        }
        return apply(decoded, at: index)
    }

    /// Applies one command at entry `index`: its result, and the changes it made (for watchers).
    public mutating func apply(_ command: KVCommand, at index: Int) -> KVApplied {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
        if let time = command.time {
            state.advanceLogTime(to: time, sessionTimeoutSeconds: command.sessionTimeoutSeconds ?? KVState.defaultSessionTimeoutSeconds)
        }
        var changes = Changes()
        guard let session = command.session else {
            let result = state.execute(command.operation, at: index, &changes)
            return KVApplied(result: result, events: changes.events)
        }
        if let known = state.sessions[session.client] {
            if session.seq < known.seq { return KVApplied(result: .stale(lastSeq: known.seq)) }
            if session.seq == known.seq { return KVApplied(result: known.result) }  // a retry: the recorded answer, nothing done again
        }
        let result = state.execute(command.operation, at: index, &changes)
        state.sessions[session.client] = KVState.Session(seq: session.seq, result: result, lastSeen: state.logTime)
        return KVApplied(result: result, events: changes.events)
    }

    /// Records that an entry without a command (a leader's no-op) was applied.
    public mutating func skip(to index: Int) {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
    }
}

/// Everything the store holds, as a value: what a snapshot freezes and what `apply` changes.
public struct KVState: Sendable {
    /// Key → value and revisions, in UTF-8 byte order.
    public internal(set) var keys = OrderedKeyMap()
    public internal(set) var revision: Int64 = 0
    /// Per client: the last `seq` applied, its result, and when it was last seen (log time).
    var sessions: [String: Session] = [:]
    /// The latest leader time seen in the log (milliseconds).
    public internal(set) var logTime: Int64 = 0
    /// Leases by id (the index of the entry that granted each), with the keys attached.
    public internal(set) var leases: [Int64: Lease] = [:]

    /// A lease's TTL and its keys (by their bytes).
    public struct Lease: Sendable, Equatable {
        public var ttlMs: Int64
        public var keys: Set<ByteKey>

        public init(ttlMs: Int64, keys: Set<ByteKey> = []) {
            self.ttlMs = ttlMs
            self.keys = keys
        }
    }

    struct Session: Sendable, Equatable {
        var seq: Int64
        var result: KVResult
        var lastSeen: Int64
    }

    public static let defaultSessionTimeoutSeconds: Int64 = 3600
    /// Sessions are swept when log time enters a new minute.
    static let sweepPeriodMs: Int64 = 60_000

    public init() {}

    public var sessionCount: Int { sessions.count }

    /// Log time moves on (never back: a new leader's clock may be behind); sessions idle for
    /// longer than the timeout go, checked once per minute of log time.
    mutating func advanceLogTime(to time: Int64, sessionTimeoutSeconds: Int64) {
        let previous = logTime
        logTime = max(logTime, time)
        guard logTime / Self.sweepPeriodMs != previous / Self.sweepPeriodMs, !sessions.isEmpty else { return }
        let oldest = logTime - sessionTimeoutSeconds * 1000
        sessions = sessions.filter { $0.value.lastSeen >= oldest }
    }

    // MARK: - Operations

    mutating func execute(_ operation: KVCommand.Operation, at index: Int, _ changes: inout Changes) -> KVResult {
        switch operation {
        case .put(let key, let value, let lease):
            if let lease, leases[lease] == nil { return .leaseNotFound(lease) }
            revision += 1
            return .key(key, write(key, value, lease: lease, at: revision, &changes), revision: revision)
        case .delete(let key):
            if remove(ByteKey(key), key, at: revision + 1, &changes) { revision += 1 }
            return .key(key, nil, revision: revision)
        case .deletePrefix(let prefix):
            let removed = deleteRange(.prefix(ByteKey(prefix)), at: revision + 1, &changes)
            if removed > 0 { revision += 1 }
            return .deleted(count: removed, revision: revision)
        case .cas(let key, let expect, let value):
            let current = keys[key]
            guard Self.sameText(current?.value, expect) else { return .casFailed(key, current, revision: revision) }
            revision += 1
            return .key(key, write(key, value, lease: nil, at: revision, &changes), revision: revision)
        case .casRevision(let key, let expected, let value):
            let current = keys[key]
            guard (current?.modRevision ?? 0) == expected else { return .casFailed(key, current, revision: revision) }
            revision += 1
            return .key(key, write(key, value, lease: nil, at: revision, &changes), revision: revision)
        case .txn(let transaction):
            return execute(transaction, &changes)
        case .read(let key):
            return .key(key, keys[key], revision: revision)
        case .leaseGrant(let ttl):
            let id = Int64(index)
            leases[id] = Lease(ttlMs: ttl)
            return .lease(id: id, ttlMs: ttl)
        case .leaseRevoke(let id, _):
            guard let lease = leases.removeValue(forKey: id) else { return .leaseNotFound(id) }
            var removed = 0
            for key in lease.keys.sorted() where remove(key, key.string, at: revision + 1, &changes) { removed += 1 }
            if removed > 0 { revision += 1 }
            return .deleted(count: removed, revision: revision)
        }
    }

    /// Sets `key` at `revision`, keeping its creation revision and counting its version; moves
    /// it to `lease` (nil: none).
    mutating func write(_ key: String, _ value: String, lease: Int64?, at revision: Int64, _ changes: inout Changes) -> KeyRecord {
        let probe = ByteKey(key)
        let record: KeyRecord
        if let old = keys[probe] {
            record = KeyRecord(value: value, createRevision: old.createRevision, modRevision: revision, version: old.version + 1,
                               lease: lease ?? 0)
            if old.lease != 0 && old.lease != record.lease { leases[old.lease]?.keys.remove(probe) }
        } else {
            record = KeyRecord(value: value, createRevision: revision, modRevision: revision, version: 1, lease: lease ?? 0)
        }
        if let lease { leases[lease]?.keys.insert(probe) }
        _ = keys.updateValue(record, forKey: probe)
        changes.events.append(KVEvent(kind: .put, key: key, record: record, revision: revision))
        return record
    }

    /// Removes `key` (if present) as a change of `revision`; says whether it was there.
    mutating func remove(_ key: ByteKey, _ text: String, at revision: Int64, _ changes: inout Changes) -> Bool {
        guard let old = keys.removeValue(forKey: key) else { return false }
        if old.lease != 0 { leases[old.lease]?.keys.remove(key) }
        changes.events.append(KVEvent(kind: .delete, key: text, record: nil, revision: revision))
        return true
    }

    /// Removes every key of `range` as changes of `revision`; returns how many.
    mutating func deleteRange(_ range: KeyRange, at revision: Int64, _ changes: inout Changes) -> Int {
        var doomed: [ByteKey] = []
        var iterator = keys.makeIterator(in: range)
        while let entry = iterator.next() { doomed.append(entry.key) }
        for key in doomed { _ = remove(key, key.string, at: revision, &changes) }
        return doomed.count
    }

    /// Byte-for-byte equality (Swift's `==` on strings is canonical equivalence: "é" would equal
    /// "e\u{301}", which the store keeps apart).
    static func sameText(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a?, let b?): return a.utf8.elementsEqual(b.utf8)
        default: return false
        }
    }
}

/// The changes one command makes, gathered as it runs.
struct Changes {
    var events: [KVEvent] = []
}
