import KVStore
import RaftCore
import Testing

/// The ordered key map's contract case by case: byte order, prefixes, pages, copies, bulk builds.
/// (OrderedKeyMapModelTests runs it against a reference model under random operations.)
@Suite struct OrderedKeyMapTests {
    static func record(_ value: String, _ revision: Int64 = 1, lease: Int64 = 0) -> KeyRecord {
        KeyRecord(value: value, createRevision: revision, modRevision: revision, version: 1, lease: lease)
    }

    static func keys(_ map: OrderedKeyMap) -> [[UInt8]] { map.map(\.key.bytes) }

    @Test func keysAreOrderedAndComparedByTheirUTF8Bytes() {
        let precomposed = "\u{E9}"  // é: C3 A9
        let decomposed = "e\u{301}"  // e + combining acute: 65 CC 81
        #expect(precomposed == decomposed, "Swift calls them equal; the map must not")
        let strings = ["a", "Z", precomposed, decomposed, "", "ab", "a\u{0}", "\u{10FFFF}", "\u{7F}", "\u{80}", "e", "f"]
        var map = OrderedKeyMap(maxKeys: 3)
        for (index, string) in strings.enumerated() { map.updateValue(Self.record(string, Int64(index + 1)), forKey: string) }
        #expect(map.count == strings.count)
        #expect(map.invariantViolations() == [])
        let expected = strings.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(Self.keys(map) == expected)
        #expect(map[precomposed]?.value == precomposed)
        #expect(map[decomposed]?.value == decomposed)
        #expect(ByteKey(precomposed) != ByteKey(decomposed))
        #expect(map.removeValue(forKey: decomposed)?.value == decomposed)
        #expect(map[precomposed]?.value == precomposed, "removing one form leaves the other")
        #expect(map[decomposed] == nil)
    }

