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

    /// Removes operations one at a time while what is left still cannot be ordered: reads first,
    /// then writes — but never the write of a value some kept operation saw, so the report tells
    /// where each value came from (a stale read stays a stale read, not "a value never written").
    static func minimize(_ operations: [KVOperation], deadline: UInt64, clock: () -> UInt64) -> [KVOperation] {
        var kept = operations
        let order = operations.filter { !isWrite($0) } + operations.filter(isWrite)
        for candidate in order {
            if isWrite(candidate), let written = writtenValue(candidate),
               kept.contains(where: { $0.id != candidate.id && observedValue($0) == written }) {
                continue
            }
            let trial = kept.filter { $0.id != candidate.id }
            if checkOneKey(trial, deadline: deadline, clock: clock) == false { kept = trial }
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

    static func writtenValue(_ operation: KVOperation) -> String? {
        switch operation.kind {
        case .put(let value), .cas(_, let value): return value
        default: return nil
        }
    }

    static func observedValue(_ operation: KVOperation) -> String? {
        switch (operation.kind, operation.outcome) {
        case (.get, .ok(let value)): return value
        case (.cas, .casFailed(let current)): return current
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

    struct MemoKey: Hashable {
        var linearized: [UInt64]
        var state: String?
    }

    mutating func run(deadline: UInt64, clock: () -> UInt64) -> Bool? {
        let head = events.count
        var linearized = [UInt64](repeating: 0, count: (operations.count + 63) / 64)
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
                    var marked = linearized
                    marked[operation / 64] |= 1 << UInt64(operation % 64)
                    if memo.insert(MemoKey(linearized: marked, state: newState)).inserted {
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
                linearized[operation / 64] &= ~(1 << UInt64(operation % 64))
                unlift(operation)
                cursor = next[callAt[operation]]
            }
        }
        return true
    }
}
