import JSONText

/// Writes a request as one line of the protocol — how a member forwards a request it cannot
/// serve to the member that can (`hops` counts forwards, so a request never circles forever),
/// and how KVBench writes its load.
public enum RequestEncoder {
    public static func line(_ request: ClientRequest, hops: Int? = nil) -> String {
        var object = JSONObjectWriter()
        write(request.operation, into: &object)
        if request.revisions { object.member("revisions", .bool(true)) }
        if let session = request.session {
            object.member("client", string: session.client)
            object.member("seq", .number(String(session.seq)))
        }
        if let hops { object.member("hops", int: hops) }
        return object.finished()
    }

    static func write(_ operation: ClientRequest.Operation, into object: inout JSONObjectWriter) {
        switch operation {
        case .put(let key, let value, let lease):
            object.member("op", string: "put")
            object.member("key", string: key)
            object.member("value", string: value)
            if let lease { object.member("lease", .number(String(lease))) }
        case .get(let key, let consistency):
            object.member("op", string: "get")
            object.member("key", string: key)
            // Eventual is what a get without the field means.
            if consistency != .eventual { object.member("consistency", string: consistency.rawValue) }
        case .delete(let key):
            object.member("op", string: "delete")
            object.member("key", string: key)
        case .deletePrefix(let prefix):
            object.member("op", string: "delete")
            object.member("prefix", string: prefix)
        case .cas(let key, let expect, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expect", string: expect)
            object.member("value", string: value)
        case .casRevision(let key, let revision, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expectRevision", .number(String(revision)))
            object.member("value", string: value)
        case .range(let query):
            object.member("op", string: "range")
            write(query, into: &object)
        case .txn(let transaction):
            object.member("op", string: "txn")
            object.member("compare", .array(transaction.compare.map(json)))
            object.member("success", .array(transaction.success.map(json)))
            object.member("failure", .array(transaction.failure.map(json)))
        case .admin(let admin):
            write(admin, into: &object)
        case .watch(let watch):
            object.member("op", string: "watch")
            if let key = watch.key { object.member("key", string: key) }
            if let prefix = watch.prefix { object.member("prefix", string: prefix) }
            if let from = watch.fromRevision { object.member("fromRevision", .number(String(from))) }
            object.member("watch", watch.name)
        case .unwatch(let name):
            object.member("op", string: "unwatch")
            object.member("watch", name)
        case .leaseGrant(let ttl):
            object.member("op", string: "lease_grant")
            object.member("ttlMs", .number(String(ttl)))
        case .leaseKeepAlive(let id): lease("lease_keepalive", id, &object)
        case .leaseRevoke(let id): lease("lease_revoke", id, &object)
        case .leaseInfo(let id): lease("lease_info", id, &object)
        case .leaseList: object.member("op", string: "lease_list")
        }
    }

    private static func lease(_ op: String, _ id: Int64, _ object: inout JSONObjectWriter) {
        object.member("op", string: op)
        object.member("lease", .number(String(id)))
    }

    static func write(_ query: RangeQuery, into object: inout JSONObjectWriter) {
        if let prefix = query.prefix { object.member("prefix", string: prefix) }
        if let from = query.from { object.member("from", string: from) }
        if let to = query.to { object.member("to", string: to) }
        if let after = query.after { object.member("after", string: after) }
        if query.limit != RangeQuery.defaultLimit { object.member("limit", int: query.limit) }
        if query.keysOnly { object.member("keysOnly", .bool(true)) }
        if query.consistency != .eventual { object.member("consistency", string: query.consistency.rawValue) }
    }

    /// A compare as its JSON object.
    public static func json(_ compare: Transaction.Compare) -> JSONValue {
        switch compare {
        case .value(let key, let value):
            return .object(JSONObject([("key", .string(key)), ("value", value.map(JSONValue.string) ?? .null)]))
        case .modRevision(let key, let revision):
            return .object(JSONObject([("key", .string(key)), ("modRevision", .number(String(revision)))]))
        case .exists(let key, let flag):
            return .object(JSONObject([("key", .string(key)), ("exists", .bool(flag))]))
        }
    }

    /// A transaction step as the request object it was.
    public static func json(_ step: Transaction.Step) -> JSONValue {
        var object = JSONObjectWriter()
        switch step {
        case .put(let key, let value, let lease): write(.put(key: key, value: value, lease: lease), into: &object)
        case .get(let key): write(.get(key: key, consistency: .eventual), into: &object)
        case .delete(let key): write(.delete(key: key), into: &object)
        case .deletePrefix(let prefix): write(.deletePrefix(prefix), into: &object)
        case .range(let query): write(.range(query), into: &object)
        }
        return (try? JSONParser.parse(object.finished())) ?? .null
    }

    private static func write(_ admin: AdminRequest, into object: inout JSONObjectWriter) {
        func name(_ text: String) { object.member("admin", string: text) }
        func node(_ id: Int) { object.member("node", int: id) }
        switch admin {
        case .status: name("status")
        case .kill(let id): name("kill"); node(id)
        case .restart(let id): name("restart"); node(id)
        case .partition(let groups):
            name("partition")
            object.member("groups", .array(groups.map { .array($0.map { .number(String($0)) }) }))
        case .heal: name("heal")
        case .isolate(let id): name("isolate"); node(id)
        case .snapshot(let id): name("snapshot"); node(id)
        case .logs(let id, let count): name("logs"); node(id); object.member("count", int: count)
        case .metrics(let prometheus):
            name("metrics")
            if prometheus { object.member("format", string: "prometheus") }
        case .slow(let id, let ms): name("slow"); node(id); object.member("ms", int: ms)
        case .members: name("members")
        case .add(let id, let addresses):
            name("add"); node(id)
            if let raft = addresses.raft { object.member("raft", string: raft) }
            if let client = addresses.client { object.member("client", string: client) }
            if let http = addresses.http { object.member("http", string: http) }
        case .remove(let id): name("remove"); node(id)
        case .transfer(let id): name("transfer"); node(id)
        case .pause: name("pause")
        case .messages: name("messages")
        case .deliver(let message):
            name("deliver")
            if let message { object.member("message", int: message) }
        case .drop(let message): name("drop"); object.member("message", int: message)
        case .tick(let id, let count): name("tick"); node(id); object.member("count", int: count)
        case .resume: name("resume")
        case .disk(let id, let fault):
            name("disk"); node(id)
            switch fault {
            case .slow(let ms): object.member("fault", string: "slow"); object.member("ms", int: ms)
            case .full: object.member("fault", string: "full")
            case .none: object.member("fault", string: "none")
            }
        case .crash(let id, let lose): name("crash"); node(id); object.member("loseUnsynced", .bool(lose))
        case .trace(let id):
            name("trace")
            if let id { node(id) }
        case .slowMotion(let factor):
            name("slowmotion")
            object.member("factor", int: factor)
        case .backup(let path): name("backup"); object.member("path", string: path)
        case .scenario(let scenario):
            name("scenario")
            object.member("name", string: scenario)
        }
    }

    /// Puts the client's `id` back on an answer that was produced without it.
    public static func withID(_ response: String, id: JSONValue?) -> String {
        guard let id, response.hasSuffix("}") else { return response }
        var writer = JSONWriter()
        writer.value(id)
        return String(response.dropLast()) + (response == "{}" ? "" : ",") + "\"id\":" + writer.text + "}"
    }
}
