/// Bytes for snapshots and results: unsigned LEB128 varints and length-prefixed byte strings.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(remaining & 0x7F) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    mutating func int(_ value: Int64) {
        precondition(value >= 0, "negative values are not encoded")
        varint(UInt64(value))
    }

    mutating func int(_ value: Int) { int(Int64(value)) }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { buffer in
            varint(UInt64(buffer.count))
            bytes.append(contentsOf: buffer)
        }
    }

    mutating func raw(_ value: UnsafeRawBufferPointer) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func optionalString(_ value: String?) {
        if let value {
            byte(1)
            string(value)
        } else {
            byte(0)
        }
    }
}

/// Reads what `ByteWriter` wrote; every read checks the bounds.
struct ByteReader {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(_ bytes: UnsafeRawBufferPointer, from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var atEnd: Bool { position == bytes.count }

    mutating func byte() throws(Failure) -> UInt8 {
        guard position < bytes.count else { throw Failure(description: "the data ends too early") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw Failure(description: "a number is too long") }
            value |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func int() throws(Failure) -> Int64 {
        let value = try varint()
        guard value <= UInt64(Int64.max) else { throw Failure(description: "a number is out of range") }
        return Int64(value)
    }

    mutating func count() throws(Failure) -> Int {
        let value = try int()
        guard value <= Int64(bytes.count - position) * 8 + 64 else { throw Failure(description: "a count is larger than the data") }
        return Int(value)
    }

    /// A length-prefixed run of bytes, borrowed from the buffer.
    mutating func slice() throws(Failure) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(bytes.count - position) else { throw Failure(description: "the data ends too early") }
        defer { position += Int(length) }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(length))])
    }

    mutating func string() throws(Failure) -> String {
        let raw = try slice()
        guard let text = String(validating: raw, as: UTF8.self) else { throw Failure(description: "a string is not UTF-8") }
        return text
    }

    mutating func optionalString() throws(Failure) -> String? {
        switch try byte() {
        case 0: return nil
        case 1: return try string()
        default: throw Failure(description: "a flag is neither 0 nor 1")
        }
    }
}
