/// Reads Jepsen's EDN history maps, one per line:
/// `{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}` with `:get`, `:put`,
/// `:append`, `:delete` and `:cas` (`:value [from to]`) on keys — or, without `:key`, `:read`,
/// `:write` and `:cas` on one register. Other keys of the map (`:time`, `:index`, `:error`) are
/// read and ignored; a map whose `:process` is not a number (the nemesis) is not a client event.
enum EDNFormat {
    /// A parsed EDN value (only what history maps use).
    indirect enum Element: Equatable {
        case none
        case text(String)
        case number(String)
        case keyword(String)
        case symbol(String)
        case vector([Element])
        case map([(Element, Element)])

        static func == (a: Element, b: Element) -> Bool {
            switch (a, b) {
            case (.none, .none): return true
            case (.text(let x), .text(let y)), (.number(let x), .number(let y)), (.keyword(let x), .keyword(let y)),
                 (.symbol(let x), .symbol(let y)):
                return x == y
            case (.vector(let x), .vector(let y)): return x == y
            case (.map(let x), .map(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            default: return false
            }
        }
    }

    /// The event on one line, or nil when the line is not a client event.
    static func event(_ line: Substring, number: Int) throws -> ProcessPairing.Event? {
        if let result = try line.utf8.withContiguousStorageIfAvailable({ try event(EDNReader($0), number: number) }) {
            return result
        }
        return try Array(line.utf8).withUnsafeBufferPointer { try event(EDNReader($0), number: number) }
    }

    static func event(_ reader: EDNReader, number: Int) throws -> ProcessPairing.Event? {
        var reader = reader
        var process: Element?, type: Element?, function: Element?, key: Element?, value: Element = .none
        try reader.entries(line: number) { name, item in
            switch name {
            case "process": process = item
            case "type": type = item
            case "f": function = item
            case "key": key = item
            case "value": value = item
            default: break
            }
        }
        guard case .number(let processText)? = process, let process = Int(processText) else { return nil }
        guard case .keyword(let typeName)? = type, let type = ProcessPairing.EventType(rawValue: typeName) else {
            throw ProcessPairing.Failure(line: number, reason: "no :type :invoke, :ok, :fail or :info")
        }
        guard case .keyword(let functionName)? = function, let function = ProcessPairing.Function(rawValue: functionName) else {
            throw ProcessPairing.Failure(line: number, reason: "unknown :f (expected :get, :put, :append, :delete, :cas, :read or :write)")
        }
        let keyText: String
        switch key {
        case .text(let text)?, .number(let text)?, .keyword(let text)?, .symbol(let text)?: keyText = text
        case nil, .none?: keyText = JepsenLogFormat.registerKey
        default: throw ProcessPairing.Failure(line: number, reason: "a :key must be a string, number or keyword")
        }
        return ProcessPairing.Event(process: process, type: type, function: function, key: keyText, value: Self.value(value), line: number)
    }

    static func value(_ element: Element) -> ProcessPairing.Value {
        switch element {
        case .none: return .none
        case .text(let text), .number(let text), .symbol(let text): return .text(text)
        case .keyword(let word): return .keyword(word)
        case .vector(let items) where items.count == 2: return .pair(value(items[0]), value(items[1]))
        case .vector, .map: return .keyword("unsupported")
        }
    }
}

/// A reader of EDN elements from bytes.
struct EDNReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads a map whose keys are keywords, calling `body` with each keyword's name and value.
    mutating func entries(line: Int, _ body: (String, EDNFormat.Element) throws -> Void) throws {
        skipSpace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else {
            throw ProcessPairing.Failure(line: line, reason: "expected a map {…}")
        }
        position += 1
        while true {
            skipSpace()
            guard position < bytes.count else { throw ProcessPairing.Failure(line: line, reason: "unclosed {") }
            if bytes[position] == UInt8(ascii: "}") { return }
            let name = try element(line: line)
            skipSpace()
            guard position < bytes.count, bytes[position] != UInt8(ascii: "}") else {
                throw ProcessPairing.Failure(line: line, reason: "a map needs key value pairs")
            }
            let item = try element(line: line)
            if case .keyword(let word) = name { try body(word, item) }
        }
    }

    @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A || byte == 0x2C  // , counts as space in EDN
    }

    mutating func skipSpace() {
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
    }

    mutating func element(line: Int) throws -> EDNFormat.Element {
        skipSpace()
        guard position < bytes.count else { throw ProcessPairing.Failure(line: line, reason: "the map ends early") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            let items = try sequence(until: UInt8(ascii: "}"), line: line)
            guard items.count % 2 == 0 else { throw ProcessPairing.Failure(line: line, reason: "a map needs key value pairs") }
            return .map(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) })
        case UInt8(ascii: "["):
            position += 1
            return .vector(try sequence(until: UInt8(ascii: "]"), line: line))
        case UInt8(ascii: "\""):
            return .text(try string(line: line))
        case UInt8(ascii: ":"):
            position += 1
            return .keyword(word())
        default:
            let text = word()
            if text.isEmpty { throw ProcessPairing.Failure(line: line, reason: "unexpected character") }
            if text == "nil" { return .none }
            if let first = text.utf8.first, first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) { return .number(text) }
            return .symbol(text)
        }
    }

    mutating func sequence(until close: UInt8, line: Int) throws -> [EDNFormat.Element] {
        var items: [EDNFormat.Element] = []
        while true {
            skipSpace()
            guard position < bytes.count else { throw ProcessPairing.Failure(line: line, reason: "unclosed \(Character(Unicode.Scalar(close)))") }
            if bytes[position] == close {
                position += 1
                return items
            }
            items.append(try element(line: line))
        }
    }

    mutating func word() -> String {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if Self.isSpace(byte) || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { break }
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func string(line: Int) throws -> String {
        position += 1
        var result: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: result, as: UTF8.self) }
            if byte == UInt8(ascii: "\\"), position < bytes.count {
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "r"): result.append(0x0D)
                default: result.append(escaped)
                }
            } else {
                result.append(byte)
            }
        }
        throw ProcessPairing.Failure(line: line, reason: "unclosed string")
    }
}
