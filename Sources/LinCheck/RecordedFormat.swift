/// This project's recorded histories: one JSON object per line, holding the request as the
/// client sent it and the answer as the store gave it (the line protocol's own objects), with
/// the client and the call and response times in nanoseconds:
///
///     {"id":7,"client":0,"call":1200,"response":3400,"request":{"op":"cas","key":"k","expect":"a","value":"b"},
///      "answer":{"status":"error","code":"cas_failed","current":"c"}}
///
/// `"answer":null` (with `"response":null`) or a `timeout` answer: no answer. The answers mean
/// what `CheckRun` takes them to mean: `not_found` is an ok read of nothing; `cas_failed` a
/// refusal (with `current`, and `modRevision` when the request asked for revisions; with
/// neither, a refusal whose current value is unknown); `unavailable` and `bad_request` did not
/// happen and the line is skipped. A write answered with `modRevision` reports its revision.
public enum RecordedFormat {
    /// The operation on one line, or nil when the answer says it did not happen.
    static func operation(_ line: Substring, number: Int) throws -> KVOperation? {
        let object: MiniJSON
        do { object = try MiniJSON.parse(line) } catch let failure as MiniJSON.Failure {
            throw ProcessPairing.Failure(line: number, reason: failure.reason)
        }
        func fail(_ reason: String) -> ProcessPairing.Failure { ProcessPairing.Failure(line: number, reason: reason) }
        guard let request = object["request"], let key = request["key"]?.string else { throw fail("no request with a key") }
        guard let call = object["call"]?.int, call >= 0 else { throw fail("no call time") }
        let kind = try Self.kind(request, fail: fail)
        let answer = object["answer"] ?? .null
        guard let outcome = Self.outcome(answer, for: kind) else { return nil }
        let response = object["response"]?.int.map { UInt64(max($0, call)) }
        if outcome != .unknown && response == nil { throw fail("an answered operation needs a response time") }
        return KVOperation(id: object["id"]?.int ?? number, client: object["client"]?.int ?? 0, key: key, kind: kind,
                           call: UInt64(call), response: response, outcome: outcome)
    }

    static func kind(_ request: MiniJSON, fail: (String) -> ProcessPairing.Failure) throws -> KVOperation.Kind {
        let value = request["value"]?.string
        switch request["op"]?.string ?? (value == nil ? "get" : "put") {
        case "get": return .get
        case "delete": return .delete
        case "put":
            guard let value else { throw fail("a put needs a value") }
            return .put(value)
        case "append":
            guard let value else { throw fail("an append needs a value") }
            return .append(value)
        case "cas":
            guard let value else { throw fail("a cas needs a value") }
            if let revision = request["expectRevision"]?.int { return .casRevision(expectRevision: revision, value: value) }
            return .cas(expect: request["expect"]?.string, value: value)
        case let other:
            throw fail("unknown op \(other)")
        }
    }

    /// What an answer says happened; nil when it says nothing happened.
    static func outcome(_ answer: MiniJSON, for kind: KVOperation.Kind) -> KVOperation.Outcome? {
        guard case .object = answer else { return .unknown }
        if answer["status"]?.string == "ok" {
            if case .get = kind { return .ok(answer["value"]?.string) }
            if let revision = answer["modRevision"]?.int { return .written(revision: revision) }
            return .ok(nil)
        }
        switch answer["code"]?.string {
        case "not_found": return .ok(nil)
        case "timeout": return .unknown
        case "cas_failed":
            let current = answer["current"]?.string
            if let revision = answer["modRevision"]?.int { return .revisionMismatch(current: current, modRevision: revision) }
            return answer["current"] == nil ? .casRefused : .casFailed(current: current)
        default: return nil
        }
    }

    /// The line for `operation` (what `operation(_:number:)` reads back).
    public static func line(for operation: KVOperation) -> String {
        var request = "\"key\":\(MiniJSON.quoted(operation.key))"
        switch operation.kind {
        case .get: request = "\"op\":\"get\"," + request
        case .delete: request = "\"op\":\"delete\"," + request
        case .put(let value): request = "\"op\":\"put\"," + request + ",\"value\":\(MiniJSON.quoted(value))"
        case .append(let value): request = "\"op\":\"append\"," + request + ",\"value\":\(MiniJSON.quoted(value))"
        case .cas(let expect, let value):
            request = "\"op\":\"cas\"," + request + ",\"expect\":\(expect.map(MiniJSON.quoted) ?? "null"),\"value\":\(MiniJSON.quoted(value))"
        case .casRevision(let revision, let value):
            request = "\"op\":\"cas\"," + request + ",\"expectRevision\":\(revision),\"value\":\(MiniJSON.quoted(value))"
        }
        let answer: String
        switch operation.outcome {
        case .ok(let value):
            if operation.isRead, value == nil { answer = "{\"status\":\"error\",\"code\":\"not_found\"}" } else if operation.isRead {
                answer = "{\"status\":\"ok\",\"value\":\(MiniJSON.quoted(value!))}"
            } else {
                answer = "{\"status\":\"ok\"}"
            }
        case .written(let revision): answer = "{\"status\":\"ok\",\"modRevision\":\(revision)}"
        case .casFailed(let current):
            answer = "{\"status\":\"error\",\"code\":\"cas_failed\",\"current\":\(current.map(MiniJSON.quoted) ?? "null")}"
        case .casRefused: answer = "{\"status\":\"error\",\"code\":\"cas_failed\"}"
        case .revisionMismatch(let current, let revision):
            answer = "{\"status\":\"error\",\"code\":\"cas_failed\",\"current\":\(current.map(MiniJSON.quoted) ?? "null"),\"modRevision\":\(revision)}"
        case .unknown: answer = "null"
        }
        let response = operation.response.map { String($0) } ?? "null"
        return "{\"id\":\(operation.id),\"client\":\(operation.client),\"call\":\(operation.call),\"response\":\(response),"
            + "\"request\":{\(request)},\"answer\":\(answer)}"
    }
}
