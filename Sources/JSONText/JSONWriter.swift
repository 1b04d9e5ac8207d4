/// Builds compact JSON text with members in the order they are written.
public struct JSONWriter {
    public private(set) var text: String = ""

    public init() {}

    public mutating func raw(_ fragment: String) { text += fragment }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let literal): text += literal
        case .string(let string): Self.appendQuoted(string, to: &text)
        case .array(let items):
            text += "["
            for (position, item) in items.enumerated() {
                if position > 0 { text += "," }
                self.value(item)
            }
            text += "]"
        case .object(let object):
            text += "{"
            for (position, member) in object.members.enumerated() {
                if position > 0 { text += "," }
                Self.appendQuoted(member.key, to: &text)
                text += ":"
                self.value(member.value)
            }
            text += "}"
        }
    }

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendQuoted(_ string: String, to output: inout String) {
        output += "\""
        var needsEscape = false
        for byte in string.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscape = true
            break
        }
        if !needsEscape {
            output += string
            output += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }

    public static func quoted(_ string: String) -> String {
        var output = ""
        appendQuoted(string, to: &output)
        return output
    }
}

/// A JSON object written member by member, in order: `{"key":..,"value":..,"status":"ok"}`.
public struct JSONObjectWriter {
    private var writer = JSONWriter()
    private var first = true

    public init() {
        writer.raw("{")
    }

    public mutating func member(_ key: String, _ value: JSONValue) {
        writer.raw(first ? "" : ",")
        first = false
        writer.raw(JSONWriter.quoted(key))
        writer.raw(":")
        writer.value(value)
    }

    public mutating func member(_ key: String, string: String?) {
        member(key, string.map(JSONValue.string) ?? .null)
    }

    public mutating func member(_ key: String, int: Int) {
        member(key, .number(String(int)))
    }

    public func finished() -> String {
        writer.text + "}"
    }
}
