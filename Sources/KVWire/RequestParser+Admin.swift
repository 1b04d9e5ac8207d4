import JSONText

extension RequestParser {
    static func adminRequest(_ name: String, _ object: JSONObject) throws -> AdminRequest {
        switch name {
        case "members": return .members
        case "add":
            return .add(node: try nodeField(object), addresses: MemberAddressFields(
                raft: try optionalAddress(object, "raft"), client: try optionalAddress(object, "client"),
                http: try optionalAddress(object, "http")))
        case "remove": return .remove(node: try nodeField(object))
        case "transfer": return .transfer(node: try nodeField(object))
        case "pause": return .pause
        case "messages": return .messages
        case "resume": return .resume
        case "deliver":
            return .deliver(message: object["message"] == nil ? nil : try nodeField(object, "message"))
        case "drop": return .drop(message: try nodeField(object, "message"))
        case "tick":
            let count = object["count"] == nil ? 1 : try nodeField(object, "count")
            if count < 1 || count > 100_000 { throw RequestError(.badRequest, "\"count\" must be between 1 and 100000") }
            return .tick(node: try nodeField(object), count: count)
        case "disk":
            let node = try nodeField(object)
            guard let fault = object["fault"]?.stringValue else {
                throw RequestError(.badRequest, "disk needs \"fault\": \"slow\" (with \"ms\"), \"full\" or \"none\"")
            }
            switch fault {
            case "slow":
                let ms = try nodeField(object, "ms")
                if ms < 0 || ms > 60_000 { throw RequestError(.badRequest, "\"ms\" must be between 0 and 60000") }
                return .disk(node: node, fault: .slow(ms: ms))
            case "full": return .disk(node: node, fault: .full)
            case "none", "ok": return .disk(node: node, fault: .none)
            default:
                throw RequestError(.badRequest, "\"fault\" must be \"slow\", \"full\" or \"none\"")
            }
        case "crash":
            let lose: Bool
            switch object["loseUnsynced"] {
            case nil: lose = false
            case .bool(let flag)?: lose = flag
            default: throw RequestError(.badRequest, "\"loseUnsynced\" must be true or false")
            }
            return .crash(node: try nodeField(object), loseUnsynced: lose)
        case "trace":
            return .trace(node: object["node"] == nil ? nil : try nodeField(object))
        case "slowmotion":
            let factor = try nodeField(object, "factor")
            if factor < 1 || factor > 1000 { throw RequestError(.badRequest, "\"factor\" must be between 1 and 1000") }
            return .slowMotion(factor: factor)
        case "status": return .status
        case "backup":
            guard let path = object["path"]?.stringValue, !path.isEmpty else {
                throw RequestError(.badRequest, "backup needs \"path\": the file to write, on the server's machine")
            }
            return .backup(path: path)
        case "scenario":
            guard let name = object["name"]?.stringValue, !name.isEmpty else {
                throw RequestError(.badRequest, "scenario needs \"name\": a scenario's name, or \"list\"")
            }
            return .scenario(name: name)
        case "kill": return .kill(node: try nodeField(object))
        case "restart": return .restart(node: try nodeField(object))
        case "heal": return .heal
        case "isolate": return .isolate(node: try nodeField(object))
        case "snapshot": return .snapshot(node: try nodeField(object))
        case "metrics":
            let format = object["format"]?.stringValue ?? "json"
            guard format == "json" || format == "prometheus" else {
                throw RequestError(.badRequest, "\"format\" must be \"json\" or \"prometheus\"")
            }
            return .metrics(prometheus: format == "prometheus")
        case "logs":
            let count = object["count"] == nil ? 10 : try nodeField(object, "count")
            if count < 0 { throw RequestError(.badRequest, "\"count\" must not be negative") }
            return .logs(node: try nodeField(object), count: count)
        case "slow":
            let delay = try nodeField(object, "ms")
            if delay < 0 || delay > 60_000 { throw RequestError(.badRequest, "\"ms\" must be between 0 and 60000") }
            return .slow(node: try nodeField(object), delayMs: delay)
        case "partition":
            guard let groupsField = object["groups"], let groups = groupsField.arrayValue else {
                throw RequestError(.badRequest, "partition needs \"groups\": an array of arrays of node ids")
            }
            var result: [[Int]] = []
            for group in groups {
                guard let members = group.arrayValue else {
                    throw RequestError(.badRequest, "each partition group must be an array of node ids")
                }
                var ids: [Int] = []
                for member in members {
                    guard let id = member.intValue else {
                        throw RequestError(.badRequest, "node ids in \"groups\" must be integers")
                    }
                    ids.append(id)
                }
                result.append(ids)
            }
            return .partition(groups: result)
        default:
            throw RequestError(.badRequest, "unknown admin request \(JSONWriter.quoted(name)); use status, kill, restart, partition, isolate, heal, slow, snapshot, logs, metrics, members, add, remove, transfer, pause, messages, deliver, drop, tick, resume, disk, crash, trace, slowmotion, backup or scenario")
        }
    }
}
