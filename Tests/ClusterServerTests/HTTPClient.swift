#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A bare HTTP/1.1 client over a socket, so tests see exactly what the server sends: status
/// lines, fields, bodies, pipelined answers, event streams.
final class HTTPTestClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let code = errno
        try #require(result == 0, "cannot connect to the HTTP port \(port): errno \(code)")
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func sendRaw(_ text: String) {
        sendRaw(Array(text.utf8))
    }

    func sendRaw(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Sends one request and reads its response.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) -> Response? {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        sendRaw(text)
        return readResponse()
    }

    /// Reads one response (Content-Length framed); nil when the server closed first.
    func readResponse() -> Response? {
        guard let head = readUntil(Array("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: head, as: UTF8.self).components("\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: " ") : ""
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard let body = readCount(length) else { return nil }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// Reads an event stream until `condition` holds for the text received so far (or the
    /// socket times out); returns that text.
    func readStream(until condition: (String) -> Bool) -> String {
        var text = String(decoding: buffer, as: UTF8.self)
        buffer.removeAll()
        while !condition(text) {
            guard let chunk = receive() else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    /// True when the server has closed the connection (reads end).
    func isClosedByServer() -> Bool {
        receive() == nil
    }

    private func receive() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(chunk[0..<count]) : nil
    }

    private func readUntil(_ marker: [UInt8]) -> [UInt8]? {
        while true {
            if let range = find(marker) {
                let head = Array(buffer[..<range])
                buffer.removeFirst(range + marker.count)
                return head
            }
            guard let chunk = receive() else { return nil }
            buffer.append(contentsOf: chunk)
        }
    }

    private func readCount(_ count: Int) -> [UInt8]? {
        while buffer.count < count {
            guard let chunk = receive() else { return nil }
            buffer.append(contentsOf: chunk)
        }
        let body = Array(buffer[..<count])
        buffer.removeFirst(count)
        return body
    }

    private func find(_ marker: [UInt8]) -> Int? {
        guard buffer.count >= marker.count else { return nil }
        for start in 0...(buffer.count - marker.count) where buffer[start..<(start + marker.count)].elementsEqual(marker) {
            return start
        }
        return nil
    }
}

extension String {
    func components(_ separator: String) -> [String] {
        var result: [String] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }

    func trimmingCharacters(in characters: String) -> String {
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension Substring {
    func trimmingCharacters(in characters: String) -> String { String(self).trimmingCharacters(in: characters) }
}
