import Foundation

/// One HTTP/1.1 exchange on a fresh blocking socket (`Connection: close`), enough to speak to
/// chromedriver and to the server's API from tests without any networking library.
enum BlockingHTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func exchange(method: String, host: String = "127.0.0.1", port: Int, path: String, body: Data? = nil,
                         contentType: String = "application/json", timeoutSeconds: Int = 60) throws -> (status: Int, body: Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to \(host):\(port)") }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        request += "\r\n"
        var bytes = Array(request.utf8)
        if let body { bytes.append(contentsOf: body) }
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "sending failed") }
            sent += count
        }
        // Read until the body is complete (some servers say "close" and keep the socket open).
        var received = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let headEnd = received.range(of: Data("\r\n\r\n".utf8)), let length = contentLength(received[..<headEnd.lowerBound]),
               received.count - headEnd.upperBound >= length {
                break
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received.append(contentsOf: chunk[0..<count])
        }
        guard let headEnd = received.range(of: Data("\r\n\r\n".utf8)) else { throw Failure(description: "no HTTP answer") }
        let head = String(decoding: received[..<headEnd.lowerBound], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var content = received[headEnd.upperBound...]
        if head.lowercased().contains("transfer-encoding: chunked") { content = dechunk(Data(content))[...] }
        return (status, Data(content))
    }

    static func contentLength(_ head: Data) -> Int? {
        for line in String(decoding: head, as: UTF8.self).split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 && parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    static func dechunk(_ data: Data) -> Data {
        var result = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            result.append(rest[start..<(start + size)])
            rest = rest[(start + size + 2)...]
        }
        return result
    }
}
