/// Decides whether a history of key-value operations is linearizable: whether each operation can
/// be given one instant between its call and its response such that, in that order, every answer
/// is what a single copy of the map would have given.
///
/// Keys are independent registers, so the history is checked one key at a time
/// (P-compositionality, Herlihy & Wing). For one key, the search is Wing & Gong's, with Lowe's
/// memo of (operations linearized, state) pairs already tried — the approach of Porcupine.
/// An operation without an answer may take effect at any instant after its call, or never.
public enum LinearizabilityChecker {
    public enum Verdict: Sendable, Equatable {
        case linearizable
        /// The operations of `key` cannot be ordered; `minimal` is a smallest subset of them
        /// (by greedy removal) that still cannot be.
        case violation(key: String, minimal: [KVOperation])
        /// The time limit ran out before an answer.
        case unknown(reason: String)
    }

    public struct Result: Sendable {
        public var verdict: Verdict
        public var operations: Int
        public var keys: Int
        public var seconds: Double
    }

    /// Checks `history` within `timeLimitSeconds` (measured by `clock`, monotonic nanoseconds).
    public static func check(_ history: [KVOperation], timeLimitSeconds: Double = 30,
                             clock: @escaping () -> UInt64) -> Result {
        let started = clock()
        let deadline = started + UInt64(timeLimitSeconds * 1e9)
        var byKey: [String: [KVOperation]] = [:]
        for operation in history { byKey[operation.key, default: []].append(operation) }
        let keys = byKey.keys.sorted()
        func seconds() -> Double { Double(clock() - started) / 1e9 }
        for key in keys {
            switch checkOneKey(byKey[key]!, deadline: deadline, clock: clock) {
            case .some(true):
                continue
            case .some(false):
                let minimal = minimize(byKey[key]!, deadline: deadline, clock: clock)
                return Result(verdict: .violation(key: key, minimal: minimal), operations: history.count, keys: keys.count,
                              seconds: seconds())
            case .none:
                return Result(verdict: .unknown(reason: "the time limit of \(timeLimitSeconds) s ran out while checking key \(key)"),
                              operations: history.count, keys: keys.count, seconds: seconds())
            }
        }
        return Result(verdict: .linearizable, operations: history.count, keys: keys.count, seconds: seconds())
    }

    /// True, false, or nil when the deadline passed.
    static func checkOneKey(_ operations: [KVOperation], deadline: UInt64, clock: () -> UInt64) -> Bool? {
        var search = KeySearch(operations)
        return search.run(deadline: deadline, clock: clock)
    }

    /// A small set of the operations that still cannot be ordered. First the time window: the
    /// shortest run of operations (by call time) from the start that fails, then the latest
    /// start within it that still fails (binary searches, a few checks of the whole history).
    /// Then chunks, halving in size down to single operations, are removed while what is left
    /// still fails: reads first, then writes — but never a write whose value a kept operation
    /// may have seen. Removing a read, or a write whose value nobody left saw, cannot make an
    /// orderable history unorderable; so the set shown fails for a reason the full history has
    /// (a stale read stays a stale read, not "a value never written").
    static func minimize(_ operations: [KVOperation], deadline: UInt64, clock: () -> UInt64) -> [KVOperation] {
        func fails(_ subset: [KVOperation]) -> Bool { checkOneKey(subset, deadline: deadline, clock: clock) == false }
        let sorted = operations.sorted { $0.call != $1.call ? $0.call < $1.call : $0.id < $1.id }

        // The shortest failing prefix.
        var low = 1, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if fails(Array(sorted[..<middle])) { high = middle } else { low = middle + 1 }
        }
        let prefix = Array(sorted[..<high])

        // The latest start that still fails, keeping the writers of values the window saw.
        func window(from start: Int) -> [KVOperation] {
            // The writers of every value a kept operation saw, and theirs in turn (a CAS saw the
            // value it replaced).
            var kept = Array(prefix[start...])
            var earlier = Array(prefix[..<start])
            var seen = Set(kept.compactMap(observedValue))
            while true {
                let writers = earlier.filter { isWrite($0) && (writtenValue($0).map(seen.contains) ?? false) }
                if writers.isEmpty { break }
                earlier.removeAll { operation in writers.contains { $0.id == operation.id } }
                kept += writers
                seen.formUnion(writers.compactMap(observedValue))
            }
            return kept.sorted { $0.call != $1.call ? $0.call < $1.call : $0.id < $1.id }
        }
        var first = 0, last = prefix.count - 1
        while first < last {
            let middle = (first + last + 1) / 2
            if fails(window(from: middle)) { first = middle } else { last = middle - 1 }
        }
        var kept = window(from: first)

        // Chunks, halving down to single operations.
        func removable(_ candidate: KVOperation, keeping others: [KVOperation]) -> Bool {
            guard isWrite(candidate), let written = writtenValue(candidate) else { return true }
            let observers = others.filter { $0.id != candidate.id && observedValue($0) == written }
            guard let done = candidate.response else { return observers.isEmpty }
            // Kept only while some operation that saw its value could have seen it from this write:
            // another write of the same value, wholly after this one and before the observer,
            // makes it irrelevant to that observer.
            return observers.allSatisfy { observer in
                others.contains { other in
                    other.id != candidate.id && isWrite(other) && writtenValue(other) == written && other.call > done
                        && (other.response.map { $0 < observer.call } ?? false)
                }
            }
        }

