import KVStore
import RaftCore
import Testing

/// The ordered key map against the simplest thing that could be right: a sorted array of
/// (bytes, record). Seeded random writes, frozen copies and rebuilds; after every step the contents,
/// a random point get, range page, prefix range, continuation and count, and the B-tree's rules.
@Suite struct OrderedKeyMapModelTests {
    /// The reference: entries sorted by their bytes.
    struct Model: Equatable {
        var keys: [[UInt8]] = []
        var records: [KeyRecord] = []

        func index(of key: [UInt8]) -> (index: Int, found: Bool) {
            var low = 0
            var high = keys.count
            while low < high {
                let middle = (low + high) / 2
                if keys[middle].lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
            }
            return (low, low < keys.count && keys[low] == key)
        }

        subscript(key: [UInt8]) -> KeyRecord? {
            let (index, found) = index(of: key)
            return found ? records[index] : nil
        }

        mutating func update(_ record: KeyRecord, _ key: [UInt8]) -> KeyRecord? {
            let (index, found) = index(of: key)
            if found {
                defer { records[index] = record }
                return records[index]
            }
            keys.insert(key, at: index)
            records.insert(record, at: index)
            return nil
        }

        mutating func remove(_ key: [UInt8]) -> KeyRecord? {
            let (index, found) = index(of: key)
            guard found else { return nil }
            keys.remove(at: index)
            return records.remove(at: index)
        }

        /// The indexes of the keys in `range`, straight from its definition.
        func indexes(in range: KeyRange) -> [Int] {
            keys.indices.filter { index in
                let key = keys[index]
                switch range.lower {
                case .start: break
                case .including(let lower): if key.lexicographicallyPrecedes(lower.bytes) { return false }
                case .after(let lower): if !lower.bytes.lexicographicallyPrecedes(key) { return false }
                }
                return range.upper.map { key.lexicographicallyPrecedes($0.bytes) } ?? true
            }
        }

        func page(_ range: KeyRange, limit: Int) -> RangePage {
            let all = indexes(in: range)
            let taken = all.prefix(limit).map { KeyEntry(key: ByteKey(bytes: keys[$0]), record: records[$0]) }
            return RangePage(entries: taken, more: all.count > limit)
        }
    }

    /// Keys that collide often and cross the map's 8- and 15-byte boundaries: short keys over an
    /// alphabet with 0x00, 0xFF and UTF-8 lead and trail bytes, and keys behind 7- and 15-byte stems.
    struct KeySource {
        static let alphabet: [UInt8] = [0x00, 0x61, 0x62, 0xC3, 0xA9, 0xFF]
        static let stems: [[UInt8]] = [[], Array("prefix_".utf8), Array("/registry/pods/".utf8), Array("/registry/pods/\u{E9}".utf8)]
        var random: SplitMix64

        mutating func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }

        mutating func bytes(upTo length: Int) -> [UInt8] {
            (0..<Int(random.next() % UInt64(length + 1))).map { _ in pick(Self.alphabet) }
        }

        mutating func key() -> [UInt8] { pick(Self.stems) + bytes(upTo: 3) }

        mutating func range() -> KeyRange {
            let lower: KeyRange.Lower
            switch random.next() % 3 {
            case 0: lower = .start
            case 1: lower = .including(ByteKey(bytes: key()))
            default: lower = .after(ByteKey(bytes: key()))
            }
            return KeyRange(lower: lower, upper: random.next() % 3 == 0 ? nil : ByteKey(bytes: key()))
        }

        mutating func prefix() -> [UInt8] { random.next() % 2 == 0 ? bytes(upTo: 2) : pick(Self.stems) + bytes(upTo: 1) }
    }

    static func contents(_ map: OrderedKeyMap) -> Model {
        Model(keys: map.map(\.key.bytes), records: map.map(\.record))
    }

    @Test(arguments: [3, 4, 5, 8, 64], [UInt64(1), 2, 3])
    func randomOperationsMatchTheModel(maxKeys: Int, seed: UInt64) throws {
        var source = KeySource(random: SplitMix64(seed: seed &* 1_000_003 &+ UInt64(maxKeys)))
        var map = OrderedKeyMap(maxKeys: maxKeys)
        var model = Model()
        var frozen: [(map: OrderedKeyMap, model: Model)] = []
        for step in 1...1200 {
            let key = source.key()
            let roll = source.random.next() % 100
            if roll < 55 {
                let record = KeyRecord(value: "v\(step)", createRevision: Int64(step), modRevision: Int64(step),
                                       version: Int64(step % 7), lease: Int64(step % 3))
                #expect(map.updateValue(record, forKey: ByteKey(bytes: key)) == model.update(record, key))
            } else if roll < 90 {
                #expect(map.removeValue(forKey: ByteKey(bytes: key)) == model.remove(key))
            } else if roll < 97 {
                frozen.append((map, model))
                if frozen.count > 4 { frozen.remove(at: Int(source.random.next() % 5)) }
            } else {
                map = try OrderedKeyMap(sorted: Array(map), maxKeys: maxKeys)
            }
            try check(map, against: model, source: &source, step: step)
        }
        for (copy, copyModel) in frozen {
            #expect(Self.contents(copy) == copyModel, "a frozen copy changed")
            #expect(copy.invariantViolations() == [])
        }
    }

    func check(_ map: OrderedKeyMap, against model: Model, source: inout KeySource, step: Int) throws {
        let violations = map.invariantViolations()
        try #require(violations == [], "step \(step)")
        try #require(map.count == model.keys.count, "step \(step)")
        try #require(Self.contents(map) == model, "step \(step)")
        let probe = source.key()
        #expect(map[ByteKey(bytes: probe)] == model[probe])
        let range = source.range()
        let limit = source.pick([0, 1, 2, 5, Int.max])
        #expect(map.range(range, limit: limit) == model.page(range, limit: limit), "step \(step): \(range) limit \(limit)")
        #expect(map.count(in: range) == model.indexes(in: range).count, "step \(step): \(range)")
        let prefix = KeyRange.prefix(ByteKey(bytes: source.prefix()))
        #expect(map.range(prefix) == model.page(prefix, limit: .max), "step \(step): \(prefix)")
        #expect(map.count(in: prefix) == model.indexes(in: prefix).count)
        // Page through the range three at a time, each page continuing after the last key of the one before.
        var paged: [KeyEntry] = []
        var page = map.range(range, limit: 3)
        while page.more, let last = page.entries.last {
            paged += page.entries
            page = map.range(range.continuing(after: last.key), limit: 3)
        }
        paged += page.entries
        #expect(paged == model.page(range, limit: .max).entries, "step \(step): paging \(range)")
    }
}
