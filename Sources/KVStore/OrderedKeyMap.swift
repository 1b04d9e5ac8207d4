/// The store's keys in byte order, each with its `KeyRecord`: a persistent B-tree.
///
/// A copy is one root reference, O(1): take one on the node's thread to freeze the map for a
/// snapshot, and walk it on another thread. A write after a copy copies only the nodes on its path
/// (a few kilobytes), and the nodes it copied are its own from then on; without an outstanding copy,
/// a write mutates its nodes in place and allocates nothing but the new key's bytes (for keys over
/// 15 bytes) and, now and then, a node when one splits.
///
/// Ranges and counts by range are in `OrderedKeyMap+Range.swift`, building from sorted entries in
/// `OrderedKeyMap+Build.swift`, the structural checks the tests run in `OrderedKeyMap+Invariants.swift`.
public struct OrderedKeyMap: Sendable {
    /// The most keys a node holds. 64 keys of 24 bytes and their 48-byte records: a copied path
    /// of three or four nodes is ~20 KB, and a lookup reads about five cache lines per node.
    public static let defaultMaxKeys = 64

    var root: BTreeNode?
    public let maxKeys: Int

    /// An empty map. `maxKeys` is for tests, which use tiny nodes to exercise splits and merges.
    public init(maxKeys: Int = OrderedKeyMap.defaultMaxKeys) {
        precondition(maxKeys >= 3, "a B-tree node needs room for at least three keys")
        self.maxKeys = maxKeys
    }

    public var count: Int { root?.subtreeCount ?? 0 }
    public var isEmpty: Bool { root == nil }

    public subscript(key: ByteKey) -> KeyRecord? {
        key.withProbe { record(for: $0) }
    }

    public subscript(key: String) -> KeyRecord? {
        KeyProbe.with(key) { record(for: $0) }
    }

    public func contains(_ key: ByteKey) -> Bool { self[key] != nil }

    /// Stores `record` under `key`; returns the record it replaced, nil when the key is new.
    @discardableResult
    public mutating func updateValue(_ record: KeyRecord, forKey key: ByteKey) -> KeyRecord? {
        key.withProbe { update(record, for: $0) }
    }

    @discardableResult
    public mutating func updateValue(_ record: KeyRecord, forKey key: String) -> KeyRecord? {
        KeyProbe.with(key) { update(record, for: $0) }
    }

    /// Removes `key`; returns its record, nil when it was absent.
    @discardableResult
    public mutating func removeValue(forKey key: ByteKey) -> KeyRecord? {
        key.withProbe { remove($0) }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> KeyRecord? {
        KeyProbe.with(key) { remove($0) }
    }

    func record(for probe: KeyProbe) -> KeyRecord? {
        var node = root
        while let current = node {
            let (index, found) = current.find(probe)
            if found { return current.records[index] }
            node = current.isLeaf ? nil : current.children[index]
        }
        return nil
    }

    mutating func update(_ record: KeyRecord, for probe: KeyProbe) -> KeyRecord? {
        guard root != nil else {
            let leaf = BTreeNode(maxKeys: maxKeys, isLeaf: true)
            leaf.keys.append(ByteKey(probe))
            leaf.records.append(record)
            leaf.subtreeCount = 1
            root = leaf
            return nil
        }
        makeRootUnique()
        let (old, split) = root!.insert(probe, record, maxKeys: maxKeys, rightSpine: true)
        if let split { grow(with: split) }
        return old
    }

    mutating func remove(_ probe: KeyProbe) -> KeyRecord? {
        // Look first, so that removing an absent key copies nothing after a freeze.
        guard record(for: probe) != nil else { return nil }
        makeRootUnique()
        let removed = root!.remove(probe, maxKeys: maxKeys, rightSpine: true)
        if let top = root, top.keys.isEmpty {
            root = top.isLeaf ? nil : top.children[0]
        }
        return removed
    }

    mutating func makeRootUnique() {
        if !isKnownUniquelyReferenced(&root) { root = root!.copy(maxKeys: maxKeys) }
    }

    /// A new root above the old one and the half it split off.
    mutating func grow(with split: BTreeNode.Split) {
        let left = root!
        let top = BTreeNode(maxKeys: maxKeys, isLeaf: false)
        top.keys.append(split.key)
        top.records.append(split.record)
        top.children.append(left)
        top.children.append(split.right)
        top.subtreeCount = left.subtreeCount + 1 + split.right.subtreeCount
        root = top
    }
}
