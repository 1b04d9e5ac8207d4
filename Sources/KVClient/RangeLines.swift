import JSONText

/// Turns a range answer into JSON lines, one `{"key":K,"value":V}` per item, straight from the
/// answer's bytes: the key and value are copied as the server quoted them (already valid JSON),
/// with no JSON tree and no String per item. This is what lets `getall` print a million keys a
/// second without becoming the bottleneck.
public enum RangeLines {
    /// What a page held.
    public struct Page: Equatable, Sendable {
        /// Items written.
        public var count: Int
        /// The limit cut the answer: continue after `lastKey`.
        public var more: Bool
        /// The last item's key, decoded (nil when the page was empty).
        public var lastKey: String?

        public init(count: Int, more: Bool, lastKey: String?) {
            self.count = count
            self.more = more
            self.lastKey = lastKey
        }
    }

    private static let okPrefix = Array(#"{"status":"ok","items":["#.utf8)
    private static let keyOpen = Array(#"{"key":"#.utf8)
    private static let valueMember = Array(#","value":"#.utf8)

    /// Appends one line per item of `answer` (a range answer line) to `output`; nil when the line
    /// is not a successful range answer (an error: show it as it is).
    public static func convert(_ answer: UnsafeBufferPointer<UInt8>, keysOnly: Bool, into output: inout [UInt8]) -> Page? {
        guard answer.count >= okPrefix.count, okPrefix.indices.allSatisfy({ answer[$0] == okPrefix[$0] }) else { return nil }
        var scanner = Scanner(bytes: answer, position: okPrefix.count)
        var page = Page(count: 0, more: false, lastKey: nil)
        var lastKey: Range<Int>?
        scanner.skipSpace()
        if scanner.peek == UInt8(ascii: "]") {
            scanner.position += 1
        } else {
            while true {
                guard scanner.expect(UInt8(ascii: "{")) else { return nil }
                var key: Range<Int>?
                var value: Range<Int>?
                scanner.skipSpace()
                if scanner.peek != UInt8(ascii: "}") {
                    while true {
                        scanner.skipSpace()
                        guard let name = scanner.string() else { return nil }
                        guard scanner.expect(UInt8(ascii: ":")) else { return nil }
                        scanner.skipSpace()
                        guard let span = scanner.value() else { return nil }
                        if scanner.equals(name, "key") { key = span } else if scanner.equals(name, "value") { value = span }
                        scanner.skipSpace()
                        if scanner.peek == UInt8(ascii: ",") { scanner.position += 1; continue }
                        break
                    }
                }
                guard scanner.expect(UInt8(ascii: "}")), let key else { return nil }
                output.append(contentsOf: keyOpen)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: answer[key]))
                if !keysOnly, let value {
                    output.append(contentsOf: valueMember)
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: answer[value]))
                }
                output.append(UInt8(ascii: "}"))
                output.append(0x0A)
                page.count += 1
                lastKey = key
                scanner.skipSpace()
                if scanner.peek == UInt8(ascii: ",") { scanner.position += 1; scanner.skipSpace(); continue }
                guard scanner.expect(UInt8(ascii: "]")) else { return nil }
                break
            }
        }
        // The members after the items: `"more":true` is the one that matters.
        while scanner.expect(UInt8(ascii: ",")) {
            scanner.skipSpace()
            guard let name = scanner.string(), scanner.expect(UInt8(ascii: ":")) else { return nil }
            scanner.skipSpace()
            guard let span = scanner.value() else { return nil }
            if scanner.equals(name, "more") { page.more = answer[span.lowerBound] == UInt8(ascii: "t") }
        }
        if let lastKey {
            guard case .string(let text)? = try? JSONParser.parse(Array(UnsafeBufferPointer(rebasing: answer[lastKey]))) else { return nil }
            page.lastKey = text
        }
        return page
    }

    /// Where a range answer continues, read from its end without reading its items: whether
    /// `"more":true` follows the items, and the last item's key (the one that starts the last
    /// `{"key":`: an unescaped quote never stands inside a JSON string, so that is structure).
    /// Nil when the answer does not end as the server writes it; `convert` tells then.
    public static func continuation(of answer: UnsafeBufferPointer<UInt8>) -> (more: Bool, lastKey: String?)? {
        guard answer.count >= okPrefix.count, okPrefix.indices.allSatisfy({ answer[$0] == okPrefix[$0] }) else { return nil }
        let moreTrue = Array(#"],"more":true,"#.utf8), moreFalse = Array(#"],"more":false,"#.utf8)
        guard let tail = lastIndex(of: moreTrue, in: answer, from: answer.count) ?? lastIndex(of: moreFalse, in: answer, from: answer.count)
        else { return nil }
        let more = answer[tail + 9] == UInt8(ascii: "t")  // just past `],"more":`
        guard tail > okPrefix.count else { return (more, nil) }
        guard let open = lastIndex(of: keyOpen, in: answer, from: tail) else { return nil }
        var scanner = Scanner(bytes: answer, position: open + keyOpen.count)
        guard let span = scanner.string(),
              case .string(let key)? = try? JSONParser.parse(Array(UnsafeBufferPointer(rebasing: answer[span]))) else { return nil }
        return (more, key)
    }

    /// The start of the last `marker` that ends at or before `end`.
    private static func lastIndex(of marker: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from end: Int) -> Int? {
        var start = end - marker.count
        while start >= 0 {
            if bytes[start] == marker[0] {
                var matched = 1
                while matched < marker.count && bytes[start + matched] == marker[matched] { matched += 1 }
                if matched == marker.count { return start }
            }
            start -= 1
        }
        return nil
    }

    /// A cursor over JSON bytes that knows just enough: strings (with escapes), scalars, and
    /// nested values to skip.
    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var position: Int

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09 {
                position += 1
            }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard peek == byte else { return false }
            position += 1
            return true
        }

        /// A string's span including its quotes.
        mutating func string() -> Range<Int>? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            let start = position
            position += 1
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\\") {
                    position += 2
                } else if byte == UInt8(ascii: "\"") {
                    position += 1
                    return start..<position
                } else {
                    position += 1
                }
            }
            return nil
        }

        /// Any value's span: a string, a scalar, or an object or array (nested).
        mutating func value() -> Range<Int>? {
            guard let first = peek else { return nil }
            if first == UInt8(ascii: "\"") { return string() }
            let start = position
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                var depth = 0
                while position < bytes.count {
                    let byte = bytes[position]
                    if byte == UInt8(ascii: "\"") {
                        guard string() != nil else { return nil }
                        continue
                    }
                    if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                    if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 {
                            position += 1
                            return start..<position
                        }
                    }
                    position += 1
                }
                return nil
            }
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == 0x20 { break }
                position += 1
            }
            return position > start ? start..<position : nil
        }

        /// The quoted name at `span` is `name`.
        func equals(_ span: Range<Int>, _ name: StaticString) -> Bool {
            guard span.count == name.utf8CodeUnitCount + 2 else { return false }
            return name.withUTF8Buffer { expected in
                for offset in 0..<expected.count where bytes[span.lowerBound + 1 + offset] != expected[offset] { return false }
                return true
            }
        }
    }
}
