/// The key-value map, split into shards by a stable hash of the key. A copy of the whole map is
/// one array of shard references, and a write after a copy copies only the shard it touches: a
/// snapshot of a million keys freezes the map in microseconds, and the writes that follow pay
/// for their own shard (a 256th of the map) once each, instead of one write paying for all.
public struct ShardedMap: Sendable, Equatable {
    public static let shardCount = 256
    public private(set) var shards: [[String: String]]
    public private(set) var count = 0

    public init() {
        shards = Array(repeating: [:], count: Self.shardCount)
    }

    /// FNV-1a over the key's bytes: the same shard in every process, so snapshots come out the same.
    @inline(__always)
    static func shard(of key: String) -> Int {
        var hash: UInt32 = 0x811C_9DC5
        for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return Int(hash & UInt32(shardCount - 1))
    }

    public subscript(key: String) -> String? {
        get { shards[Self.shard(of: key)][key] }
        set {
            let shard = Self.shard(of: key)
            if let newValue {
                if shards[shard].updateValue(newValue, forKey: key) == nil { count += 1 }
            } else if shards[shard].removeValue(forKey: key) != nil {
                count -= 1
            }
        }
    }

    public mutating func reserveCapacity(_ total: Int) {
        let each = total / Self.shardCount + 1
        for index in shards.indices { shards[index].reserveCapacity(each) }
    }
}
