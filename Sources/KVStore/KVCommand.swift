import JSONText

/// A state-machine command as it travels in a Raft entry: compact JSON with a fixed member order,
/// e.g. `{"op":"put","key":"a","value":"b"}`, so the same command is the same text everywhere.
public enum KVCommand: Sendable, Equatable {
    case put(key: String, value: String)
    case delete(key: String)
    case cas(key: String, expect: String?, value: String)
    /// A read ordered through the log (a linearizable read that needs no special machinery).
    case read(key: String)

    public var key: String {
        switch self {
        case .put(let key, _), .delete(let key), .cas(let key, _, _), .read(let key): return key
        }
    }

    public var encoded: String {
        var object = JSONObjectWriter()
        switch self {
        case .put(let key, let value):
            object.member("op", string: "put")
            object.member("key", string: key)
            object.member("value", string: value)
        case .delete(let key):
            object.member("op", string: "delete")
            object.member("key", string: key)
        case .cas(let key, let expect, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expect", string: expect)
            object.member("value", string: value)
        case .read(let key):
            object.member("op", string: "read")
            object.member("key", string: key)
        }
        return object.finished()
    }

    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func decode(_ text: String) throws -> KVCommand {
        guard case .object(let object) = try JSONParser.parse(text) else {
            throw DecodingError(description: "command is not a JSON object")
        }
        guard let op = object["op"]?.stringValue, let key = object["key"]?.stringValue else {
            throw DecodingError(description: "command lacks \"op\" or \"key\"")
        }
        switch op {
        case "put":
            guard let value = object["value"]?.stringValue else { throw DecodingError(description: "put lacks \"value\"") }
            return .put(key: key, value: value)
        case "delete":
            return .delete(key: key)
        case "cas":
            guard let value = object["value"]?.stringValue, let expect = object["expect"] else {
                throw DecodingError(description: "cas lacks \"value\" or \"expect\"")
            }
            return .cas(key: key, expect: expect.stringValue, value: value)
        case "read":
            return .read(key: key)
        default:
            throw DecodingError(description: "unknown op \(op)")
        }
    }
}

/// What applying a command did.
public enum KVResult: Sendable, Equatable {
    /// The key now holds `value` (nil: absent) — put, delete, successful cas, read.
    case value(String?)
    /// The cas did not apply; the key holds `current`.
    case casFailed(current: String?)
}

/// The fast path for decoding: commands written by `encoded` have a fixed shape
/// (`{"op":"put","key":"…","value":"…"}`), so a direct scan avoids building a JSON tree for every
/// entry on every node. Anything else falls back to the general parser.
extension KVCommand {
    public static func decodeFast(_ text: String) throws -> KVCommand {
        var utf8 = Array(text.utf8)
        return try utf8.withUnsafeMutableBufferPointer { bytes in
            var scanner = FixedShapeScanner(bytes: UnsafeBufferPointer(bytes))
            if let command = scanner.command() { return command }
            return try decode(text)
        }
    }
}

private struct FixedShapeScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func expect(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[position + offset] != pointer[offset] { return false }
        position += count
        return true
    }

    /// A JSON string without escapes (the common case); nil sends the caller to the slow path.
    mutating func plainString() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
        let start = position + 1
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    mutating func command() -> KVCommand? {
        guard expect("{\"op\":") , let op = plainString(), expect(",\"key\":"), let key = plainString() else { return nil }
        switch op {
        case "put":
            guard expect(",\"value\":"), let value = plainString(), expect("}"), position == bytes.count else { return nil }
            return .put(key: key, value: value)
        case "delete":
            guard expect("}"), position == bytes.count else { return nil }
            return .delete(key: key)
        case "read":
            guard expect("}"), position == bytes.count else { return nil }
            return .read(key: key)
        default:
            return nil  // cas carries a nullable field: the general parser handles it
        }
    }
}
