/// Just enough JSON for recorded histories (LinCheck depends on nothing): objects, arrays,
/// strings with escapes, integers, null and booleans; objects keep their members in order.
indirect enum MiniJSON: Equatable {
    case null
    case bool(Bool)
    case number(Int)
    case string(String)
    case array([MiniJSON])
    case object([(String, MiniJSON)])

    static func == (a: MiniJSON, b: MiniJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(_ name: String) -> MiniJSON? {
        if case .object(let members) = self { return members.first { $0.0 == name }?.1 }
        return nil
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var int: Int? {
        if case .number(let value) = self { return value }
        return nil
    }

    struct Failure: Error {
        var reason: String
    }

    static func parse(_ text: Substring) throws -> MiniJSON {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.position == parser.bytes.count else { throw Failure(reason: "text after the JSON value") }
        return value
    }

    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    struct Parser {
        let bytes: [UInt8]
        var position = 0

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func value() throws -> MiniJSON {
            skipSpace()
            guard position < bytes.count else { throw Failure(reason: "the line ends early") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try members()
            case UInt8(ascii: "["):
                position += 1
                var items: [MiniJSON] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard position < bytes.count else { throw Failure(reason: "unclosed [") }
                    position += 1
                    if bytes[position - 1] == UInt8(ascii: "]") { return .array(items) }
                    guard bytes[position - 1] == UInt8(ascii: ",") else { throw Failure(reason: "expected , or ]") }
                }
            case UInt8(ascii: "\""): return .string(try string())
            default: return try literal()
            }
        }

        mutating func members() throws -> MiniJSON {
            position += 1
            var result: [(String, MiniJSON)] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(result) }
            while true {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw Failure(reason: "expected a member name") }
                let name = try string()
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw Failure(reason: "expected :") }
                position += 1
                result.append((name, try value()))
                skipSpace()
                guard position < bytes.count else { throw Failure(reason: "unclosed {") }
                position += 1
                if bytes[position - 1] == UInt8(ascii: "}") { return .object(result) }
                guard bytes[position - 1] == UInt8(ascii: ",") else { throw Failure(reason: "expected , or }") }
            }
        }

        mutating func literal() throws -> MiniJSON {
            let start = position
            while position < bytes.count, !([0x20, 0x09, 0x0A, 0x0D] + Array(",]}".utf8)).contains(bytes[position]) { position += 1 }
            let word = String(decoding: bytes[start..<position], as: UTF8.self)
            switch word {
            case "null": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default:
                guard let number = Int(word) else { throw Failure(reason: "not a JSON value: \(word)") }
                return .number(number)
            }
        }

        mutating func string() throws -> String {
            position += 1
            var result: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: result, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\") else { result.append(byte); continue }
                guard position < bytes.count else { break }
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "u"):
                    guard position + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
                    else { throw Failure(reason: "bad \\u escape") }
                    position += 4
                    result += Array(String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8)
                default: result.append(escaped)
                }
            }
            throw Failure(reason: "unclosed string")
        }
    }
}
