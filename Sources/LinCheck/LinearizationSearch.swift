/// Wing & Gong's search for one key, with Lowe's memo of configurations already tried (the
/// approach Porcupine also takes), and two prunings of operations whose answer is unknown:
///
/// - It succeeds as soon as every operation with a known answer is placed: an operation whose
///   answer is unknown may have happened after everything else, or never, and in the models
///   such an operation is always allowed when it is taken as not having happened.
/// - Of operations with unknown answers that act alike (same action and arguments), a later-
///   called one is only tried once every earlier-called one is placed. Swapping two such
///   operations in any linearization gives another (both may go anywhere after the later call),
///   so some linearization places them in call order whenever any does; Jepsen histories,
///   where crashed clients leave many identical unanswered writes, shrink a lot by it.
///
/// - An operation with an unknown answer is never placed just before a blind overwrite (a put
///   or delete of a plain value): nothing could see its effect, and leaving it out gives an
///   equally good linearization. Whether the last operation placed had an unknown answer is
///   then part of a configuration, so the memo keys on it too.
///
/// The history is a doubly linked list of call and return events in time order. From the
/// front, a call may be placed when the model allows its answer; reaching a return means the
/// operation returning must already have been placed, so the last choice is undone.
enum LinearizationSearch {
    /// Whether the operations can be linearized; nil when the deadline passed first.
    /// `twinBefore[i]`: the earlier-called operation with an unknown answer acting like i, or -1.
    static func run<Model: StepModel>(_ operations: [KVOperation], twinBefore: [Int32], model: inout Model,
                                      deadline: UInt64, clock: () -> UInt64) -> Bool? {
        let count = operations.count
        var mustPlace = operations.reduce(0) { $0 + ($1.outcome == .unknown ? 0 : 1) }
        if mustPlace == 0 { return true }
        let events = EventList(operations)
        let scratch = SearchScratch(count: count)
        defer {
            events.release()
            scratch.release()
        }
        let (placed, stackOperations, stackStates, words) = (scratch.placed, scratch.stackOperations, scratch.stackStates, scratch.words)
        let known = operations.map { $0.outcome != .unknown }

        var memo = MemoTable(capacity: 4 * count)
        var depth = 0
        var state = model.initialState
        var low: UInt64 = 0, high: UInt64 = 0
        var lastUnknown = false
        var cursor = events.first
        /// Takes back the last operation placed; returns it.
        @inline(__always) func undoLast() -> Int {
            depth -= 1
            let undone = Int(stackOperations[depth])
            state = stackStates[depth]
            low ^= words[2 * undone]
            high ^= words[2 * undone + 1]
            placed[undone] = false
            lastUnknown = depth > 0 && !known[Int(stackOperations[depth - 1])]
            if known[undone] { mustPlace += 1 }
            events.unlift(undone)
            return undone
        }
        var steps = 0
        while true {
            steps &+= 1
            if steps & 0x3FF == 0 && clock() > deadline { return nil }
            let event = events.event(at: cursor)
            let operation = Int(event >> 1)
            if event & 1 == 0 {
                let twin = Int(twinBefore[operation])
                if (twin < 0 || placed[twin]) && !(lastUnknown && model.overwritesBlindly(operation)) {
                    let next = model.step(state, operation)
                    if next >= 0 {
                        let newLow = low ^ words[2 * operation], newHigh = high ^ words[2 * operation + 1]
                        if memo.insert(low: newLow, high: newHigh, state: next << 1 | (known[operation] ? 0 : 1)) {
                            stackOperations[depth] = Int32(operation)
                            stackStates[depth] = state
                            depth += 1
                            state = next
                            low = newLow
                            high = newHigh
                            placed[operation] = true
                            lastUnknown = !known[operation]
                            events.lift(operation)
                            if known[operation] {
                                mustPlace -= 1
                                if mustPlace == 0 { return true }
                            }
                            cursor = events.first
                            continue
                        }
                    }
                }
                cursor = events.after(cursor)
            } else {
                // The operation returning here has not been placed: undo the last choice.
                if depth == 0 { return false }
                cursor = events.afterCall(of: undoLast())
            }
        }
    }
}

