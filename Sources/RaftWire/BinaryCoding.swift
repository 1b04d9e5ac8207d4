/// Appends values to a byte buffer: unsigned LEB128 varints, length-prefixed byte strings.
struct BinaryWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(remaining & 0x7F) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// Non-negative integers (indexes, terms, ids, sizes); -1 (an absent id) is written as 0 and
    /// every other value shifted by one by `optional`.
    mutating func int(_ value: Int) {
        precondition(value >= 0, "negative values are not encoded")
        varint(UInt64(value))
    }

    mutating func optional(_ value: Int?) {
        varint(value.map { UInt64($0) + 1 } ?? 0)
    }

    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func data(_ value: [UInt8]) {
        int(value.count)
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { buffer in
            int(buffer.count)
            bytes.append(contentsOf: buffer)
        }
    }
}

/// Reads what `BinaryWriter` wrote; every read checks the bounds and throws on bad input, so a
/// peer that sends garbage gets a clear error, never a crash.
struct BinaryReader {
    let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], from start: Int = 0) {
        self.bytes = bytes
        self.position = start
    }

    var atEnd: Bool { position == bytes.count }

    mutating func byte() throws(WireError) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw .malformed("a number is too long") }
            result |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func int() throws(WireError) -> Int {
        let value = try varint()
        guard value <= UInt64(Int.max) else { throw .malformed("a number is out of range") }
        return Int(value)
    }

    mutating func optional() throws(WireError) -> Int? {
        let value = try varint()
        guard value <= UInt64(Int.max) else { throw .malformed("a number is out of range") }
        return value == 0 ? nil : Int(value - 1)
    }

    mutating func bool() throws(WireError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        default: throw .malformed("a flag is neither 0 nor 1")
        }
    }

    mutating func data() throws(WireError) -> [UInt8] {
        let count = try int()
        guard count <= bytes.count - position else { throw .truncated }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func string() throws(WireError) -> String {
        let raw = try data()
        guard let text = String(validating: raw, as: UTF8.self) else { throw .malformed("a string is not UTF-8") }
        return text
    }
}

/// Why bytes from a peer could not be read.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case truncated
    case malformed(String)
    case badMagic
    case unsupportedVersion(UInt8)
    case tooLarge(Int, limit: Int)
    case checksumMismatch

    public var description: String {
        switch self {
        case .truncated: return "a frame ended too early"
        case .malformed(let reason): return "a malformed frame: \(reason)"
        case .badMagic: return "not a RaftKV peer (bad frame header)"
        case .unsupportedVersion(let version): return "frame version \(version) is not supported (this build speaks 1)"
        case .tooLarge(let size, let limit): return "a frame of \(size) bytes exceeds the limit of \(limit)"
        case .checksumMismatch: return "a frame's checksum does not match its contents"
        }
    }
}
