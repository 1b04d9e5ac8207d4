import KVWire

/// The fast path for decoding: the commands of the hot path (put, delete, read, with or without
/// a lease and a session) have a fixed shape, so a direct scan avoids building a JSON tree for
/// every entry on every node. Anything else falls back to the general parser.
extension KVCommand {
    public static func decodeFast(_ text: String) throws -> KVCommand {
        var utf8 = text
        let fast = utf8.withUTF8 { bytes -> KVCommand? in
            var scanner = FixedShapeScanner(bytes: bytes)
            return scanner.command()
        }
        if let fast { return fast }
        return try decode(text)
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

    /// A non-negative integer of at most 18 digits.
    mutating func number() -> Int64? {
        var value: Int64 = 0
        var digits = 0
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9"), digits < 18 {
            value = value * 10 + Int64(bytes[position] - UInt8(ascii: "0"))
            position += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    mutating func command() -> KVCommand? {
        guard expect("{\"op\":"), let op = plainString(), expect(",\"key\":"), let key = plainString() else { return nil }
        var command: KVCommand
        switch op {
        case "put":
            guard expect(",\"value\":"), let value = plainString() else { return nil }
            var lease: Int64?
            if expect(",\"lease\":") {
                guard let number = number() else { return nil }
                lease = number
            }
            command = KVCommand(.put(key: key, value: value, lease: lease))
        case "delete":
            command = KVCommand(.delete(key: key))
        case "read":
            command = KVCommand(.read(key: key))
        default:
            return nil  // cas carries a nullable field, txn a tree: the general parser handles them
        }
        if expect(",\"client\":") {
            guard let client = plainString(), !client.isEmpty, expect(",\"seq\":"), let seq = number(), seq >= 1 else { return nil }
            command.session = ClientSession(client: client, seq: seq)
            if expect(",\"t\":") {
                guard let time = number(), expect(",\"st\":"), let timeout = number() else { return nil }
                command.time = time
                command.sessionTimeoutSeconds = timeout
            }
        }
        guard expect("}"), position == bytes.count else { return nil }
        return command
    }
}
