#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking JSON-lines connection to the proxy: send a line, read a line.
///
/// @unchecked Sendable: it may be handed to another thread, but is used by one at a time.
public final class ClientConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let fd: Int32
    /// Received bytes; those before `start` were handed out already, and no newline lies
    /// between `start` and `scanned`.
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanned = 0
    private var chunk = [UInt8](repeating: 0, count: 1 << 18)

    /// Connects to `host:port`; the error says where it tried and why it failed.
    public init(host: String, port: Int) throws(Failure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &list)
        guard lookup == 0, let list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let info = cursor {
            let candidate = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
            if candidate >= 0 {
                if connect(candidate, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    var yes: Int32 = 1
                    setsockopt(candidate, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
                    fd = candidate
                    return
                }
                lastError = errno
                close(candidate)
            } else {
                lastError = errno
            }
            cursor = info.pointee.ai_next
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    deinit { close(fd) }

    /// The socket, for a caller that speaks another protocol over the same connection.
    public var socketDescriptor: Int32 { fd }

    public func send(_ line: String) throws(Failure) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "sending failed: \(String(cString: strerror(errno)))")
            }
            sent += count
        }
    }

    /// The next line from the server, or nil when it closed the connection.
    public func receiveLine() throws(Failure) -> String? {
        try withNextLine { String(decoding: $0, as: UTF8.self) }
    }

    /// Hands the next line's bytes (without the newline) to `body`, without copying them out of
    /// the receive buffer; nil when the server closed the connection. A line may be megabytes
    /// (a range page): the buffer is searched from where the last search stopped, never again
    /// from its start.
    public func withNextLine<T>(_ body: (UnsafeBufferPointer<UInt8>) throws(Failure) -> T) throws(Failure) -> T? {
        while true {
            if let newline = findNewline() {
                let lineStart = start
                start = newline + 1
                scanned = start
                let result = try buffer.withUnsafeBufferPointer { bytes throws(Failure) in
                    try body(UnsafeBufferPointer(rebasing: bytes[lineStart..<newline]))
                }
                if start == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                    scanned = 0
                }
                return result
            }
            // Keep what is unread at the front before reading more.
            if start > 0 && (start == buffer.count || start >= 1 << 16) {
                buffer.removeFirst(start)
                scanned -= start
                start = 0
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "receiving failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 {
                if start == buffer.count { return nil }
                let lineStart = start
                let end = buffer.count
                let result = try buffer.withUnsafeBufferPointer { bytes throws(Failure) in
                    try body(UnsafeBufferPointer(rebasing: bytes[lineStart..<end]))
                }
                buffer.removeAll(keepingCapacity: true)
                start = 0
                scanned = 0
                return result
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// The index of the first newline at or after `scanned`; moves `scanned` past what was searched.
    private func findNewline() -> Int? {
        let from = max(scanned, start)
        guard from < buffer.count else { return nil }
        let found: Int? = buffer.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress, let hit = memchr(base + from, 0x0A, bytes.count - from) else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        scanned = found ?? buffer.count
        return found
    }

    /// Sends `line` and waits for its response.
    public func request(_ line: String) throws(Failure) -> String? {
        try send(line)
        return try receiveLine()
    }
}
