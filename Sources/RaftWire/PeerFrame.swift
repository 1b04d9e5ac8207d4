import Checksum

/// One frame between two member processes:
///
///     "RK" | version (1) | kind (1 byte) | payload length (4 bytes, big-endian) | CRC-32 of the payload (4 bytes) | payload
///
/// Kinds: `hello` (the sender's node id, first on every connection), `raft` (a batch of Raft
/// messages), `status` (the sender's node status, JSON), `admin` (a cluster-wide switch: one
/// request line), `propose` (client writes a follower passes to the leader, see
/// `ProposalCodec`), `outcome` (what became of them), `request` (a client request passed to the
/// member that can serve it) and `answer` (its answer line, see `ForwardCodec`). A frame with a wrong header, version or checksum, or longer than the limit,
/// ends the connection.
public struct PeerFrame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case hello = 1, raft = 2, status = 3, admin = 4, propose = 5, outcome = 6, request = 7, answer = 8
        /// Peer authentication: the acceptor's challenge, the dialer's proof, and every frame after
        /// them wrapped with its MAC.
        case challenge = 9, proof = 10, sealed = 11
    }

    public static let version: UInt8 = 1
    public static let headerBytes = 12

    public var kind: Kind
    public var payload: [UInt8]

    public init(kind: Kind, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [0x52, 0x4B, Self.version, kind.rawValue]
        bytes.reserveCapacity(Self.headerBytes + payload.count)
        let length = UInt32(payload.count)
        bytes.append(contentsOf: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        let crc = CRC32.checksum(payload)
        bytes.append(contentsOf: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// Splits a byte stream into frames, refusing anything that is not a valid frame.
public struct PeerFrameReader: Sendable {
    public let limit: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(limit: Int) {
        self.limit = limit
    }

    /// Adds received bytes and returns the complete frames; throws at the first bad one.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [PeerFrame] {
        buffer.append(contentsOf: bytes)
        var frames: [PeerFrame] = []
        // Refuse a stranger as soon as its first bytes show it, not once a whole header came.
        let available = buffer.count - start
        if available >= 1 && buffer[start] != 0x52 { throw .badMagic }
        if available >= 2 && buffer[start + 1] != 0x4B { throw .badMagic }
        if available >= 3 && buffer[start + 2] != PeerFrame.version { throw .unsupportedVersion(buffer[start + 2]) }
        while buffer.count - start >= PeerFrame.headerBytes {
            guard buffer[start] == 0x52, buffer[start + 1] == 0x4B else { throw .badMagic }
            guard buffer[start + 2] == PeerFrame.version else { throw .unsupportedVersion(buffer[start + 2]) }
            guard let kind = PeerFrame.Kind(rawValue: buffer[start + 3]) else { throw .malformed("unknown frame kind \(buffer[start + 3])") }
            let length = Int(buffer[start + 4]) << 24 | Int(buffer[start + 5]) << 16 | Int(buffer[start + 6]) << 8 | Int(buffer[start + 7])
            guard length <= limit else { throw .tooLarge(length, limit: limit) }
            let crc = UInt32(buffer[start + 8]) << 24 | UInt32(buffer[start + 9]) << 16 | UInt32(buffer[start + 10]) << 8 | UInt32(buffer[start + 11])
            guard buffer.count - start >= PeerFrame.headerBytes + length else { break }
            let payloadStart = start + PeerFrame.headerBytes
            let payload = Array(buffer[payloadStart..<(payloadStart + length)])
            guard CRC32.checksum(payload) == crc else { throw .checksumMismatch }
            frames.append(PeerFrame(kind: kind, payload: payload))
            start = payloadStart + length
        }
        if start > 0 && (start == buffer.count || start > 1 << 16) {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }
}

