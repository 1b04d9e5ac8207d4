/// The configurations a search has already reached: (set of operations placed, model state).
/// A set is named by two 64-bit words (Zobrist hashing: the XOR of per-operation random
/// words, so adding or removing an operation is one XOR, whatever the history's length); two
/// different sets share a name with odds of 2^-128. Open addressing with linear probing over
/// flat arrays: no allocation per entry, and a lookup is one or two cache lines.
struct MemoTable: ~Copyable {
    private var low: UnsafeMutablePointer<UInt64>
    private var high: UnsafeMutablePointer<UInt64>
    /// Int32.min marks an empty slot.
    private var states: UnsafeMutablePointer<Int32>
    private var capacity: Int
    private(set) var count = 0

    init(capacity requested: Int = 1 << 12) {
        var size = 16
        while size < requested { size <<= 1 }
        capacity = size
        low = .allocate(capacity: size)
        high = .allocate(capacity: size)
        states = .allocate(capacity: size)
        states.initialize(repeating: Int32.min, count: size)
    }

    deinit {
        low.deallocate()
        high.deallocate()
        states.deallocate()
    }

    /// Adds the configuration; false when it was already there.
    @inline(__always)
    mutating func insert(low a: UInt64, high b: UInt64, state: Int32) -> Bool {
        if count * 2 >= capacity { grow() }
        let mask = capacity - 1
        var slot = Int(truncatingIfNeeded: (a ^ (UInt64(UInt32(bitPattern: state)) &* 0x9E37_79B9_7F4A_7C15)) >> 7) & mask
        while true {
            let occupant = states[slot]
            if occupant == Int32.min {
                low[slot] = a
                high[slot] = b
                states[slot] = state
                count += 1
                return true
            }
            if occupant == state && low[slot] == a && high[slot] == b { return false }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let oldLow = low, oldHigh = high, oldStates = states, oldCapacity = capacity
        capacity *= 2
        low = .allocate(capacity: capacity)
        high = .allocate(capacity: capacity)
        states = .allocate(capacity: capacity)
        states.initialize(repeating: Int32.min, count: capacity)
        count = 0
        for slot in 0..<oldCapacity where oldStates[slot] != Int32.min {
            _ = insert(low: oldLow[slot], high: oldHigh[slot], state: oldStates[slot])
        }
        oldLow.deallocate()
        oldHigh.deallocate()
        oldStates.deallocate()
    }
}
