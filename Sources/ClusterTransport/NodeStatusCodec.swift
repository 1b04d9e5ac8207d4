import JSONText
import RaftCore
import NodeHosting
import RaftStorage
import RuntimeSupport

/// A node's status as JSON, as members tell each other (the `status` frame between processes).
public enum NodeStatusCodec {
    public static func encode(_ status: NodeStatus) -> [UInt8] {
        var object = JSONObjectWriter()
        object.member("id", int: status.id)
        object.member("role", string: status.role)
        object.member("term", int: status.term)
        object.member("votedFor", status.votedFor.map(JSONValue.int) ?? .null)
        object.member("leaderId", status.leaderID.map(JSONValue.int) ?? .null)
        object.member("commitIndex", int: status.commitIndex)
        object.member("lastApplied", int: status.lastApplied)
        object.member("logLength", int: status.logLength)
        object.member("snapshotIndex", int: status.snapshotIndex)
        object.member("entriesInLog", int: status.entriesInLog)
        object.member("alive", .bool(status.alive))
        object.member("failure", string: status.failure)
        object.member("configuration", ConfigurationCodec.json(status.configuration))
        object.member("configurationIndex", int: status.configurationIndex)
        object.member("configurationCommitted", .bool(status.configurationCommitted))
        object.member("electionElapsed", int: status.electionElapsed)
        if status.lastLeaderContact > 0 {
            // Monotonic clocks differ between processes: send an age, not a time.
            let now = MonotonicClock.now()
            object.member("msSinceLeaderContact", int: Int((now - min(now, status.lastLeaderContact)) / 1_000_000))
        }
        object.member("electionTimeout", int: status.electionTimeout)
        object.member("transferee", status.transferee.map(JSONValue.int) ?? .null)
        object.member("disk", string: status.diskFault)
        object.member("revision", .number(String(status.storeRevision)))
        object.member("keys", int: status.keyCount)
        object.member("sessions", int: status.sessionCount)
        object.member("leases", int: status.leaseCount)
        object.member("leasesExpired", int: status.leasesExpired)
        if status.followerReads { object.member("followerReads", .bool(true)) }  // unknown to older builds, which ignore it
        object.member("replication", .array(status.replication.map { peer in
            .object(JSONObject([("id", .int(peer.id)), ("match", .int(peer.match)), ("next", .int(peer.next)),
                                ("state", .string(peer.state)), ("active", .bool(peer.recentlyActive))]))
        }))
        return Array(object.finished().utf8)
    }

    public static func decode(_ bytes: [UInt8]) -> NodeStatus? {
        guard case .object(let object)? = try? JSONParser.parse(bytes),
              let id = object["id"]?.intValue, let role = object["role"]?.stringValue, let term = object["term"]?.intValue,
              let configurationValue = object["configuration"],
              let configuration = try? ConfigurationCodec.decode(configurationValue) else { return nil }
        func int(_ key: String) -> Int { object[key]?.intValue ?? 0 }
        let replication: [ReplicationStatus] = (object["replication"]?.arrayValue ?? []).compactMap { item in
            guard let peer = item.objectValue, let id = peer["id"]?.intValue else { return nil }
            return ReplicationStatus(id: id, match: peer["match"]?.intValue ?? 0, next: peer["next"]?.intValue ?? 0,
                                     state: peer["state"]?.stringValue ?? "probe", recentlyActive: peer["active"]?.boolValue ?? false)
        }
        var status = NodeStatus(id: id, role: role, term: term, votedFor: object["votedFor"]?.intValue,
                          leaderID: object["leaderId"]?.intValue, commitIndex: int("commitIndex"),
                          lastApplied: int("lastApplied"), logLength: int("logLength"), snapshotIndex: int("snapshotIndex"),
                          entriesInLog: int("entriesInLog"), alive: object["alive"]?.boolValue ?? false,
                          lastLeaderContact: object["msSinceLeaderContact"]?.intValue.map { ms in
                              let now = MonotonicClock.now()
                              return now - min(now, UInt64(ms) * 1_000_000)
                          } ?? 0,
                          failure: object["failure"]?.stringValue, configuration: configuration,
                          configurationIndex: int("configurationIndex"),
                          configurationCommitted: object["configurationCommitted"]?.boolValue ?? true,
                          electionElapsed: int("electionElapsed"), electionTimeout: int("electionTimeout"),
                          replication: replication, transferee: object["transferee"]?.intValue,
                          diskFault: object["disk"]?.stringValue)
        status.storeRevision = object["revision"]?.numberText.flatMap { Int64($0) } ?? 0
        status.keyCount = int("keys")
        status.sessionCount = int("sessions")
        status.leaseCount = int("leases")
        status.leasesExpired = int("leasesExpired")
        status.followerReads = object["followerReads"]?.boolValue ?? false
        return status
    }
}
