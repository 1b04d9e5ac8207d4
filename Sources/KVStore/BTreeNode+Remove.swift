/// Removal from a `BTreeNode`, and the merging and borrowing that keep every node but the root at
/// least `minimumKeys` full (the right spine: at least one key; see `BTreeNode.split`).
extension BTreeNode {
    static func minimumKeys(maxKeys: Int) -> Int { (maxKeys - 1) / 2 }

    /// Removes `probe`'s key from this subtree and returns its record, or nil when it is absent.
    /// The node must be uniquely referenced; it may be left short, for its parent to fix.
    func remove(_ probe: KeyProbe, maxKeys: Int, rightSpine: Bool) -> KeyRecord? {
        let (index, found) = find(probe)
        if isLeaf {
            guard found else { return nil }
            keys.remove(at: index)
            subtreeCount -= 1
            return records.remove(at: index)
        }
        let removed: KeyRecord
        makeChildUnique(index, maxKeys: maxKeys)
        if found {
            // Child `index` ends just below the key: its largest entry takes the key's place.
            removed = records[index]
            (keys[index], records[index]) = children[index].removeLast(maxKeys: maxKeys)
        } else {
            let childOnSpine = rightSpine && index == keys.count
            guard let record = children[index].remove(probe, maxKeys: maxKeys, rightSpine: childOnSpine) else { return nil }
            removed = record
        }
        subtreeCount -= 1
        rebalanceChild(index, maxKeys: maxKeys, rightSpine: rightSpine)
        return removed
    }

    /// Removes and returns the largest entry of this subtree, which is not on the right spine.
    func removeLast(maxKeys: Int) -> (ByteKey, KeyRecord) {
        subtreeCount -= 1
        if isLeaf { return (keys.removeLast(), records.removeLast()) }
        let last = children.count - 1
        makeChildUnique(last, maxKeys: maxKeys)
        let entry = children[last].removeLast(maxKeys: maxKeys)
        rebalanceChild(last, maxKeys: maxKeys, rightSpine: false)
        return entry
    }

    /// Brings child `index` back to its minimum after it lost a key: merges it with a sibling when
    /// both fit in one node, and otherwise moves one entry over from the sibling through this node.
    func rebalanceChild(_ index: Int, maxKeys: Int, rightSpine: Bool) {
        let onSpine = rightSpine && index == keys.count
        let minimum = onSpine ? 1 : Self.minimumKeys(maxKeys: maxKeys)
        guard children[index].keys.count < minimum else { return }
        let left = index > 0 ? index - 1 : index
        if children[left].keys.count + children[left + 1].keys.count < maxKeys {
            mergeChildren(left, maxKeys: maxKeys)
        } else if left == index {
            moveFirstOfRightChild(into: left, maxKeys: maxKeys)
        } else {
            moveLastOfLeftChild(from: left, maxKeys: maxKeys)
        }
    }

    /// Folds child `left + 1` and the key between into child `left`.
    func mergeChildren(_ left: Int, maxKeys: Int) {
        makeChildUnique(left, maxKeys: maxKeys)
        let target = children[left]
        let source = children[left + 1]
        target.keys.append(keys.remove(at: left))
        target.records.append(records.remove(at: left))
        target.keys.append(contentsOf: source.keys)
        target.records.append(contentsOf: source.records)
        target.children.append(contentsOf: source.children)
        target.subtreeCount += 1 + source.subtreeCount
        children.remove(at: left + 1)
    }

    /// Rotates right: the key at `left` goes down to the front of child `left + 1`, and child `left`'s
    /// last key (and last child) takes its place.
    func moveLastOfLeftChild(from left: Int, maxKeys: Int) {
        makeChildUnique(left, maxKeys: maxKeys)
        makeChildUnique(left + 1, maxKeys: maxKeys)
        let source = children[left]
        let target = children[left + 1]
        target.keys.insert(keys[left], at: 0)
        target.records.insert(records[left], at: 0)
        keys[left] = source.keys.removeLast()
        records[left] = source.records.removeLast()
        var moved = 1
        if !source.isLeaf {
            let child = source.children.removeLast()
            moved += child.subtreeCount
            target.children.insert(child, at: 0)
        }
        source.subtreeCount -= moved
        target.subtreeCount += moved
    }

    /// Rotates left: the key at `left` goes down to the end of child `left`, and child `left + 1`'s
    /// first key (and first child) takes its place.
    func moveFirstOfRightChild(into left: Int, maxKeys: Int) {
        makeChildUnique(left, maxKeys: maxKeys)
        makeChildUnique(left + 1, maxKeys: maxKeys)
        let target = children[left]
        let source = children[left + 1]
        target.keys.append(keys[left])
        target.records.append(records[left])
        keys[left] = source.keys.removeFirst()
        records[left] = source.records.removeFirst()
        var moved = 1
        if !source.isLeaf {
            let child = source.children.removeFirst()
            moved += child.subtreeCount
            target.children.append(child)
        }
        source.subtreeCount -= moved
        target.subtreeCount += moved
    }
}
