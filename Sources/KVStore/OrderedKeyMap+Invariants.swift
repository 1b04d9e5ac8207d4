/// The B-tree's structural rules, checked node by node: what the tests assert after every operation.
extension OrderedKeyMap {
    /// Each rule the tree breaks, described with the path to the node (child indexes from the root);
    /// empty when the tree keeps them all. Visits every node: O(n).
    public func invariantViolations() -> [String] {
        guard let root else { return [] }
        var checker = InvariantChecker(maxKeys: maxKeys)
        if root.keys.isEmpty { checker.report("the root of a non-empty map holds no key", at: []) }
        checker.check(root, path: [], depth: 0, onSpine: true, above: nil, below: nil)
        return checker.violations
    }

    /// The identities of the tree's nodes, parents before children. Two maps that list the same node
    /// share it; a write that leaves the list as it was mutated its nodes in place. What the tests use
    /// to show that a write after a copy copies its path and nothing else, and one without copies none.
    public var nodeIdentifiers: [ObjectIdentifier] {
        var identifiers: [ObjectIdentifier] = []
        var pending = root.map { [$0] } ?? []
        while let node = pending.popLast() {
            identifiers.append(ObjectIdentifier(node))
            pending.append(contentsOf: node.children.reversed())
        }
        return identifiers
    }

    /// The tree's height: 1 for a single leaf, 0 for an empty map.
    public var height: Int {
        var height = 0
        var node = root
        while let current = node {
            height += 1
            node = current.children.first
        }
        return height
    }
}

struct InvariantChecker {
    let maxKeys: Int
    var violations: [String] = []
    var leafDepth: Int?

    init(maxKeys: Int) {
        self.maxKeys = maxKeys
    }

    mutating func report(_ problem: String, at path: [Int]) {
        if violations.count < 20 { violations.append("node \(path): \(problem)") }
    }

    /// Checks `node` and everything below it; its keys must lie strictly between `above` and `below`.
    mutating func check(_ node: BTreeNode, path: [Int], depth: Int, onSpine: Bool, above: ByteKey?, below: ByteKey?) {
        checkSizes(node, path: path, onSpine: onSpine)
        for (index, key) in node.keys.enumerated() {
            let previous = index == 0 ? above : node.keys[index - 1]
            if let previous, !(previous < key) { report("key \(key) does not come after \(previous)", at: path) }
        }
        if let below, let last = node.keys.last, !(last < below) { report("key \(last) is not below \(below)", at: path) }
        var total = node.keys.count
        if node.isLeaf {
            if leafDepth == nil { leafDepth = depth }
            if leafDepth != depth { report("a leaf at depth \(depth), another at \(leafDepth!)", at: path) }
        } else if node.children.count != node.keys.count + 1 {
            report("\(node.children.count) children for \(node.keys.count) keys", at: path)
        } else {
            for (index, child) in node.children.enumerated() {
                let childAbove = index == 0 ? above : node.keys[index - 1]
                let childBelow = index == node.keys.count ? below : node.keys[index]
                let childOnSpine = onSpine && index == node.keys.count
                check(child, path: path + [index], depth: depth + 1, onSpine: childOnSpine, above: childAbove, below: childBelow)
                total += child.subtreeCount
            }
        }
        if node.subtreeCount != total { report("subtreeCount \(node.subtreeCount), but \(total) entries", at: path) }
    }

    /// Fill, within bounds; records beside keys; room to insert without reallocating.
    mutating func checkSizes(_ node: BTreeNode, path: [Int], onSpine: Bool) {
        let count = node.keys.count
        if node.records.count != count { report("\(node.records.count) records for \(count) keys", at: path) }
        if count > maxKeys { report("\(count) keys, more than \(maxKeys)", at: path) }
        if !path.isEmpty {
            let minimum = onSpine ? 1 : BTreeNode.minimumKeys(maxKeys: maxKeys)
            if count < minimum { report("\(count) keys, fewer than \(minimum)\(onSpine ? " (right spine)" : "")", at: path) }
        }
        if node.keys.capacity <= maxKeys || node.records.capacity <= maxKeys {
            report("capacity \(node.keys.capacity)/\(node.records.capacity): an insertion would reallocate", at: path)
        }
    }
}
