#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVClient

/// Events, leases and leaders for people; the same as JSON lines for programs.
extension Renderers {
    /// Longest value shown on an event line before it is cut.
    static let eventValueWidth = 80

    /// The wall-clock time of day, `HH:MM:SS.mmm` (local time).
    public static func clockTime(_ when: timespec? = nil) -> String {
        var now = when ?? timespec()
        if when == nil { clock_gettime(CLOCK_REALTIME, &now) }
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let milliText = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(milliText)"
    }

    /// One event for people: time, revision, type, key and (for a put) the value.
    ///
    ///     10:42:07.311  rev 42  put     user/1 = Bob
    ///     10:42:07.415  rev 43  delete  user/1
    public static func eventLine(_ event: WatchEvent, time: String, color enabled: Bool = false) -> String {
        let type = pad(event.type, 6)
        let typeText = color(type, event.isDelete ? "31" : "32", enabled)
        var line = "\(time)  rev \(event.modRevision)  \(typeText)  \(shown(event.key, width: keyWidth))"
        if !event.isDelete { line += " = " + (event.value.map { shown($0, width: eventValueWidth) } ?? "-") }
        return line
    }

    /// One event as a JSON line, as the server wrote it:
    /// `{"type":"put","key":K,"value":V,"modRevision":R,"createRevision":C,"version":N}`.
    public static func eventJSON(_ event: WatchEvent) -> String {
        var writer = JSONWriter()
        writer.value(.object(event.object))
        return writer.text
    }

    /// A lease's grant answer: `lease 7 granted, TTL 5s`.
    public static func leaseGranted(_ answer: JSONObject) -> String {
        let ttl = Int64(answer["ttlMs"]?.intValue ?? 0)
        return "lease \(int(answer["lease"])) granted, TTL \(Durations.text(milliseconds: ttl))"
    }

    /// A keepalive's answer: `10:42:07.311  lease 7 kept alive, 5s to live`.
    public static func leaseKeptAlive(_ answer: JSONObject, time: String) -> String {
        let remaining = Int64(answer["ttlMs"]?.intValue ?? 0)
        return "\(time)  lease \(int(answer["lease"])) kept alive, \(Durations.text(milliseconds: remaining)) to live"
    }

    /// A revoke's answer: `lease 7 revoked, 2 keys deleted`.
    public static func leaseRevoked(_ lease: Int64, _ answer: JSONObject) -> String {
        let deleted = answer["deleted"]?.intValue ?? 0
        return "lease \(lease) revoked, \(deleted) key\(deleted == 1 ? "" : "s") deleted"
    }

    /// `lease info`: `lease 7: TTL 5s, 3.2s left, 2 keys: a, b`.
    public static func leaseInfo(_ answer: JSONObject) -> String {
        let ttl = Int64(answer["ttlMs"]?.intValue ?? 0)
        let remaining = Int64(answer["remainingMs"]?.intValue ?? 0)
        let keys = answer["keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let keyText = keys.isEmpty ? "no keys" : "\(keys.count) key\(keys.count == 1 ? "" : "s"): " + keyList(keys)
        return "lease \(int(answer["lease"])): TTL \(Durations.text(milliseconds: ttl)), \(Durations.text(milliseconds: remaining)) left, \(keyText)"
    }

    /// Keys separated by commas, at most 8 of them shown.
    static func keyList(_ keys: [String]) -> String {
        let shownKeys = keys.prefix(8).map { commandWord(shown($0, width: keyWidth)) }.joined(separator: ", ")
        return keys.count > 8 ? shownKeys + ", … (\(keys.count - 8) more)" : shownKeys
    }

    /// `lease list` against an older server without `lease_list`: the leases this client granted,
    /// with what the server says of each now
    /// (nil answer: the server said not_found — expired or revoked).
    /// `lease_list`'s answer for people: every live lease with its TTL, time left and key count.
    public static func leaseList(_ answer: JSONObject) -> String {
        let leases = answer["leases"]?.arrayValue?.compactMap(\.objectValue) ?? []
        guard !leases.isEmpty else { return "no live leases" }
        var rows = [["lease", "ttl", "left", "keys"]]
        for lease in leases {
            rows.append([String(lease["lease"]?.intValue ?? 0), Durations.text(milliseconds: Int64(lease["ttlMs"]?.intValue ?? 0)),
                         Durations.text(milliseconds: Int64(lease["remainingMs"]?.intValue ?? 0)), String(lease["keys"]?.intValue ?? 0)])
        }
        return (table(rows, rightAligned: [1, 2, 3]) + ["\(leases.count) live lease\(leases.count == 1 ? "" : "s")"]).joined(separator: "\n")
    }

    public static func leaseTable(_ leases: [(id: Int64, ttlMs: Int64, info: JSONObject?)]) -> String {
        guard !leases.isEmpty else {
            return "no lease granted by this ClientMain yet (the server has no request that lists every lease; lease info ID asks about any one)"
        }
        var rows = [["lease", "ttl", "left", "keys"]]
        for lease in leases {
            guard let info = lease.info else {
                rows.append([String(lease.id), Durations.text(milliseconds: lease.ttlMs), "-", "(expired or revoked)"])
                continue
            }
            let keys = info["keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
            rows.append([String(lease.id), Durations.text(milliseconds: Int64(info["ttlMs"]?.intValue ?? Int(lease.ttlMs))),
                         Durations.text(milliseconds: Int64(info["remainingMs"]?.intValue ?? 0)),
                         keys.isEmpty ? "-" : keyList(keys)])
        }
        return table(rows, rightAligned: [1, 2]).joined(separator: "\n")
    }

    /// An election's leader for people: `10:42:07.311  leader: web-2 (election/db/7)` or `… no leader`.
    public static func leaderLine(_ leader: (key: String, value: String)?, time: String) -> String {
        guard let leader else { return "\(time)  no leader" }
        return "\(time)  leader: \(shown(leader.value, width: eventValueWidth)) (\(shown(leader.key, width: keyWidth)))"
    }

    /// The same as a JSON line: `{"leader":V,"key":K,"revision":R}` (`"leader":null` when there is none).
    public static func leaderJSON(_ leader: (key: String, value: String)?, revision: Int64) -> String {
        var object = JSONObjectWriter()
        object.member("leader", string: leader?.value)
        if let leader { object.member("key", string: leader.key) }
        object.member("revision", .number(String(revision)))
        return object.finished()
    }
}
