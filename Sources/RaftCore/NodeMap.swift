/// A small map from node id to value, kept sorted by id: lookups are a short linear scan (clusters
/// have a handful of nodes) and iteration order never depends on hashing, so nothing the core
/// emits varies between runs.
public struct NodeMap<Value: Sendable & Equatable & Codable>: Sendable, Equatable, Codable {
    public private(set) var ids: [NodeID] = []
    public private(set) var values: [Value] = []

    public init() {}

    public init(_ ids: [NodeID], _ value: (NodeID) -> Value) {
        for id in ids.sorted() where self.ids.last != id {
            self.ids.append(id)
            values.append(value(id))
        }
    }

    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }

    public subscript(id: NodeID) -> Value? {
        get {
            guard let position = ids.firstIndex(of: id) else { return nil }
            return values[position]
        }
        set {
            if let position = ids.firstIndex(of: id) {
                if let newValue {
                    values[position] = newValue
                } else {
                    ids.remove(at: position)
                    values.remove(at: position)
                }
            } else if let newValue {
                let position = ids.firstIndex { $0 > id } ?? ids.count
                ids.insert(id, at: position)
                values.insert(newValue, at: position)
            }
        }
    }

    /// (id, value) pairs in id order.
    public var entries: [(id: NodeID, value: Value)] { Array(zip(ids, values)).map { ($0, $1) } }

    /// Changes the value of an existing id in place and returns what `body` returns; nil, without
    /// running `body`, when the id is absent.
    @discardableResult
    mutating func update<Result>(_ id: NodeID, _ body: (inout Value) -> Result) -> Result? {
        guard let position = ids.firstIndex(of: id) else { return nil }
        return body(&values[position])
    }

    /// Changes every value in place, in id order.
    mutating func updateAll(_ body: (inout Value) -> Void) {
        for position in values.indices { body(&values[position]) }
    }

    /// Keeps exactly `wanted` ids: drops the others, adds missing ones with `make`.
    mutating func reconcile(with wanted: [NodeID], make: (NodeID) -> Value) {
        var next = NodeMap()
        for id in wanted { next[id] = self[id] ?? make(id) }
        self = next
    }
}