/// The search's scratch memory: which operations are placed, the stack of choices (operation,
/// state before it), and each operation's two random memo words.
struct SearchScratch {
    let placed: UnsafeMutablePointer<Bool>
    let stackOperations: UnsafeMutablePointer<Int32>
    let stackStates: UnsafeMutablePointer<Int32>
    let words: UnsafeMutablePointer<UInt64>

    init(count: Int) {
        placed = .allocate(capacity: count)
        placed.initialize(repeating: false, count: count)
        stackOperations = .allocate(capacity: count)
        stackStates = .allocate(capacity: count)
        words = .allocate(capacity: 2 * count)
        var generator = SplitMix64Words(seed: 0x5EED_11E4_2026)
        for index in 0..<(2 * count) { words[index] = generator.next() }
    }

    func release() {
        placed.deallocate()
        stackOperations.deallocate()
        stackStates.deallocate()
        words.deallocate()
    }
}

/// The call and return events of a history in time order, as a doubly linked list that
/// operations are lifted out of and put back into. An event is `operation << 1 | isReturn`;
/// a return that never came sorts last.
struct EventList {
    private let events: UnsafeMutablePointer<Int32>
    private let next: UnsafeMutablePointer<Int32>
    private let previous: UnsafeMutablePointer<Int32>
    private let callAt: UnsafeMutablePointer<Int32>
    private let returnAt: UnsafeMutablePointer<Int32>
    private let head: Int

    init(_ operations: [KVOperation]) {
        let count = operations.count
        var order: [(time: UInt64, event: Int32)] = []
        order.reserveCapacity(2 * count)
        for (index, operation) in operations.enumerated() {
            order.append((operation.call, Int32(index << 1)))
            order.append((operation.response ?? UInt64.max, Int32(index << 1 | 1)))
        }
        // In time order; at equal times calls first (the more forgiving reading), then by operation.
        order.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.event & 1 != b.event & 1 { return a.event & 1 == 0 }
            return a.event < b.event
        }
        head = 2 * count
        events = .allocate(capacity: 2 * count)
        next = .allocate(capacity: 2 * count + 1)
        previous = .allocate(capacity: 2 * count + 1)
        callAt = .allocate(capacity: count)
        returnAt = .allocate(capacity: count)
        for (position, item) in order.enumerated() {
            events[position] = item.event
            if item.event & 1 == 0 { callAt[Int(item.event >> 1)] = Int32(position) } else { returnAt[Int(item.event >> 1)] = Int32(position) }
            next[position] = position + 1 < head ? Int32(position + 1) : -1
            previous[position] = position == 0 ? Int32(head) : Int32(position - 1)
        }
        next[head] = 0
        previous[head] = -1
    }

    func release() {
        events.deallocate()
        next.deallocate()
        previous.deallocate()
        callAt.deallocate()
        returnAt.deallocate()
    }

    var first: Int { Int(next[head]) }
    @inline(__always) func event(at position: Int) -> Int32 { events[position] }
    @inline(__always) func after(_ position: Int) -> Int { Int(next[position]) }
    @inline(__always) func afterCall(of operation: Int) -> Int { Int(next[Int(callAt[operation])]) }

    @inline(__always) func lift(_ operation: Int) {
        remove(Int(callAt[operation]))
        remove(Int(returnAt[operation]))
    }

    @inline(__always) func unlift(_ operation: Int) {
        restore(Int(returnAt[operation]))
        restore(Int(callAt[operation]))
    }

    @inline(__always) private func remove(_ position: Int) {
        let before = Int(previous[position]), after = next[position]
        next[before] = after
        if after >= 0 { previous[Int(after)] = Int32(before) }
    }

    @inline(__always) private func restore(_ position: Int) {
        let before = Int(previous[position]), after = next[position]
        next[before] = Int32(position)
        if after >= 0 { previous[Int(after)] = Int32(position) }
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
