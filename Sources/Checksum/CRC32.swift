/// CRC-32 (IEEE 802.3, the zlib polynomial), used to tell a damaged log line from a good one.
public enum CRC32 {
    /// Slicing-by-8 tables: `tables[0]` is the classic byte table; `tables[k][i]` is the CRC of
    /// byte `i` followed by `k` zero bytes, so eight bytes are folded in per step.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (0xEDB8_8320 ^ (crc >> 1)) : (crc >> 1)
            }
            tables[index] = crc
        }
        for index in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ checksum(buffer: $0) }) { return result }
        return Array(bytes).withUnsafeBufferPointer { checksum(buffer: $0) }
    }

    /// Eight bytes per step (a 114 MB snapshot is checked at every start and write), then the
    /// rest byte by byte.
    public static func checksum(buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var running = Running()
        running.add(buffer)
        return running.value
    }

    /// A checksum computed piece by piece (a snapshot streamed to its file): adding the pieces in
    /// order gives the checksum of their concatenation.
    public struct Running: Sendable {
        var crc: UInt32 = 0xFFFF_FFFF

        public init() {}

        public mutating func add(_ buffer: UnsafeBufferPointer<UInt8>) {
            crc = CRC32.fold(crc, buffer)
        }

        public mutating func add(_ bytes: UnsafeRawBufferPointer) {
            add(UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        }

        public var value: UInt32 { crc ^ 0xFFFF_FFFF }
    }

    private static func fold(_ start: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = start
        tables.withUnsafeBufferPointer { table in
            var position = 0
            let count = buffer.count
            while count - position >= 8 {
                let low = (UInt32(buffer[position]) | UInt32(buffer[position + 1]) << 8
                    | UInt32(buffer[position + 2]) << 16 | UInt32(buffer[position + 3]) << 24) ^ crc
                let high = UInt32(buffer[position + 4]) | UInt32(buffer[position + 5]) << 8
                    | UInt32(buffer[position + 6]) << 16 | UInt32(buffer[position + 7]) << 24
                crc = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                position += 8
            }
            while position < count {
                crc = table[Int((crc ^ UInt32(buffer[position])) & 0xFF)] ^ (crc >> 8)
                position += 1
            }
        }
        return crc
    }

    /// Eight lower-case hex digits.
    public static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
