/// Building a map from entries already in ascending key order, in O(n) and without a search per
/// key: how a snapshot of a million keys is restored.
extension OrderedKeyMap {
    /// A key that did not come after the one before it.
    public struct OrderError: Error, CustomStringConvertible {
        public let key: ByteKey
        public let previous: ByteKey
        public var description: String { "key \(key) does not come after \(previous)" }
    }

    /// The map of `entries`, which must be in strictly ascending key order.
    public init(sorted entries: some Sequence<KeyEntry>, maxKeys: Int = OrderedKeyMap.defaultMaxKeys) throws(OrderError) {
        var builder = Builder(maxKeys: maxKeys)
        for entry in entries { try builder.append(entry.key, entry.record) }
        self = builder.finish()
    }

    /// Fills nodes left to right, one entry at a time, so nothing but the tree is ever held.
    ///
    /// `levels[h]` is the node being filled at height `h` (0: the leaf). Above the leaf a node has
    /// as many children as keys while it fills: the child after its last key is still being built
    /// below. When a node is full, the next entry waits in `waiting[h]`; if another entry follows, the
    /// waiting one goes up as the separator after the full node, and a new node begins. So every node
    /// but those on the right spine comes out full, which the invariants allow (see `BTreeNode.split`).
    public struct Builder {
        let maxKeys: Int
        var levels: [BTreeNode] = []
        var waiting: [KeyEntry?] = []
        var last: ByteKey?

        public init(maxKeys: Int = OrderedKeyMap.defaultMaxKeys) {
            precondition(maxKeys >= 3, "a B-tree node needs room for at least three keys")
            self.maxKeys = maxKeys
        }

        /// Adds the next entry; its key must come after the previous one's.
        public mutating func append(_ key: ByteKey, _ record: KeyRecord) throws(OrderError) {
            if let last, !(last < key) { throw OrderError(key: key, previous: last) }
            last = key
            push(KeyEntry(key: key, record: record), after: nil, level: 0)
        }

        /// Adds `child` (nil at the leaf level) and then `entry` to the node being filled at `level`.
        mutating func push(_ entry: KeyEntry, after child: BTreeNode?, level: Int) {
            if level == levels.count {
                levels.append(BTreeNode(maxKeys: maxKeys, isLeaf: level == 0))
                waiting.append(nil)
            }
            if let separator = waiting[level] {
                waiting[level] = nil
                let full = levels[level]
                levels[level] = BTreeNode(maxKeys: maxKeys, isLeaf: level == 0)
                push(separator, after: sealed(full), level: level + 1)
            }
            let node = levels[level]
            if let child { node.children.append(child) }
            if node.keys.count < maxKeys {
                node.keys.append(entry.key)
                node.records.append(entry.record)
            } else {
                waiting[level] = entry
            }
        }

        /// The node with its subtree count set (its children's are already).
        func sealed(_ node: BTreeNode) -> BTreeNode {
            node.subtreeCount = node.keys.count
            for child in node.children { node.subtreeCount += child.subtreeCount }
            return node
        }

        /// The map, closing the right spine bottom-up: each level's node takes the subtree finished
        /// below as its last child. A full node with an entry still waiting takes it too, and splits
        /// the way an append does: it keeps `maxKeys - 1` keys, and one key goes on in a new node.
        public consuming func finish() -> OrderedKeyMap {
            var map = OrderedKeyMap(maxKeys: maxKeys)
            var carry: BTreeNode?
            var level = 0
            while level < levels.count {
                let node = levels[level]
                if let entry = waiting[level] {
                    waiting[level] = nil
                    node.keys.append(entry.key)
                    node.records.append(entry.record)
                    if let carry { node.children.append(carry) }
                    let split = sealed(node).split(appending: true, maxKeys: maxKeys)
                    push(KeyEntry(key: split.key, record: split.record), after: node, level: level + 1)
                    carry = split.right
                } else {
                    if let carry { node.children.append(carry) }
                    carry = sealed(node)
                }
                level += 1
            }
            map.root = carry
            return map
        }
    }
}
