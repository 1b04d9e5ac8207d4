import JSONText

/// Response lines, with fields in the contract's order and the request's `id` echoed last.
public enum ClientResponse {
    /// `{"key":K,"value":V,"status":"ok"}` — a successful put, get, cas (V a string) or delete (V null).
    public static func ok(key: String, value: String?, id: JSONValue?) -> String {
        if id == nil {  // the hot path, built in one buffer
            var text = "{\"key\":"
            text.reserveCapacity(key.utf8.count + (value?.utf8.count ?? 4) + 40)
            JSONWriter.appendQuoted(key, to: &text)
            text += ",\"value\":"
            if let value { JSONWriter.appendQuoted(value, to: &text) } else { text += "null" }
            text += ",\"status\":\"ok\"}"
            return text
        }
        var object = JSONObjectWriter()
        object.member("key", string: key)
        object.member("value", string: value)
        object.member("status", string: "ok")
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"key":K,"value":null,"status":"error","code":"not_found",...}` — a GET of a missing key.
    public static func notFound(key: String, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("key", string: key)
        object.member("value", .null)
        object.member("status", string: "error")
        object.member("code", string: ErrorCode.notFound.rawValue)
        object.member("error", string: "key not found")
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"key":K,"status":"error","code":"cas_failed","current":V,...}`.
    public static func casFailed(key: String, current: String?, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("key", string: key)
        object.member("status", string: "error")
        object.member("code", string: ErrorCode.casFailed.rawValue)
        object.member("current", string: current)
        object.member("error", string: "the current value does not match \"expect\"")
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"status":"error","code":C,"error":M}` (with `key` when the request named one).
    public static func error(_ error: RequestError, key: String? = nil, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        if let key { object.member("key", string: key) }
        object.member("status", string: "error")
        object.member("code", string: error.code.rawValue)
        object.member("error", string: error.message)
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"status":"ok", ...members}` for admin answers.
    public static func adminOK(_ members: [(String, JSONValue)] = [], id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("status", string: "ok")
        for (key, value) in members { object.member(key, value) }
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// A key's answer with its revisions (`"revisions": true`): `{"key","value","status",
    /// "createRevision","modRevision","version","revision"}`; an absent key has only `revision`.
    public static func withRevisions(key: String, value: String?, meta: KeyRevisions?, revision: Int64, found: Bool = true,
                                     id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("key", string: key)
        object.member("value", string: value)
        if found {
            object.member("status", string: "ok")
        } else {
            object.member("status", string: "error")
            object.member("code", string: ErrorCode.notFound.rawValue)
            object.member("error", string: "key not found")
        }
        if let meta {
            object.member("createRevision", .number(String(meta.createRevision)))
            object.member("modRevision", .number(String(meta.modRevision)))
            object.member("version", .number(String(meta.version)))
        }
        object.member("revision", .number(String(revision)))
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// A refused cas that says the key's `modRevision` too (cas by revision, or `"revisions": true`).
    public static func casFailed(key: String, current: String?, modRevision: Int64, revision: Int64?, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("key", string: key)
        object.member("status", string: "error")
        object.member("code", string: ErrorCode.casFailed.rawValue)
        object.member("current", string: current)
        object.member("modRevision", .number(String(modRevision)))
        if let revision { object.member("revision", .number(String(revision))) }
        object.member("error", string: "the key does not match the expectation")
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"status":"ok","deleted":N,"revision":R}` — a delete by prefix.
    public static func deleted(_ count: Int, revision: Int64, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("status", string: "ok")
        object.member("deleted", int: count)
        object.member("revision", .number(String(revision)))
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// `{"status":"ok","succeeded":B,"results":[answer...],"revision":R}`; each result is an
    /// answer object already written.
    public static func transaction(succeeded: Bool, results: [String], revision: Int64, id: JSONValue?) -> String {
        var text = "{\"status\":\"ok\",\"succeeded\":\(succeeded),\"results\":["
        text += results.joined(separator: ",")
        text += "],\"revision\":\(revision)"
        if let id {
            var writer = JSONWriter()
            writer.value(id)
            text += ",\"id\":" + writer.text
        }
        return text + "}"
    }

    /// Sent before the server closes an idle connection.
    public static let idleClose = "{\"close\":\"ok\"}"
}

/// Fast looks into answer lines this server wrote (no JSON parse, no Foundation search).
public enum AnswerLine {
    private static let okMarker = Array(#""status":"ok""#.utf8)
    private static let codeMarker = Array(#""code":""#.utf8)

    /// The answer says `"status":"ok"`.
    public static func isOK(_ line: String) -> Bool {
        var line = line
        return line.withUTF8 { find(okMarker, in: $0) != nil }
    }

    /// The error code an answer carries (nil: none).
    public static func code(_ line: String) -> String? {
        var line = line
        return line.withUTF8 { bytes -> String? in
            guard let end = find(codeMarker, in: bytes) else { return nil }
            var stop = end
            while stop < bytes.count && bytes[stop] != UInt8(ascii: "\"") { stop += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[end..<stop]), as: UTF8.self)
        }
    }

    /// The index just past the first occurrence of `marker` in `bytes`.
    private static func find(_ marker: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= marker.count, let first = marker.first else { return nil }
        var start = 0
        let last = bytes.count - marker.count
        while start <= last {
            if bytes[start] == first {
                var matched = 1
                while matched < marker.count && bytes[start + matched] == marker[matched] { matched += 1 }
                if matched == marker.count { return start + marker.count }
            }
            start += 1
        }
        return nil
    }
}
