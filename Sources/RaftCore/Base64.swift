/// Base64 text for snapshot bytes inside Codable records (RFC 4648, with padding). The core
/// never reads snapshot bytes; this only lets a recording carry them as compact text.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var position = 0
        while position + 3 <= bytes.count {
            let chunk = UInt32(bytes[position]) << 16 | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(chunk >> UInt32(shift) & 63)]) }
            position += 3
        }
        let rest = bytes.count - position
        if rest > 0 {
            let chunk = UInt32(bytes[position]) << 16 | (rest == 2 ? UInt32(bytes[position + 1]) << 8 : 0)
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String, codingPath: [CodingKey]) throws -> [UInt8] {
        let characters = Array(text.utf8)
        guard characters.count % 4 == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "base64 text of \(characters.count) characters"))
        }
        var out: [UInt8] = []
        out.reserveCapacity(characters.count / 4 * 3)
        var position = 0
        while position < characters.count {
            var chunk: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let character = characters[position + offset]
                if character == UInt8(ascii: "="), position + 4 == characters.count, offset >= 2 {
                    padding += 1
                    chunk <<= 6
                    continue
                }
                let value = values[Int(character)]
                guard value != 0xFF, padding == 0 else {
                    throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "not base64 text"))
                }
                chunk = chunk << 6 | UInt32(value)
            }
            out.append(UInt8(chunk >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(chunk >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(chunk & 0xFF)) }
            position += 4
        }
        return out
    }
}
