import JSONText

/// Turns one request line into a `ClientRequest`, validating every field once, here at the edge.
public enum RequestParser {
    public static func parse(_ line: ArraySlice<UInt8>, limits: WireLimits) -> ParsedLine {
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(line))
        } catch {
            return ParsedLine(id: nil, result: .failure(RequestError(.badRequest, "not valid JSON: \(error)")))
        }
        guard case .object(let object) = value else {
            return ParsedLine(id: nil, result: .failure(RequestError(.badRequest, "a request must be a JSON object, not \(value.kindName)")))
        }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .number: break
            default:
                return ParsedLine(id: id, result: .failure(RequestError(.badRequest, "\"id\" must be a string or a number, not \(id.kindName)")))
            }
        }
        do {
            var parsed = ParsedLine(id: id, result: .success(try request(from: object, limits: limits)))
            if let hops = object["hops"]?.intValue, hops > 0 { parsed.hops = hops }
            parsed.token = object["token"]?.stringValue
            return parsed
        } catch let error as RequestError {
            var parsed = ParsedLine(id: id, result: .failure(error))
            parsed.token = object["token"]?.stringValue
            return parsed
        } catch {
            return ParsedLine(id: id, result: .failure(RequestError(.badRequest, "\(error)")))
        }
    }

    public static func request(from object: JSONObject, limits: WireLimits) throws -> ClientRequest {
        if let admin = object["admin"] {
            guard let name = admin.stringValue else {
                throw RequestError(.badRequest, "\"admin\" must be a string, not \(admin.kindName)")
            }
            return .admin(try adminRequest(name, object))
        }
        let op = try opName(object)
        var request = ClientRequest(try operation(op, object, limits, nested: false))
        if let flag = object["revisions"] {
            guard let on = flag.boolValue else { throw RequestError(.badRequest, "\"revisions\" must be true or false") }
            request.revisions = on
        }
        request.session = try session(object)
        if request.session != nil && !request.isWrite {
            throw RequestError(.badRequest, "\"client\" and \"seq\" go on writes (put, delete, cas, txn), not on \(op)")
        }
        return request
    }

    /// The op a line asks for: `op`, or the seed's shapes (a `value` writes, a `key` reads).
    static func opName(_ object: JSONObject) throws -> String {
        if let opValue = object["op"] {
            guard let name = opValue.stringValue else {
                throw RequestError(.badRequest, "\"op\" must be a string, not \(opValue.kindName)")
            }
            return name
        }
        if object["value"] != nil { return "put" }
        if object["key"] != nil { return "get" }
        throw RequestError(.badRequest, "a request needs \"key\" (and \"value\" to write), \"op\", or \"admin\"")
    }

    /// The operation of a request object; `nested` inside a transaction, where only put, get,
    /// delete and range may stand.
    public static func operation(_ op: String, _ object: JSONObject, _ limits: WireLimits, nested: Bool) throws -> ClientRequest.Operation {
        switch op {
        case "put":
            return .put(key: try key(object, limits), value: try stringValue(object, "value", limits), lease: try lease(object))
        case "get":
            return .get(key: try key(object, limits), consistency: try consistency(object))
        case "delete":
            if object["prefix"] != nil {
                guard object["key"] == nil else { throw RequestError(.badRequest, "delete takes \"key\" or \"prefix\", not both") }
                return .deletePrefix(try boundKey(object, "prefix", limits) ?? "")
            }
            return .delete(key: try key(object, limits))
        case "range":
            return .range(try rangeQuery(object, limits))
        case "cas" where !nested:
            return try cas(object, limits)
        case "txn" where !nested:
            return .txn(try transaction(object, limits))
        case "watch" where !nested:
            return .watch(try watch(object, limits))
        case "unwatch" where !nested:
            guard let name = object["watch"] else { throw RequestError(.badRequest, "unwatch needs \"watch\": the name of the watch") }
            return .unwatch(name: name)
        case "lease_grant" where !nested:
            guard let ttl = object["ttlMs"]?.intValue, ttl >= 1000, ttl <= 365 * 24 * 3_600_000 else {
                throw RequestError(.badRequest, "\"ttlMs\" must be a number of milliseconds, at least 1000")
            }
            return .leaseGrant(ttlMs: Int64(ttl))
        case "lease_keepalive" where !nested: return .leaseKeepAlive(try leaseID(object))
        case "lease_revoke" where !nested: return .leaseRevoke(try leaseID(object))
        case "lease_info" where !nested: return .leaseInfo(try leaseID(object))
        case "lease_list" where !nested: return .leaseList
        case "cas", "txn", "watch", "unwatch", "lease_grant", "lease_keepalive", "lease_revoke", "lease_info", "lease_list":
            throw RequestError(.badRequest, "a transaction's branches hold put, get, delete and range, not \(op) (use \"compare\" for conditions)")
        default:
            throw RequestError(.badRequest, "unknown op \(JSONWriter.quoted(op)); use put, get, delete, cas, range, txn, watch, unwatch, lease_grant, lease_keepalive, lease_revoke, lease_info or lease_list")
        }
    }

    static func watch(_ object: JSONObject, _ limits: WireLimits) throws -> WatchRequest {
        var request = WatchRequest(name: object["watch"] ?? object["id"] ?? .string("0"))
        switch request.name {
        case .string, .number: break
        default: throw RequestError(.badRequest, "\"watch\" (the watch's name) must be a string or a number")
        }
        if object["key"] != nil { request.key = try key(object, limits) }
        request.prefix = try boundKey(object, "prefix", limits)
        guard (request.key == nil) != (request.prefix == nil) else {
            throw RequestError(.badRequest, "a watch follows \"key\" or \"prefix\" (\"prefix\":\"\" is every key)")
        }
        if let field = object["fromRevision"] {
            guard let revision = field.intValue, revision >= 1 else {
                throw RequestError(.badRequest, "\"fromRevision\" must be a revision (1 or more; leave it out to watch from now)")
            }
            request.fromRevision = Int64(revision)
        }
        return request
    }

    static func leaseID(_ object: JSONObject) throws -> Int64 {
        guard let id = object["lease"]?.intValue, id > 0 else { throw RequestError(.badRequest, "\"lease\" must be a lease id") }
        return Int64(id)
    }

    static func cas(_ object: JSONObject, _ limits: WireLimits) throws -> ClientRequest.Operation {
        let key = try key(object, limits)
        let value = try stringValue(object, "value", limits)
        if let revisionField = object["expectRevision"] {
            guard object["expect"] == nil else {
                throw RequestError(.badRequest, "cas takes \"expect\" or \"expectRevision\", not both")
            }
            guard let revision = revisionField.intValue, revision >= 0 else {
                throw RequestError(.badRequest, "\"expectRevision\" must be a revision (0 or more; 0: the key must be absent)")
            }
            return .casRevision(key: key, expectRevision: Int64(revision), value: value)
        }
        guard let expectField = object["expect"] else {
            throw RequestError(.badRequest, "cas needs \"expect\" (a string, or null for an absent key) or \"expectRevision\"")
        }
        let expect: String?
        switch expectField {
        case .null: expect = nil
        case .string(let text):
            if text.utf8.count > limits.valueBytes {
                throw RequestError(.tooLarge, "\"expect\" is \(text.utf8.count) bytes; the limit is \(limits.valueBytes)")
            }
            expect = text
        default:
            throw RequestError(.badRequest, "\"expect\" must be a string or null, not \(expectField.kindName)")
        }
        return .cas(key: key, expect: expect, value: value)
    }

    static func consistency(_ object: JSONObject) throws -> ReadConsistency {
        guard let field = object["consistency"] else { return .eventual }
        guard let name = field.stringValue, let parsed = ReadConsistency(rawValue: name) else {
            throw RequestError(.badRequest, "\"consistency\" must be \"eventual\" or \"linearizable\"")
        }
        return parsed
    }

    /// `"lease": ID` on a put (nil: none).
    static func lease(_ object: JSONObject) throws -> Int64? {
        guard let field = object["lease"] else { return nil }
        if case .null = field { return nil }
        guard let number = field.intValue, number > 0 else {
            throw RequestError(.badRequest, "\"lease\" must be a lease id (a positive integer)")
        }
        return Int64(number)
    }

    /// `"client"` and `"seq"`, both or neither.
    public static func session(_ object: JSONObject) throws -> ClientSession? {
        let clientField = object["client"], seqField = object["seq"]
        if clientField == nil && seqField == nil { return nil }
        guard let clientField, let seqField else {
            throw RequestError(.badRequest, "\"client\" and \"seq\" go together")
        }
        guard let client = clientField.stringValue, !client.isEmpty else {
            throw RequestError(.badRequest, "\"client\" must be a non-empty string")
        }
        guard client.utf8.count <= ClientSession.maxClientBytes else {
            throw RequestError(.badRequest, "\"client\" is \(client.utf8.count) bytes; at most \(ClientSession.maxClientBytes)")
        }
        guard let text = seqField.numberText, let seq = Int64(text), seq >= 1 else {
            throw RequestError(.badRequest, "\"seq\" must be a positive integer (1, 2, 3, ... rising per client)")
        }
        return ClientSession(client: client, seq: seq)
    }

    public static func key(_ object: JSONObject, _ limits: WireLimits) throws -> String {
        guard let field = object["key"] else { throw RequestError(.badRequest, "missing \"key\"") }
        guard let key = field.stringValue else {
            throw RequestError(.badRequest, "\"key\" must be a string, not \(field.kindName)")
        }
        if key.isEmpty { throw RequestError(.badRequest, "\"key\" must not be empty") }
        if key.utf8.count > limits.keyBytes {
            throw RequestError(.tooLarge, "key is \(key.utf8.count) bytes; the limit is \(limits.keyBytes)")
        }
        return key
    }

    static func stringValue(_ object: JSONObject, _ name: String, _ limits: WireLimits) throws -> String {
        guard let field = object[name] else { throw RequestError(.badRequest, "missing \"\(name)\"") }
        guard let text = field.stringValue else {
            throw RequestError(.badRequest, "\"\(name)\" must be a string, not \(field.kindName)")
        }
        if text.utf8.count > limits.valueBytes {
            throw RequestError(.tooLarge, "\(name) is \(text.utf8.count) bytes; the limit is \(limits.valueBytes)")
        }
        return text
    }

    static func nodeField(_ object: JSONObject, _ name: String = "node") throws -> Int {
        guard let field = object[name] else { throw RequestError(.badRequest, "missing \"\(name)\"") }
        guard let number = field.intValue else {
            throw RequestError(.badRequest, "\"\(name)\" must be an integer, not \(field.kindName)")
        }
        return number
    }

    static func optionalAddress(_ object: JSONObject, _ name: String) throws -> String? {
        guard let field = object[name] else { return nil }
        if case .null = field { return nil }
        guard let text = field.stringValue, let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536 else {
            throw RequestError(.badRequest, "\"\(name)\" must be an address \"host:port\"")
        }
        return text
    }
}
