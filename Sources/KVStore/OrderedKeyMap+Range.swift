/// Keys from a lower bound (from the start, from a key, or strictly after one: a continuation) up
/// to an exclusive upper bound or the end. A prefix is such a range, ending at `ByteKey.prefixEnd`.
public struct KeyRange: Sendable, Equatable {
    public enum Lower: Sendable, Equatable {
        case start
        case including(ByteKey)
        case after(ByteKey)
    }

    public var lower: Lower
    /// Exclusive; nil for "to the end".
    public var upper: ByteKey?

    public init(lower: Lower = .start, upper: ByteKey? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// `[from, to)`.
    public init(from: ByteKey, to: ByteKey? = nil) {
        self.init(lower: .including(from), upper: to)
    }

    public static let all = KeyRange()

    /// Every key that starts with `prefix`'s bytes.
    public static func prefix(_ prefix: ByteKey) -> KeyRange {
        KeyRange(lower: .including(prefix), upper: ByteKey.prefixEnd(of: prefix))
    }

    /// The rest of this range after `key`: the next page after one that ended at `key`.
    public func continuing(after key: ByteKey) -> KeyRange {
        KeyRange(lower: .after(key), upper: upper)
    }
}

/// One page of a range: its first `limit` entries in key order, and whether more follow.
public struct RangePage: Sendable, Equatable {
    public var entries: [KeyEntry]
    public var more: Bool

    public init(entries: [KeyEntry], more: Bool) {
        self.entries = entries
        self.more = more
    }
}

extension OrderedKeyMap: Sequence {
    /// The entries of `range` in key order; `limit` at most, and whether more remain. O(log n + limit).
    public func range(_ range: KeyRange, limit: Int = .max) -> RangePage {
        precondition(limit >= 0, "a negative limit")
        var iterator = makeIterator(in: range)
        var entries = [KeyEntry]()
        entries.reserveCapacity(Swift.min(limit, count, 1024))
        while entries.count < limit, let entry = iterator.next() { entries.append(entry) }
        return RangePage(entries: entries, more: iterator.next() != nil)
    }

    /// How many keys `range` holds, in O(log n) node visits (each adding up the sizes of the
    /// subtrees to its left), without visiting the keys.
    public func count(in range: KeyRange) -> Int {
        let end = range.upper.map { key in key.withProbe { rank(of: $0, including: false) } } ?? count
        let start: Int
        switch range.lower {
        case .start: start = 0
        case .including(let key): start = key.withProbe { rank(of: $0, including: false) }
        case .after(let key): start = key.withProbe { rank(of: $0, including: true) }
        }
        return Swift.max(0, end - start)
    }

    /// The number of keys below `probe`, counting `probe`'s own key too when `including`.
    func rank(of probe: KeyProbe, including: Bool) -> Int {
        var rank = 0
        var node = root
        while let current = node {
            let (index, found) = current.find(probe)
            rank += index
            if current.isLeaf { return rank + (found && including ? 1 : 0) }
            for child in current.children[..<index] { rank += child.subtreeCount }
            if found { return rank + current.children[index].subtreeCount + (including ? 1 : 0) }
            node = current.children[index]
        }
        return rank
    }

    public func makeIterator() -> Iterator { makeIterator(in: .all) }

    /// An iterator over `range`. It holds the nodes it walks, so it reads the map as it was when
    /// made: the map (or a copy) may keep changing, on this thread or another, meanwhile.
    public func makeIterator(in range: KeyRange) -> Iterator {
        Iterator(root: root, range: range)
    }

    /// An in-order walk: a stack of (node, index of the next key to hand out there), the path from
    /// the root down to the next entry.
    public struct Iterator: IteratorProtocol, Sendable {
        var path: [(node: BTreeNode, index: Int)] = []
        let upper: ByteKey?

        init(root: BTreeNode?, range: KeyRange) {
            upper = range.upper
            path.reserveCapacity(8)
            guard let root else { return }
            switch range.lower {
            case .start: descendLeftmost(from: root)
            case .including(let key): key.withProbe { seek(root, $0, after: false) }
            case .after(let key): key.withProbe { seek(root, $0, after: true) }
            }
        }

        /// Builds the path to the first key at or above `probe` (above it when `after`).
        mutating func seek(_ root: BTreeNode, _ probe: KeyProbe, after: Bool) {
            var node = root
            while true {
                let (index, found) = node.find(probe)
                if found && after {
                    path.append((node, index + 1))
                    if !node.isLeaf { descendLeftmost(from: node.children[index + 1]) }
                    return
                }
                path.append((node, index))
                if found || node.isLeaf { return }
                node = node.children[index]
            }
        }

        mutating func descendLeftmost(from start: BTreeNode) {
            var node = start
            while true {
                path.append((node, 0))
                if node.isLeaf { return }
                node = node.children[0]
            }
        }

        public mutating func next() -> KeyEntry? {
            while let (node, index) = path.last {
                guard index < node.keys.count else {
                    path.removeLast()
                    continue
                }
                let key = node.keys[index]
                if let upper, upper.withProbe({ $0.compare(to: key) <= 0 }) {
                    path.removeAll()
                    return nil
                }
                path[path.count - 1].index = index + 1
                if !node.isLeaf { descendLeftmost(from: node.children[index + 1]) }
                return KeyEntry(key: key, record: node.records[index])
            }
            return nil
        }
    }
}
