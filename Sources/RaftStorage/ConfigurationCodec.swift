import JSONText
import RaftCore

/// Configurations as JSON, the same way wherever they are stored or sent:
///
///     {"op":"config","members":[{"id":0,"voter":true,"raft":"127.0.0.1:7100"},{"id":3,"voter":false,"promote":true}]}
///
/// A member's `context` (opaque to the core) is kept readable: when it is a JSON object (the
/// server keeps `raft`, `client` and `http` addresses there), its members are written inline;
/// any other text is written as `"context":"..."`.
public enum ConfigurationCodec {
    public static func json(_ configuration: ClusterConfiguration) -> JSONValue {
        .object(JSONObject([("op", .string("config")), ("members", .array(configuration.members.map(memberJSON)))]))
    }

    public static func text(_ configuration: ClusterConfiguration) -> String {
        var writer = JSONWriter()
        writer.value(json(configuration))
        return writer.text
    }

    static func memberJSON(_ member: Member) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("id", .number(String(member.id))), ("voter", .bool(member.isVoter))]
        if member.promoteWhenCaughtUp { members.append(("promote", .bool(true))) }
        if !member.context.isEmpty {
            if case .object(let context)? = try? JSONParser.parse(member.context),
               !context.members.contains(where: { ["id", "voter", "promote", "op"].contains($0.key) }) {
                members.append(contentsOf: context.members)
            } else {
                members.append(("context", .string(member.context)))
            }
        }
        return .object(JSONObject(members))
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads what `json` wrote; `value` may be the whole object or just its `members` array.
    public static func decode(_ value: JSONValue) throws(Problem) -> ClusterConfiguration {
        let list: [JSONValue]
        if case .array(let items) = value {
            list = items
        } else if case .object(let object) = value, case .array(let items)? = object["members"] {
            list = items
        } else {
            throw Problem(description: "a configuration needs \"members\": an array")
        }
        var members: [Member] = []
        for item in list {
            guard case .object(let object) = item, let id = object["id"]?.intValue, id >= 0,
                  let voter = object["voter"]?.boolValue else {
                throw Problem(description: "each member needs a non-negative \"id\" and a boolean \"voter\"")
            }
            let promote = object["promote"]?.boolValue ?? false
            var context = ""
            if let text = object["context"]?.stringValue {
                context = text
            } else {
                let rest = object.members.filter { !["id", "voter", "promote"].contains($0.key) }
                if !rest.isEmpty {
                    var writer = JSONWriter()
                    writer.value(.object(JSONObject(rest)))
                    context = writer.text
                }
            }
            members.append(Member(id: id, isVoter: voter, promoteWhenCaughtUp: promote, context: context))
        }
        return ClusterConfiguration(members: members)
    }
}
