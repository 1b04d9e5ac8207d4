#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KVClient
import KVWire
import Synchronization

/// One request of the load.
enum BenchRequest {
    case put(key: String, value: String)
    case get(key: String, linearizable: Bool)
    case delete(key: String)
    case cas(key: String, expect: String?, value: String)
    /// Up to `limit` keys from `from` on.
    case range(from: String, limit: Int, linearizable: Bool)
    /// Increments a counter if it was not written since it was read: `if counter modrev R then
    /// put counter value else get counter` (with revisions, so a refusal tells the new R).
    case increment(counter: String, expectRevision: Int64, value: Int)

    var key: String {
        switch self {
        case .put(let key, _), .get(let key, _), .delete(let key), .cas(let key, _, _): return key
        case .range(let from, _, _): return from
        case .increment(let counter, _, _): return counter
        }
    }

    var isWrite: Bool {
        switch self {
        case .put, .delete, .cas, .increment: return true
        case .get, .range: return false
        }
    }

    /// The request as the line protocol writes it.
    var line: String { line(session: nil) }

    /// The request as the line protocol writes it, with `client` and `seq` when a session is given.
    func line(session: ClientSession?) -> String {
        switch self {
        case .put(let key, let value):
            if let session { return RequestEncoder.line(ClientRequest(.put(key: key, value: value, lease: nil), session: session)) }
            return RequestEncoder.line(.put(key: key, value: value))
        case .get(let key, let linearizable): return RequestEncoder.line(.get(key: key, consistency: linearizable ? .linearizable : .eventual))
        case .delete(let key): return RequestEncoder.line(ClientRequest(.delete(key: key), session: session))
        case .cas(let key, let expect, let value): return RequestEncoder.line(ClientRequest(.cas(key: key, expect: expect, value: value), session: session))
        case .range(let from, let limit, let linearizable):
            return RequestEncoder.line(ClientRequest(.range(RangeQuery(from: from, limit: limit, consistency: linearizable ? .linearizable : .eventual))))
        case .increment(let counter, let revision, let value):
            let transaction = Transaction(compare: [.modRevision(key: counter, equals: revision)],
                                          success: [.put(key: counter, value: String(value), lease: nil)],
                                          failure: [.get(key: counter)])
            return RequestEncoder.line(ClientRequest(.txn(transaction), revisions: true, session: session))
        }
    }
}

/// A connection the load runs over: requests go out in order, answers (the line protocol's
/// answer line) come back in the same order.
protocol BenchConnection: AnyObject {
    /// Sends `request`, numbered with `session` when it is given (writes only).
    func send(_ request: BenchRequest, session: ClientSession?) throws
    /// The next answer line; nil when the server closed the connection.
    func receive() throws -> String?
}

/// The JSON-lines protocol.
final class LineBenchConnection: BenchConnection {
    let connection: ClientConnection

    init(host: String, port: Int) throws {
        connection = try ClientConnection(host: host, port: port)
    }

    func send(_ request: BenchRequest, session: ClientSession?) throws { try connection.send(request.line(session: session)) }
    func receive() throws -> String? { try connection.receiveLine() }
}

/// HTTP/1.1 with keep-alive: GET/PUT/DELETE /v1/kv/KEY, CAS through POST /v1/request.
///
/// @unchecked Sendable: handed to one thread, used only there.
final class HTTPBenchConnection: BenchConnection, @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The connection (the same connect as the line protocol); HTTP is spoken on its socket.
    private let connection: ClientConnection
    private var fd: Int32 { connection.socketDescriptor }
    private var buffer: [UInt8] = []
    private var start = 0
    private let host: String

    init(host: String, port: Int) throws {
        self.host = host
        connection = try ClientConnection(host: host, port: port)
    }

    static func encodePath(_ key: String) -> String {
        var path = ""
        for byte in key.utf8 {
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if unreserved {
                path.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                path += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return path
    }

    func send(_ request: BenchRequest, session: ClientSession?) throws {
        var text: String
        switch request {
        case .put(let key, let value) where session == nil:
            text = "PUT /v1/kv/\(Self.encodePath(key)) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: \(value.utf8.count)\r\n\r\n\(value)"
        case .delete(let key) where session == nil:
            text = "DELETE /v1/kv/\(Self.encodePath(key)) HTTP/1.1\r\nHost: \(host)\r\n\r\n"
        case .get(let key, let linearizable):
            text = "GET /v1/kv/\(Self.encodePath(key))\(linearizable ? "?consistency=linearizable" : "") HTTP/1.1\r\nHost: \(host)\r\n\r\n"
        case .put, .delete, .cas, .range, .increment:
            // A session, a cas, a range or a txn: the request object itself, as the line protocol has it.
            let body = request.line(session: session)
            text = "POST /v1/request HTTP/1.1\r\nHost: \(host)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        var bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "sending failed") }
            sent += count
        }
    }

    func receive() throws -> String? {
        while true {
            if let answer = takeResponse() { return answer }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// One complete response from the buffer, as its body's first line, if there is one.
    private func takeResponse() -> String? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        var headEnd = -1
        var index = start
        while index + 3 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                headEnd = index
                break
            }
            index += 1
        }
        guard headEnd >= 0 else { return nil }
        // Header lines by bytes: "\r\n" is one Character to Swift, so a String scan for "\r" misses it.
        var length = 0
        for line in buffer[start..<headEnd].split(separator: 13) {
            let text = String(decoding: line.filter { $0 != 10 }, as: UTF8.self).lowercased()
            if text.hasPrefix("content-length:") {
                length = Int(text.dropFirst("content-length:".count).filter { $0 != " " }) ?? 0
            }
        }
        let bodyStart = headEnd + 4
        guard buffer.count - bodyStart >= length else { return nil }
        let body = String(decoding: buffer[bodyStart..<(bodyStart + length)], as: UTF8.self)
        start = bodyStart + length
        if start > 1 << 16 || start == buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return body.hasSuffix("\n") ? String(body.dropLast()) : body
    }
}

/// Browsers watching: readers of the server-sent events, reading and throwing away.
final class SSEReaders: Sendable {
    private let stopped = Atomic<Bool>(false)

    init(count: Int, host: String, port: Int) throws {
        for _ in 0..<count {
            let connection = try HTTPBenchConnection(host: host, port: port)
            Thread { [self] in connection.drainEvents { self.stopped.load(ordering: .relaxed) } }.start()
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}

extension HTTPBenchConnection {
    /// Asks for /v1/events and reads until `stop` is set or the server closes.
    func drainEvents(until stop: () -> Bool) {
        var request = Array("GET /v1/events HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)
        let fd = connection.socketDescriptor
        _ = request.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !stop() {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return }
        }
    }
}
