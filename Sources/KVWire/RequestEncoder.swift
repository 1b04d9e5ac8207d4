import JSONText

/// Writes a request as one line of the protocol — how a member forwards a request it cannot
/// serve to the member that can (`hops` counts forwards, so a request never circles forever),
/// and how KVBench writes its load.
public enum RequestEncoder {
    public static func line(_ request: ClientRequest, hops: Int? = nil) -> String {
        var object = JSONObjectWriter()
        switch request {
        case .put(let key, let value):
            object.member("op", string: "put")
            object.member("key", string: key)
            object.member("value", string: value)
        case .get(let key, let consistency):
            object.member("op", string: "get")
            object.member("key", string: key)
            // Eventual is what a get without the field means.
            if consistency != .eventual { object.member("consistency", string: consistency.rawValue) }
        case .delete(let key):
            object.member("op", string: "delete")
            object.member("key", string: key)
        case .cas(let key, let expect, let value):
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expect", string: expect)
            object.member("value", string: value)
        case .admin(let admin):
            write(admin, into: &object)
        }
        if let hops { object.member("hops", int: hops) }
        return object.finished()
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
