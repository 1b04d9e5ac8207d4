import JSONText

/// Ranges and transactions: checked here, once, so the state machine never sees a malformed one.
extension RequestParser {
    static func rangeQuery(_ object: JSONObject, _ limits: WireLimits) throws -> RangeQuery {
        var query = RangeQuery(consistency: try consistency(object))
        query.prefix = try boundKey(object, "prefix", limits)
        query.from = try boundKey(object, "from", limits)
        query.to = try boundKey(object, "to", limits)
        query.after = try boundKey(object, "after", limits)
        if query.prefix != nil && (query.from != nil || query.to != nil) {
            throw RequestError(.badRequest, "a range takes \"prefix\", or \"from\" and \"to\", not both")
        }
        if let from = query.from, let to = query.to, to.utf8.lexicographicallyPrecedes(from.utf8) {
            throw RequestError(.badRequest, "\"from\" must not come after \"to\" (keys compare by their UTF-8 bytes)")
        }
        if let field = object["limit"] {
            guard let limit = field.intValue else { throw RequestError(.badRequest, "\"limit\" must be an integer") }
            guard limit >= 1 && limit <= RangeQuery.maxLimit else {
                throw RequestError(.badRequest, "\"limit\" must be between 1 and \(RangeQuery.maxLimit)")
            }
            query.limit = limit
        }
        if let field = object["keysOnly"] {
            guard let flag = field.boolValue else { throw RequestError(.badRequest, "\"keysOnly\" must be true or false") }
            query.keysOnly = flag
        }
        return query
    }

    /// A key-like bound of a range (may be empty: `"prefix":""` is every key).
    static func boundKey(_ object: JSONObject, _ name: String, _ limits: WireLimits) throws -> String? {
        guard let field = object[name] else { return nil }
        if case .null = field { return nil }
        guard let text = field.stringValue else {
            throw RequestError(.badRequest, "\"\(name)\" must be a string, not \(field.kindName)")
        }
        if text.utf8.count > limits.keyBytes {
            throw RequestError(.tooLarge, "\"\(name)\" is \(text.utf8.count) bytes; the limit is \(limits.keyBytes)")
        }
        return text
    }

    static func transaction(_ object: JSONObject, _ limits: WireLimits) throws -> Transaction {
        let compares = try list(object, "compare")
        let success = try list(object, "success")
        let failure = try list(object, "failure")
        let parts = compares.count + success.count + failure.count
        if parts > Transaction.maxParts {
            throw RequestError(.tooLarge, "a transaction holds \(parts) compares and steps; at most \(Transaction.maxParts)")
        }
        return Transaction(compare: try compares.map { try compare($0, limits) },
                           success: try success.map { try step($0, limits) },
                           failure: try failure.map { try step($0, limits) })
    }

    private static func list(_ object: JSONObject, _ name: String) throws -> [JSONValue] {
        guard let field = object[name] else { return [] }
        guard let items = field.arrayValue else { throw RequestError(.badRequest, "\"\(name)\" must be an array") }
        return items
    }

    static func compare(_ value: JSONValue, _ limits: WireLimits) throws -> Transaction.Compare {
        guard let object = value.objectValue else { throw RequestError(.badRequest, "each compare must be an object") }
        let key = try key(object, limits)
        let known: Set<String> = ["key", "value", "modRevision", "exists"]
        if let unknown = object.members.first(where: { !known.contains($0.key) }) {
            throw RequestError(.badRequest, "unknown compare field \(JSONWriter.quoted(unknown.key)); compare on \"value\", \"modRevision\" or \"exists\"")
        }
        let fields = object.members.filter { $0.key != "key" }
        guard fields.count == 1, let (name, field) = fields.first.map({ ($0.key, $0.value) }) else {
            throw RequestError(.badRequest, "a compare names its key and exactly one of \"value\", \"modRevision\" or \"exists\"")
        }
        switch name {
        case "value":
            if case .null = field { return .value(key: key, equals: nil) }
            return .value(key: key, equals: try stringValue(object, "value", limits))
        case "modRevision":
            guard let revision = field.intValue, revision >= 0 else {
                throw RequestError(.badRequest, "\"modRevision\" in a compare must be a revision (0 or more)")
            }
            return .modRevision(key: key, equals: Int64(revision))
        default:
            guard let flag = field.boolValue else { throw RequestError(.badRequest, "\"exists\" must be true or false") }
            return .exists(key: key, flag)
        }
    }

    static func step(_ value: JSONValue, _ limits: WireLimits) throws -> Transaction.Step {
        guard let object = value.objectValue else { throw RequestError(.badRequest, "each step of a branch must be a request object") }
        if object["admin"] != nil { throw RequestError(.badRequest, "a transaction cannot hold admin requests") }
        if object["client"] != nil || object["seq"] != nil {
            throw RequestError(.badRequest, "\"client\" and \"seq\" go on the transaction, not on its steps")
        }
        switch try operation(try opName(object), object, limits, nested: true) {
        case .put(let key, let value, let lease): return .put(key: key, value: value, lease: lease)
        case .get(let key, _): return .get(key: key)
        case .delete(let key): return .delete(key: key)
        case .deletePrefix(let prefix): return .deletePrefix(prefix)
        case .range(let query): return .range(query)
        default: throw RequestError(.badRequest, "a transaction's branches hold put, get, delete and range")
        }
    }
}
