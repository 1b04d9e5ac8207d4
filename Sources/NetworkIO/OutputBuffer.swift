#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes waiting to go out on a non-blocking socket, and the loop that sends as many as the
/// socket takes. Owned by one connection, on that connection's queue.
public struct OutputBuffer {
    private var bytes: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes not yet sent.
    public var pending: Int { bytes.count - start }
    public var isEmpty: Bool { start >= bytes.count }

    public mutating func append(_ more: some Sequence<UInt8>) {
        bytes.append(contentsOf: more)
    }

    /// Bytes already in an array: one copy (the generic `append` goes byte by byte across modules).
    public mutating func append(_ more: [UInt8]) {
        bytes.append(contentsOf: more)
    }

    public mutating func append(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Calls `body` with the bytes not yet sent.
    public func withPending<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    /// Forgets every byte (they were handed on elsewhere).
    public mutating func discardAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 20)
        start = 0
    }

    /// How a send loop ended.
    public enum SendResult {
        /// Everything went out.
        case sent
        /// The socket's buffer is full: wait until it is writable.
        case wouldBlock
        /// The connection is broken.
        case failed
    }

    /// Sends until everything is out, the socket would block, or it fails.
    public mutating func send(to fd: Int32) -> SendResult {
        while start < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress! + start, buffer.count - start, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                start += count
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return .wouldBlock
            } else {
                return .failed
            }
        }
        // Keep a moderate buffer for the next answers; give back a large one.
        bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 20)
        start = 0
        return .sent
    }
}
