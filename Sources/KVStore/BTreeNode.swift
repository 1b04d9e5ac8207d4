/// One node of `OrderedKeyMap`'s B-tree: up to `maxKeys` keys in byte order with their records,
/// and, in an internal node, one child more than keys (child `i` holds the keys between `keys[i - 1]`
/// and `keys[i]`). `subtreeCount` is the number of entries in this node and all below it.
///
/// Copy-on-write discipline, which is what makes `@unchecked Sendable` sound: a node is mutated
/// only through a reference that `isKnownUniquelyReferenced` just reported unique (the map's root,
/// or a child slot of a node that was itself unique). A node reachable from two places (two map
/// copies, or a map and an iterator) is never mutated again: a writer copies it and the path above
/// it instead. So a node another thread can see is immutable.
final class BTreeNode: @unchecked Sendable {
    var keys: [ByteKey]
    var records: [KeyRecord]
    /// Empty in a leaf.
    var children: [BTreeNode]
    var subtreeCount: Int

    /// An empty node with room for `maxKeys + 1` entries, so that an insertion never reallocates
    /// (a node briefly holds one key too many before it splits).
    init(maxKeys: Int, isLeaf: Bool) {
        keys = []
        records = []
        children = []
        subtreeCount = 0
        keys.reserveCapacity(maxKeys + 1)
        records.reserveCapacity(maxKeys + 1)
        if !isLeaf { children.reserveCapacity(maxKeys + 2) }
    }

    var isLeaf: Bool { children.isEmpty }

    /// A private copy to write to, with the same entries and the same (shared) children.
    func copy(maxKeys: Int) -> BTreeNode {
        let copy = BTreeNode(maxKeys: maxKeys, isLeaf: isLeaf)
        copy.keys.append(contentsOf: keys)
        copy.records.append(contentsOf: records)
        copy.children.append(contentsOf: children)
        copy.subtreeCount = subtreeCount
        return copy
    }

    /// The index of the first key not below `probe`, and whether that key is `probe`.
    @inline(__always)
    func find(_ probe: KeyProbe) -> (index: Int, found: Bool) {
        keys.withUnsafeBufferPointer { keys in
            var low = 0
            var high = keys.count
            while low < high {
                let middle = (low + high) >> 1
                let order = probe.compare(to: keys[middle])
                if order == 0 { return (middle, true) }
                if order > 0 { low = middle + 1 } else { high = middle }
            }
            return (low, false)
        }
    }

    /// Replaces child `index` with a copy unless this node holds the only reference to it.
    @inline(__always)
    func makeChildUnique(_ index: Int, maxKeys: Int) {
        if !isKnownUniquelyReferenced(&children[index]) {
            children[index] = children[index].copy(maxKeys: maxKeys)
        }
    }

    /// What a node that overflowed hands its parent: the middle entry and the new right half.
    struct Split {
        let key: ByteKey
        let record: KeyRecord
        let right: BTreeNode
    }

    /// Inserts `record` under `probe`'s key, or replaces the record already there (and returns it).
    /// The node must be uniquely referenced. `rightSpine` says whether the node is on the path to the
    /// largest key, where an append splits unevenly (see `split`).
    func insert(_ probe: KeyProbe, _ record: KeyRecord, maxKeys: Int, rightSpine: Bool) -> (old: KeyRecord?, split: Split?) {
        let (index, found) = find(probe)
        if found {
            let old = records[index]
            records[index] = record
            return (old, nil)
        }
        let appending = rightSpine && index == keys.count
        if isLeaf {
            keys.insert(ByteKey(probe), at: index)
            records.insert(record, at: index)
        } else {
            makeChildUnique(index, maxKeys: maxKeys)
            let below = children[index].insert(probe, record, maxKeys: maxKeys, rightSpine: appending)
            if below.old != nil { return below }
            if let split = below.split {
                keys.insert(split.key, at: index)
                records.insert(split.record, at: index)
                children.insert(split.right, at: index + 1)
            }
        }
        subtreeCount += 1
        guard keys.count > maxKeys else { return (nil, nil) }
        return (nil, split(appending: appending, maxKeys: maxKeys))
    }

    /// Splits a node holding `maxKeys + 1` keys around its middle key. When the key just added went to
    /// the end of the rightmost node (keys arriving in ascending order), it keeps `maxKeys - 1` keys and
    /// moves one: the nodes left behind stay full instead of half full, and only the right spine, which
    /// the invariants allow to hold as little as one key, is short.
    func split(appending: Bool, maxKeys: Int) -> Split {
        let middle = appending ? maxKeys - 1 : maxKeys / 2
        let right = BTreeNode(maxKeys: maxKeys, isLeaf: isLeaf)
        right.keys.append(contentsOf: keys[(middle + 1)...])
        right.records.append(contentsOf: records[(middle + 1)...])
        right.subtreeCount = right.keys.count
        if !isLeaf {
            right.children.append(contentsOf: children[(middle + 1)...])
            children.removeSubrange((middle + 1)...)
            for child in right.children { right.subtreeCount += child.subtreeCount }
        }
        let split = Split(key: keys[middle], record: records[middle], right: right)
        keys.removeSubrange(middle...)
        records.removeSubrange(middle...)
        subtreeCount -= right.subtreeCount + 1
        return split
    }
}
