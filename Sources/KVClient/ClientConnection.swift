#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import NetworkIO
import SecureChannel
import Synchronization

/// A blocking JSON-lines connection to the proxy: send a line, read a line — over TLS when the
/// server speaks it (`Security.caFile`), with the client's token added to every request.
///
/// @unchecked Sendable: it may be handed to another thread, but is used by one at a time.
public final class ClientConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// How every connection of this process talks to the server: TLS checked against `caFile`
    /// (nil: plain TCP), and the token put on every request (nil: none).
    public struct Security: Sendable {
        public var caFile: String?
        public var token: String?

        public init(caFile: String? = nil, token: String? = nil) {
            self.caFile = caFile
            self.token = token
        }
    }

    /// Set once by the program (ClientMain's and KVBench's `--tls-ca`, `--token`) before it connects.
    public static let defaults = Mutex(Security())

    private let fd: Int32
    private let tls: TLSSession?
    /// `,"token":"…"}` to end every request object with (nil: no token).
    private let tokenSuffix: [UInt8]?
    private var wire = OutputBuffer()
    private var plaintext: [UInt8] = []
    /// Received bytes; those before `start` were handed out already, and no newline lies
    /// between `start` and `scanned`.
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanned = 0
    private var chunk = [UInt8](repeating: 0, count: 1 << 18)

    /// Connects to `host:port`; the error says where it tried and why it failed.
    public convenience init(host: String, port: Int) throws(Failure) {
        try self.init(host: host, port: port, security: Self.defaults.withLock { $0 })
    }

    public init(host: String, port: Int, security: Security) throws(Failure) {
        if let token = security.token {
            var suffix = ",\"token\":"
            JSONWriter.appendQuoted(token, to: &suffix)
            tokenSuffix = Array((suffix + "}").utf8)
        } else {
            tokenSuffix = nil
        }
        if let caFile = security.caFile {
            do {
                let context = try TLSContext(role: .client, certificateFile: nil, privateKeyFile: nil, trustedCAFile: caFile,
                                             verifyHostname: true)
                tls = try TLSSession(context: context, serverName: host)
            } catch {
                throw Failure(description: "TLS: \(error)")
            }
        } else {
            tls = nil
        }
        fd = try Self.open(host: host, port: port)
        if let tls {
            tls.drain(into: &wire)  // the ClientHello
            try flushWire()
        }
    }

    private static func open(host: String, port: Int) throws(Failure) -> Int32 {
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
                    return candidate
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

    /// Sends one request line, or several joined by newlines (each gets the token).
    public func send(_ line: String) throws(Failure) {
        guard let tokenSuffix else {
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            return try sendRaw(bytes)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(line.utf8.count + tokenSuffix.count + 1)
        for request in line.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            bytes.append(contentsOf: request)
            if request.last == UInt8(ascii: "}"), request.first == UInt8(ascii: "{") {
                bytes.removeLast()
                if request.count > 1 { bytes.append(contentsOf: tokenSuffix) } else { bytes.append(contentsOf: tokenSuffix.dropFirst()) }
            }
            bytes.append(0x0A)
        }
        try sendRaw(bytes)
    }

    /// Bytes as they are (through TLS when the connection has it).
    public func sendRaw(_ bytes: [UInt8]) throws(Failure) {
        guard let tls else {
            wire.append(bytes)
            return try flushWire()
        }
        let sent: TLSError? = bytes.withUnsafeBytes { buffer in
            do throws(TLSError) { try tls.send(buffer); return nil } catch { return error }
        }
        if let sent { throw Failure(description: "TLS: \(sent.message)") }
        tls.drain(into: &wire)
        try flushWire()
    }

    private func flushWire() throws(Failure) {
        while !wire.isEmpty {
            switch wire.send(to: fd) {
            case .sent: return
            case .wouldBlock: continue
            case .failed: throw Failure(description: "sending failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Reads what the socket has (decrypted when over TLS) into the buffer; 0: the server closed.
    private func readMore() throws(Failure) -> Int {
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "receiving failed: \(String(cString: strerror(errno)))")
            }
            guard let tls, count > 0 else {
                if count > 0 { buffer.append(contentsOf: chunk[0..<count]) }
                return count
            }
            plaintext.removeAll(keepingCapacity: true)
            var received = plaintext
            let failed: TLSError? = chunk.withUnsafeBytes { raw in
                do throws(TLSError) {
                    try tls.receive(UnsafeRawBufferPointer(rebasing: raw[0..<count]), appendingPlaintextTo: &received)
                    return nil
                } catch {
                    return error
                }
            }
            plaintext = received
            if let failed { throw Failure(description: "TLS: \(failed.message)") }
            tls.drain(into: &wire)
            try flushWire()
            if tls.receivedCloseNotify && plaintext.isEmpty { return 0 }
            buffer.append(contentsOf: plaintext)
            if !plaintext.isEmpty { return plaintext.count }
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
            let count = try readMore()
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

    /// Whether a whole line is already received and waiting (then `receiveLine` does not block,
    /// though the socket may have nothing more to read).
    public var hasBufferedLine: Bool {
        let from = max(scanned, start)
        guard from < buffer.count else { return false }
        return buffer[from...].contains(0x0A)
    }

    /// Sends `line` and waits for its response.
    public func request(_ line: String) throws(Failure) -> String? {
        try send(line)
        return try receiveLine()
    }
}
