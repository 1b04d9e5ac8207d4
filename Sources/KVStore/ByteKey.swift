import Glibc

/// A key as its bytes (a `String` key's UTF-8), ordered and compared byte by byte: two strings that
/// Swift calls equal ("é" and "e\u{301}") are two keys here, and "Z" sorts before "a" before "é".
///
/// The first 15 bytes live inline in two big-endian words, so most comparisons are two integer
/// comparisons and a key of at most 15 bytes allocates nothing; a longer key keeps the rest in `tail`.
/// The low byte of `body` is the length (16 meaning "longer"), which breaks ties the way byte order
/// does: a key sorts before every longer key it is a prefix of.
public struct ByteKey: Sendable {
    /// Bytes 0..<8, the first byte most significant, zero-padded.
    let head: UInt64
    /// Bytes 8..<15 in the top seven bytes, zero-padded; the low byte is min(count, 16).
    let body: UInt64
    /// Bytes from 15 on: empty unless the key is longer than 15 bytes.
    let tail: [UInt8]

    static let inlineCapacity = 15
    static let longMarker: UInt64 = 16

    /// The key that is `string`'s UTF-8 bytes.
    public init(_ string: String) {
        self = KeyProbe.with(string) { ByteKey($0) }
    }

    /// The key with exactly these bytes (which need not be UTF-8: range bounds are not always).
    public init(bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        self = array.withUnsafeBytes { ByteKey(KeyProbe($0)) }
    }

    /// A stored copy of a probe (the probe's tail is copied out of its borrowed buffer).
    init(_ probe: KeyProbe) {
        head = probe.head
        body = probe.body
        tail = probe.tail.isEmpty ? [] : Array(probe.tail)
    }

    public var count: Int {
        let marker = Int(truncatingIfNeeded: body & 0xFF)
        return marker < Int(Self.longMarker) ? marker : Self.inlineCapacity + tail.count
    }

    public var isEmpty: Bool { body & 0xFF == 0 }

    /// Calls `body` with the key's bytes, without allocating for a key of at most 15 bytes.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var words = (head.bigEndian, self.body.bigEndian)
        let count = self.count
        if count <= Self.inlineCapacity {
            return try withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        withUnsafeBytes(of: &words) { bytes.append(contentsOf: $0[..<Self.inlineCapacity]) }
        bytes.append(contentsOf: tail)
        return try bytes.withUnsafeBytes(body)
    }

    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// The key as text. Exact for a key that came from a `String`; bytes that are not UTF-8
    /// (possible only in a key built from bytes) come back as U+FFFD.
    public var string: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    /// Lets a lookup compare against this key without copying it.
    func withProbe<R>(_ body: (KeyProbe) throws -> R) rethrows -> R {
        try tail.withUnsafeBytes { try body(KeyProbe(head: head, body: self.body, tail: $0)) }
    }

    /// The smallest key greater than every key that starts with `prefix`, or nil when there is none
    /// (the prefix is empty or all 0xFF bytes): the last byte that is not 0xFF, plus one, with the
    /// 0xFF bytes after it dropped.
    public static func prefixEnd(of prefix: ByteKey) -> ByteKey? {
        var bytes = prefix.bytes
        while let last = bytes.last {
            bytes.removeLast()
            if last != 0xFF {
                bytes.append(last + 1)
                return ByteKey(bytes: bytes)
            }
        }
        return nil
    }

    /// Whether `prefix`'s bytes start this key's bytes.
    public func hasPrefix(_ prefix: ByteKey) -> Bool {
        guard prefix.count <= count else { return false }
        return withBytes { mine in prefix.withBytes { theirs in
            theirs.isEmpty || memcmp(mine.baseAddress!, theirs.baseAddress!, theirs.count) == 0
        } }
    }

    /// memcmp then length: byte order for two byte strings.
    static func compareBytes(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Int {
        let common = min(left.count, right.count)
        if common > 0 {
            let order = memcmp(left.baseAddress!, right.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return left.count - right.count
    }
}

extension ByteKey: Comparable, Hashable, CustomStringConvertible {
    public static func == (left: ByteKey, right: ByteKey) -> Bool {
        left.head == right.head && left.body == right.body && left.tail == right.tail
    }

    public static func < (left: ByteKey, right: ByteKey) -> Bool {
        right.withProbe { $0.compare(to: left) } > 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(head)
        hasher.combine(body)
        hasher.combine(tail)
    }

    public var description: String { string.debugDescription }
}

extension ByteKey: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}

/// A key borrowed for one lookup: the inline words computed, the tail pointing into the caller's
/// bytes. Valid only inside the closure that made it; turns into a stored `ByteKey` with `ByteKey(_:)`.
struct KeyProbe {
    let head: UInt64
    let body: UInt64
    let tail: UnsafeRawBufferPointer

    init(head: UInt64, body: UInt64, tail: UnsafeRawBufferPointer) {
        self.head = head
        self.body = body
        self.tail = tail
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var head: UInt64 = 0
        var body: UInt64 = 0
        if count >= 16 {
            head = UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
            body = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & ~0xFF
        } else {
            for index in 0..<min(count, 8) { head |= UInt64(bytes[index]) << (56 - 8 * index) }
            for index in min(count, 8)..<count { body |= UInt64(bytes[index]) << (120 - 8 * index) }
        }
        self.head = head
        self.body = body | UInt64(min(count, Int(ByteKey.longMarker)))
        tail = count > ByteKey.inlineCapacity ? UnsafeRawBufferPointer(rebasing: bytes[ByteKey.inlineCapacity...])
                                              : UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Calls `body` with a probe over `string`'s UTF-8, in place when the string is contiguous
    /// (native and small strings are).
    static func with<R>(_ string: String, _ body: (KeyProbe) throws -> R) rethrows -> R {
        if let result = try string.utf8.withContiguousStorageIfAvailable({ try body(KeyProbe(UnsafeRawBufferPointer($0))) }) {
            return result
        }
        return try Array(string.utf8).withUnsafeBytes { try body(KeyProbe($0)) }
    }

    /// Negative, zero or positive as this probe sorts before, equal to or after `key`.
    @inline(__always)
    func compare(to key: ByteKey) -> Int {
        if head != key.head { return head < key.head ? -1 : 1 }
        if body != key.body { return body < key.body ? -1 : 1 }
        if body & 0xFF < ByteKey.longMarker { return 0 }
        return key.tail.withUnsafeBytes { ByteKey.compareBytes(tail, $0) }
    }
}
