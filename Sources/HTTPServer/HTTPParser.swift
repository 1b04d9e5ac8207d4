/// Splits a byte stream into HTTP/1.1 requests: a request line, header fields, then a body of
/// `Content-Length` bytes. Limits: the request line and fields together at most `headerLimit`
/// bytes (431 beyond), the body at most `bodyLimit` (413). Anything malformed is a 400. After an
/// error the stream cannot be trusted: the connection answers and closes.
public struct HTTPParser: Sendable {
    public enum Event: Sendable {
        case request(HTTPRequest)
        /// The stream is broken; answer with this status and close.
        case failure(status: Int, message: String)
    }

    public let headerLimit: Int
    public let bodyLimit: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// The head of a request whose body is still arriving.
    private var pending: HTTPRequest?
    private var bodyLength = 0
    private var failed = false

    public init(headerLimit: Int = 16 * 1024, bodyLimit: Int) {
        self.headerLimit = headerLimit
        self.bodyLimit = bodyLimit
    }

    /// True while part of a request has arrived but not all of it.
    public var hasPartialRequest: Bool { pending != nil || buffer.count > start }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        guard !failed else { return [] }
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while true {
            if var request = pending {
                guard buffer.count - start >= bodyLength else { break }
                request.body = Array(buffer[start..<(start + bodyLength)])
                start += bodyLength
                pending = nil
                events.append(.request(request))
                continue
            }
            guard let headEnd = findHeadEnd() else {
                if buffer.count - start > headerLimit {
                    return events + [fail(431, "the request line and header fields exceed \(headerLimit) bytes")]
                }
                break
            }
            if headEnd - start > headerLimit {
                return events + [fail(431, "the request line and header fields exceed \(headerLimit) bytes")]
            }
            let head = buffer[start..<headEnd]
            start = headEnd + 4
            switch parseHead(head) {
            case .failure(let failure):
                return events + [fail(failure.status, failure.message)]
            case .success(let (request, length)):
                if length > bodyLimit {
                    return events + [fail(413, "the body of \(length) bytes exceeds the limit of \(bodyLimit)")]
                }
                pending = request
                bodyLength = length
            }
        }
        if start > 0 && (start == buffer.count || start > 1 << 16) {
            buffer.removeFirst(start)
            start = 0
        }
        return events
    }

    private mutating func fail(_ status: Int, _ message: String) -> Event {
        failed = true
        buffer.removeAll()
        start = 0
        pending = nil
        return .failure(status: status, message: message)
    }

    /// The position of the first "\r\n\r\n" at or after `start`.
    private func findHeadEnd() -> Int? {
        guard buffer.count - start >= 4 else { return nil }
        var index = start
        let last = buffer.count - 4
        while index <= last {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }

    private struct HeadFailure: Error {
        var status: Int
        var message: String
    }

    private func parseHead(_ head: ArraySlice<UInt8>) -> Result<(HTTPRequest, Int), HeadFailure> {
        func failure(_ status: Int, _ message: String) -> Result<(HTTPRequest, Int), HeadFailure> {
            .failure(HeadFailure(status: status, message: message))
        }
        // Lines end with CRLF; the head holds no final CRLF.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            if head[index] == 13 && index + 1 < head.endIndex && head[index + 1] == 10 {
                lines.append(head[lineStart..<index])
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        lines.append(head[lineStart..<head.endIndex])
        let requestLine = lines[0]
        let spaces = requestLine.indices.filter { requestLine[$0] == UInt8(ascii: " ") }
        guard spaces.count == 2 else { return failure(400, "a request line must be METHOD /path HTTP/1.1") }
        let methodBytes = requestLine[requestLine.startIndex..<spaces[0]]
        let targetBytes = requestLine[(spaces[0] + 1)..<spaces[1]]
        let versionBytes = requestLine[(spaces[1] + 1)...]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return failure(400, "the method must be upper-case letters")
        }
        guard let first = targetBytes.first, first == UInt8(ascii: "/") || (targetBytes.count == 1 && first == UInt8(ascii: "*")),
              targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return failure(400, "the request target must be an absolute path")
        }
        let version: String
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            version = "HTTP/1.1"
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            version = "HTTP/1.0"
        } else {
            return failure(505, "only HTTP/1.1 and HTTP/1.0 are spoken here")
        }
        let question = targetBytes.firstIndex(of: UInt8(ascii: "?"))
        let path = String(decoding: targetBytes[targetBytes.startIndex..<(question ?? targetBytes.endIndex)], as: UTF8.self)
        let query = question.map { String(decoding: targetBytes[($0 + 1)...], as: UTF8.self) } ?? ""
        var headers: [(name: String, value: String)] = []
        var length = 0
        var sawLength: String?
        var host = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon != line.startIndex,
                  !line[line.startIndex..<colon].contains(where: { $0 == 0x20 || $0 == 0x09 }) else {
                return failure(400, "a header field must be Name: value")
            }
            guard let name = String(validating: line[line.startIndex..<colon], as: UTF8.self),
                  let rawValue = String(validating: line[(colon + 1)...], as: UTF8.self) else {
                return failure(400, "a header field is not valid UTF-8")
            }
            let value = rawValue[...].trimmingSpaces
            headers.append((name, value))
            switch name.lowercased() {
            case "content-length":
                guard let parsed = Int(value), parsed >= 0, sawLength == nil || sawLength == value else {
                    return failure(400, "Content-Length must be one non-negative number")
                }
                sawLength = value
                length = parsed
            case "transfer-encoding":
                return failure(501, "Transfer-Encoding is not supported; send Content-Length")
            case "host":
                host = true
            default:
                break
            }
        }
        if version == "HTTP/1.1" && !host { return failure(400, "an HTTP/1.1 request needs a Host header") }
        let request = HTTPRequest(method: String(decoding: methodBytes, as: UTF8.self), path: path, query: query,
                                  version: version, headers: headers)
        return .success((request, length))
    }
}

extension Substring {
    var trimmingSpaces: String {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
