#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVWire
import KVClient

/// `getall`: every key, page after page, continued with `after` = the last key of the page before.
extension Repl {
    /// Keys per request when streaming: the most one range answers.
    static let streamPageSize = RangeQuery.maxLimit

    static func pageQuery(_ query: GetAllQuery, after: String?, limit: Int) -> ClientRequest {
        ClientRequest(.range(RangeQuery(prefix: query.prefix, after: after, limit: limit, keysOnly: query.keysOnly,
                                        consistency: query.consistency)))
    }

    /// Without a terminal: every key at once, one JSON object per line (`{"key":K,"value":V}`),
    /// written in large chunks straight from the answers' bytes. The next page is asked for
    /// before this one is converted (its last key is read from the answer's end), so the server
    /// finds it while the client writes. False when the connection failed.
    func streamGetAll(_ query: GetAllQuery) -> Bool {
        fflush(nil)  // what print() buffered goes first
        var output: [UInt8] = []
        output.reserveCapacity(1 << 22)
        var total = 0
        do {
            try connection.send(RequestEncoder.line(Self.pageQuery(query, after: nil, limit: Self.streamPageSize)))
            while true {
                var failure: String?
                var askedAhead = false
                let received = try connection.withNextLine { bytes throws(ClientConnection.Failure) -> RangeLines.Page? in
                    // Ask for the next page before writing this one out: the server finds it meanwhile.
                    if let next = RangeLines.continuation(of: bytes), next.more, let last = next.lastKey {
                        try connection.send(RequestEncoder.line(Self.pageQuery(query, after: last, limit: Self.streamPageSize)))
                        askedAhead = true
                    }
                    guard let page = RangeLines.convert(bytes, keysOnly: query.keysOnly, into: &output) else {
                        failure = String(decoding: bytes, as: UTF8.self)
                        return nil
                    }
                    return page
                }
                guard let received else {
                    flush(&output)
                    printError("the server closed the connection")
                    return false
                }
                guard let page = received else {
                    flush(&output)
                    printError("getall stopped after \(total) keys: \(failure ?? "")")
                    if askedAhead { _ = try connection.receiveLine() }  // the page asked for ahead
                    return true
                }
                total += page.count
                if page.more, !askedAhead, let last = page.lastKey {
                    try connection.send(RequestEncoder.line(Self.pageQuery(query, after: last, limit: Self.streamPageSize)))
                }
                if output.count >= 1 << 20 || !page.more { flush(&output) }
                if !page.more { return true }
            }
        } catch {
            flush(&output)
            printError("\(error)")
            return false
        }
    }

    /// Writes `output` to standard output and empties it.
    func flush(_ output: inout [UInt8]) {
        var offset = 0
        output.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
        output.removeAll(keepingCapacity: true)
    }

    /// On a terminal: a table a screenful at a time, then `--more--`: Enter or space shows the
    /// next page, q (or Ctrl-C) stops. False when the connection failed.
    func pagedGetAll(_ query: GetAllQuery) -> Bool {
        let pageSize = max(5, Terminal.rows - 4)
        var after: String?
        var total = 0
        while true {
            guard let response = exchange(RequestEncoder.line(Self.pageQuery(query, after: after, limit: pageSize))) else { return false }
            guard let object = try? JSONParser.parse(response).objectValue, object["status"] == .string("ok") else {
                print(response)
                return true
            }
            let items = object["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
            total += items.count
            let rangeQuery = RangeQuery(prefix: query.prefix, limit: pageSize, keysOnly: query.keysOnly, consistency: query.consistency)
            let more = object["more"]?.boolValue == true
            let summary = "\(total) key\(total == 1 ? "" : "s") \(more ? "so far" : "in all"), store revision \(Renderers.int(object["revision"]))"
            let text = Renderers.rangeTable(object, query: rangeQuery, continuation: false, summary: summary)
            print(text)
            guard more, let last = items.last?["key"]?.stringValue else { return true }
            after = last
            fflush(nil)
            let saved = Terminal.enterRawMode()
            Terminal.write("--more-- (Enter or space: next page, q: stop)")
            let key = Terminal.readByte()
            Terminal.write("\r\u{1B}[K")
            Terminal.restore(saved)
            if key == nil || key == UInt8(ascii: "q") || key == UInt8(ascii: "Q") || key == 3 || key == 4 { return true }
        }
    }
}