        for writes in [false, true] {
            var size = max(1, kept.count / 2)
            while true {
                var position = 0
                while position < kept.count {
                    let chunk = kept[position..<min(kept.count, position + size)]
                    let removing = chunk.filter { isWrite($0) == writes }
                    let trial = kept.filter { operation in !removing.contains { $0.id == operation.id } }
                    if !removing.isEmpty, removing.allSatisfy({ removable($0, keeping: trial) }), fails(trial) {
                        kept = trial
                    } else {
                        position += size
                    }
                }
                if size == 1 { break }
                size = max(1, size / 2)
            }
        }
        return kept
    }

    static func isWrite(_ operation: KVOperation) -> Bool {
        switch operation.kind {
        case .get: return false
        case .cas: if case .casFailed = operation.outcome { return false } else { return true }
        default: return true
        }
    }

    /// What a key can hold, for matching writes with what reads saw.
    enum Content: Hashable {
        case absent
        case value(String)

        init(_ value: String?) { self = value.map(Content.value) ?? .absent }
    }

    /// What a write leaves in the key (nil: not a write).
    static func writtenValue(_ operation: KVOperation) -> Content? {
        switch operation.kind {
        case .put(let value), .cas(_, let value): return .value(value)
        case .delete: return .absent
        case .get: return nil
        }
    }

    /// What an operation saw in the key (nil: it saw nothing, or its answer is unknown).
    static func observedValue(_ operation: KVOperation) -> Content? {
        switch (operation.kind, operation.outcome) {
        case (.get, .ok(let value)): return Content(value)
        case (.cas, .casFailed(let current)): return Content(current)
        case (.cas(let expect, _), .ok): return Content(expect)  // it saw the value it replaced
        default: return nil
        }
    }
}

/// The search for one key: the history as a list of call and return events in time order, from
/// which linearized operations are lifted; a stack to backtrack; a memo of tried states.
struct KeySearch {
    struct Event {
        var operation: Int
        var isCall: Bool
        var time: UInt64
    }

    let operations: [KVOperation]
    /// Doubly linked list over `events`, with a head sentinel at index `events.count`.
    var events: [Event] = []
    var next: [Int] = []
    var previous: [Int] = []
    /// For each operation, the positions of its call and return events.
    var callAt: [Int] = []
    var returnAt: [Int] = []

    init(_ operations: [KVOperation]) {
        self.operations = operations
        var events: [Event] = []
        for (number, operation) in operations.enumerated() {
            events.append(Event(operation: number, isCall: true, time: operation.call))
            events.append(Event(operation: number, isCall: false, time: operation.response ?? UInt64.max))
        }
        // In time order; at equal times calls first (the more forgiving reading), then by operation.
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isCall != b.isCall { return a.isCall }
            return a.operation < b.operation
        }
        self.events = events
        callAt = Array(repeating: 0, count: operations.count)
        returnAt = Array(repeating: 0, count: operations.count)
        for (position, event) in events.enumerated() {
            if event.isCall { callAt[event.operation] = position } else { returnAt[event.operation] = position }
        }
        let head = events.count
        next = (0...events.count).map { $0 == head ? (events.isEmpty ? -1 : 0) : ($0 + 1 < events.count ? $0 + 1 : -1) }
        previous = (0...events.count).map { $0 == head ? -1 : ($0 == 0 ? head : $0 - 1) }
    }

    mutating func lift(_ operation: Int) {
        for position in [callAt[operation], returnAt[operation]] {
            let before = previous[position], after = next[position]
            next[before] = after
            if after >= 0 { previous[after] = before }
        }
    }

    mutating func unlift(_ operation: Int) {
        for position in [returnAt[operation], callAt[operation]] {
            let before = previous[position], after = next[position]
            next[before] = position
            if after >= 0 { previous[after] = position }
        }
    }

    /// A set of linearized operations is named by two 64-bit sums of per-operation random
    /// words (Zobrist hashing): adding or removing an operation is one XOR, so a step costs the
    /// same however long the history. Two different sets share a name with odds of 2^-128.
    struct MemoKey: Hashable {
        var low: UInt64
        var high: UInt64
        var state: String?
    }

    mutating func run(deadline: UInt64, clock: () -> UInt64) -> Bool? {
        let head = events.count
        var generator = SplitMix64Words(seed: 0x5EED_11E4_2026)
        let words = operations.indices.map { _ in (generator.next(), generator.next()) }
        var linearized = (low: UInt64(0), high: UInt64(0))
        var state: String? = nil
        var memo = Set<MemoKey>()
        var stack: [(operation: Int, state: String?)] = []
        var cursor = next[head]
        var steps = 0
        while next[head] >= 0 {
            steps += 1
            if steps & 0xFFF == 0 && clock() > deadline { return nil }
            let event = events[cursor]
            if event.isCall {
                let operation = event.operation
                let (allowed, newState) = RegisterModel.step(state, operations[operation])
                if allowed {
                    let marked = (low: linearized.low ^ words[operation].0, high: linearized.high ^ words[operation].1)
                    if memo.insert(MemoKey(low: marked.low, high: marked.high, state: newState)).inserted {
                        stack.append((operation, state))
                        state = newState
                        linearized = marked
                        lift(operation)
                        cursor = next[head]
                        continue
                    }
                }
                cursor = next[cursor]
            } else {
                // An operation returned before every open one could be placed: undo the last choice.
                guard let (operation, saved) = stack.popLast() else { return false }
                state = saved
                linearized = (low: linearized.low ^ words[operation].0, high: linearized.high ^ words[operation].1)
                unlift(operation)
                cursor = next[callAt[operation]]
            }
        }
        return true
    }
}

/// SplitMix64, for the memo's per-operation words (LinCheck depends on nothing).
struct SplitMix64Words {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
