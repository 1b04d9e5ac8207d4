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