    @Test func byteKeysRoundTripAndCompareLikeTheirBytes() {
        var random = SplitMix64(seed: 7)
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x7F, 0x80, 0xC3, 0xFE, 0xFF]
        var samples: [[UInt8]] = []
        for _ in 0..<400 {
            // Lengths around the 8- and 15-byte boundaries of the inline words; a shared stem makes ties.
            let stem = [UInt8](repeating: 0x61, count: Int(random.next() % 16))
            let rest = (0..<Int(random.next() % 5)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            samples.append(stem + rest)
        }
        for bytes in samples {
            let key = ByteKey(bytes: bytes)
            #expect(key.bytes == bytes)
            #expect(key.count == bytes.count)
            #expect(key.isEmpty == bytes.isEmpty)
        }
        for _ in 0..<4000 {
            let left = samples[Int(random.next() % UInt64(samples.count))]
            let right = samples[Int(random.next() % UInt64(samples.count))]
            let (a, b) = (ByteKey(bytes: left), ByteKey(bytes: right))
            #expect((a < b) == left.lexicographicallyPrecedes(right), "\(left) < \(right)")
            #expect((a == b) == (left == right))
            if a == b { #expect(a.hashValue == b.hashValue) }
            #expect(a.hasPrefix(b) == left.starts(with: right))
        }
        for string in ["", "k", "key00000123", "fifteen bytes!!", "sixteen bytes!!!", "\u{E9}t\u{E9} \u{1F600} a longer key with a tail"] {
            #expect(ByteKey(string).string == string)
            #expect(ByteKey(string).bytes == Array(string.utf8))
        }
    }

    @Test func aPrefixEndsAtTheNextByteStringInByteOrder() {
        func end(_ bytes: [UInt8]) -> [UInt8]? { ByteKey.prefixEnd(of: ByteKey(bytes: bytes))?.bytes }
        #expect(end(Array("abc".utf8)) == Array("abd".utf8))
        #expect(end([0x61, 0xFF]) == [0x62])
        #expect(end([0x61, 0xFF, 0xFF]) == [0x62])
        #expect(end([0x61, 0xFE, 0xFF]) == [0x61, 0xFF])
        #expect(end([0xFF]) == nil)
        #expect(end([0xFF, 0xFF]) == nil)
        #expect(end([]) == nil)
        #expect(end(Array("\u{E9}".utf8)) == [0xC3, 0xAA])
        #expect(end(Array("0123456789abcdefghij".utf8)) == Array("0123456789abcdefghik".utf8))
    }

    @Test func prefixRangesHoldExactlyTheKeysThatStartWithThePrefix() {
        let byteKeys: [[UInt8]] = [[], [0x61], [0x61, 0xFE], [0x61, 0xFE, 0xFF], [0x61, 0xFF], [0x61, 0xFF, 0x00], [0x61, 0xFF, 0xFF, 0x01],
                                   [0x62], [0xFF], [0xFF, 0xFF], [0xFF, 0xFF, 0xFF], [0xC3, 0xA9], [0xC3, 0xA9, 0x61], [0xC3, 0xAA],
                                   Array("user/\u{E9}/1".utf8), Array("user/e\u{301}/1".utf8), Array("user/f".utf8), Array("user0".utf8)]
        var map = OrderedKeyMap(maxKeys: 4)
        for bytes in byteKeys { map.updateValue(Self.record("v"), forKey: ByteKey(bytes: bytes)) }
        let prefixes: [[UInt8]] = [[], [0x61], [0x61, 0xFF], [0x61, 0xFE], [0xFF], [0xFF, 0xFF], [0xC3], [0xC3, 0xA9],
                                   Array("user/".utf8), Array("user/\u{E9}".utf8), Array("user/e".utf8), [0x00]]
        for prefix in prefixes {
            let range = KeyRange.prefix(ByteKey(bytes: prefix))
            let expected = byteKeys.filter { $0.starts(with: prefix) }.sorted { $0.lexicographicallyPrecedes($1) }
            #expect(map.range(range).entries.map(\.key.bytes) == expected, "prefix \(prefix)")
            #expect(map.count(in: range) == expected.count, "prefix \(prefix)")
        }
    }

    @Test func pagesContinueAfterTheLastKeyAndSayWhetherMoreRemain() {
        var map = OrderedKeyMap(maxKeys: 5)
        for index in 0..<200 { map.updateValue(Self.record("\(index)"), forKey: "k\(1000 + index)") }
        let range = KeyRange(from: "k1010", to: "k1150")
        var collected: [String] = []
        var page = map.range(range, limit: 7)
        var pages = 1
        while page.more {
            collected += page.entries.map(\.key.string)
            page = map.range(range.continuing(after: page.entries.last!.key), limit: 7)
            pages += 1
        }
        collected += page.entries.map(\.key.string)
        #expect(collected == (1010..<1150).map { "k\($0)" })
        #expect(pages == 20, "140 keys in pages of 7: the 20th says no more")
        #expect(map.range(range, limit: 140).more == false)
        #expect(map.range(range, limit: 139).more == true)
        #expect(map.range(range, limit: 0) == RangePage(entries: [], more: true))
        #expect(map.range(KeyRange(from: "k1150", to: "k1150")).entries.isEmpty)
        #expect(map.range(KeyRange(from: "z")) == RangePage(entries: [], more: false))
        #expect(map.range(KeyRange(lower: .after("k1199"))).entries.isEmpty)
        #expect(map.range(KeyRange(lower: .after("k10"), upper: "k1002")).entries.map(\.key.string) == ["k1000", "k1001"])
        #expect(map.count(in: range) == 140)
        #expect(map.count(in: KeyRange(lower: .after("k1010"), upper: "k1011")) == 0)
        #expect(map.count(in: KeyRange(from: "k1100", to: "k1000")) == 0, "a range upside down is empty")
    }

    @Test func writesReturnWhatTheyReplacedOrRemoved() {
        var map = OrderedKeyMap()
        #expect(map.updateValue(Self.record("1", 1), forKey: "a") == nil)
        #expect(map.updateValue(Self.record("2", 2, lease: 9), forKey: "a") == Self.record("1", 1))
        #expect(map["a"] == Self.record("2", 2, lease: 9))
        #expect(map.removeValue(forKey: "b") == nil)
        #expect(map.removeValue(forKey: "a") == Self.record("2", 2, lease: 9))
        #expect(map.isEmpty && map.count == 0 && map.height == 0)
        #expect(map.removeValue(forKey: "a") == nil)
    }
}
