import KVStore
import RaftCore
import Testing

/// Copies (what snapshots freeze) and bulk builds (what restores use) of the ordered key map.
@Suite struct OrderedKeyMapCopyAndBuildTests {
    static func record(_ index: Int, _ revision: Int64 = 1) -> KeyRecord {
        KeyRecord(value: "value \(index)", createRevision: revision, modRevision: revision, version: 1, lease: Int64(index % 3))
    }

    static func key(_ index: Int) -> ByteKey { ByteKey("key\(String(index + 100_000_000).dropFirst())") }

    static func filled(_ count: Int, maxKeys: Int, seed: UInt64 = 1) -> OrderedKeyMap {
        var random = SplitMix64(seed: seed)
        var map = OrderedKeyMap(maxKeys: maxKeys)
        for index in (0..<count).shuffled(using: &random) { map.updateValue(record(index), forKey: key(index)) }
        return map
    }

    /// A burst of writes of every kind: updates, inserts, removals, at both ends and in the middle.
    static func scribble(on map: inout OrderedKeyMap, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for step in 0..<1500 {
            let index = Int(random.next() % 3000)
            if random.next() % 4 == 0 {
                map.removeValue(forKey: key(index))
            } else {
                map.updateValue(record(index, Int64(step + 2)), forKey: key(index))
            }
        }
    }

    @Test(arguments: [3, 4, 16, 64])
    func aCopyIsUnaffectedByWritesToTheOriginalAndTheOriginalByWritesToTheCopy(maxKeys: Int) {
        var original = Self.filled(2000, maxKeys: maxKeys)
        var copy = original
        let before = Array(original)
        Self.scribble(on: &original, seed: 2)
        #expect(Array(copy) == before)
        #expect(copy.count == 2000)
        #expect(copy.invariantViolations() == [])
        #expect(original.invariantViolations() == [])
        let originalAfter = Array(original)
        Self.scribble(on: &copy, seed: 3)
        #expect(Array(original) == originalAfter)
        #expect(Array(copy) != before)
        #expect(copy.invariantViolations() == [])
    }

    @Test func aWriteAfterACopyCopiesItsPathAndAWriteWithoutCopiesNothing() {
        var map = Self.filled(20_000, maxKeys: 64)
        let height = map.height
        #expect(height == 3)
        let frozen = map
        // The smallest and largest keys live in the leftmost and rightmost leaves, at the end of full-height paths.
        map.updateValue(Self.record(1, 9), forKey: Self.key(0))
        let frozenNodes = Set(frozen.nodeIdentifiers)
        func copied() -> Int { map.nodeIdentifiers.filter { !frozenNodes.contains($0) }.count }
        #expect(copied() == height, "the first write copies the root and the path below it")
        let afterFirst = map.nodeIdentifiers
        map.updateValue(Self.record(1, 10), forKey: Self.key(1))
        #expect(map.nodeIdentifiers == afterFirst, "a second write beside the first finds its path already private")
        map.updateValue(Self.record(1, 11), forKey: Self.key(19_999))
        #expect(copied() == 2 * height - 1, "a write far away copies its own path below the shared root")
        #expect(frozen[Self.key(0)] == Self.record(0))
        #expect(map[Self.key(0)] == Self.record(1, 9))
    }

    @Test func aFrozenCopyCanBeWalkedOnAnotherThreadWhileTheOriginalChanges() async {
        var map = Self.filled(5000, maxKeys: 16)
        let frozen = map
        let expected = Array(frozen)
        let walk = Task.detached { () -> [KeyEntry] in Array(frozen) }
        Self.scribble(on: &map, seed: 4)
        Self.scribble(on: &map, seed: 5)
        #expect(await walk.value == expected)
        #expect(map.invariantViolations() == [])
    }

    @Test(arguments: [3, 4, 5, 8, 64])
    func aBulkBuildEqualsInsertingTheSameEntries(maxKeys: Int) throws {
        var sizes = Array(0...40)
        for edge in [maxKeys, (maxKeys + 1) * (maxKeys + 1), (maxKeys + 1) * (maxKeys + 1) * (maxKeys + 1)] where edge < 5000 {
            sizes += [edge - 2, edge - 1, edge, edge + 1, edge + 2]
        }
        sizes += [777, 4999]
        for size in sizes where size >= 0 {
            let entries = (0..<size).map { KeyEntry(key: Self.key($0), record: Self.record($0)) }
            let built = try OrderedKeyMap(sorted: entries, maxKeys: maxKeys)
            let inserted = Self.filled(size, maxKeys: maxKeys, seed: UInt64(size))
            #expect(built.invariantViolations() == [], "\(size) entries")
            #expect(Array(built) == entries, "\(size) entries")
            #expect(Array(inserted) == entries, "\(size) entries")
            #expect(built.count == size)
            #expect(built.height <= inserted.height)
            #expect(built.count(in: KeyRange(from: Self.key(size / 3), to: Self.key(size / 2))) == size / 2 - size / 3)
        }
    }

    @Test func aBulkBuildRefusesKeysOutOfOrder() {
        let record = Self.record(0)
        #expect(throws: OrderedKeyMap.OrderError.self) {
            _ = try OrderedKeyMap(sorted: [KeyEntry(key: "a", record: record), KeyEntry(key: "a", record: record)])
        }
        #expect(throws: OrderedKeyMap.OrderError.self) {
            _ = try OrderedKeyMap(sorted: [KeyEntry(key: "b", record: record), KeyEntry(key: "a", record: record)])
        }
        // Byte order, not Unicode order: "é" precomposed (C3 A9) comes after "e\u{301}" (65 CC 81).
        #expect(throws: Never.self) {
            _ = try OrderedKeyMap(sorted: [KeyEntry(key: "e\u{301}", record: record), KeyEntry(key: "\u{E9}", record: record)])
        }
    }

    @Test func keysArrivingInOrderLeaveFullNodesBehind() throws {
        var map = OrderedKeyMap(maxKeys: 64)
        for index in 0..<50_000 { map.updateValue(Self.record(index), forKey: Self.key(index)) }
        #expect(map.invariantViolations() == [])
        let nodes = map.nodeIdentifiers.count
        // Full nodes hold 63 or 64 keys: 50,000 keys fit in ~790 of them; half-full splits would need ~1,600.
        #expect(nodes < 820, "\(nodes) nodes")
        let built = try OrderedKeyMap(sorted: Array(map))
        #expect(built.nodeIdentifiers.count <= nodes)
    }
}
