import Foundation
import JSONText
import KVClient
import Testing

/// Writes through the line protocol as a client would: each put carries this writer's client id
/// and the next `seq`, and is sent again (same seq) until it is answered `ok` — while a leader is
/// being elected, say — so a retried put is applied once (exactly-once writes).
final class LineWriter {
    let port: Int
    let client = "browser-test-\(UUID().uuidString.prefix(8))"
    private var connection: ClientConnection?
    private var seq = 0

    init(port: Int) {
        self.port = port
    }

    /// The answer's fields once the put is applied.
    @discardableResult
    func put(_ key: String, _ value: String, seconds: Double = 20) throws -> JSONObject {
        seq += 1
        let request: [String: Any] = ["op": "put", "key": key, "value": value, "revisions": true, "client": client, "seq": seq]
        let line = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        var last = "no answer"
        var applied: JSONObject?
        _ = waitFor(seconds: seconds) {
            guard let answer = self.exchange(line) else { return false }
            last = answer
            applied = (try? JSONParser.parse(answer))?.objectValue.flatMap { $0["status"]?.stringValue == "ok" ? $0 : nil }
            if applied == nil { usleep(50_000) }
            return applied != nil
        }
        return try #require(applied, "put \(key) was not applied: \(last)")
    }

    private func exchange(_ line: String) -> String? {
        do {
            if connection == nil { connection = try ClientConnection(host: "127.0.0.1", port: port) }
            if let answer = try connection?.request(line) { return answer }
        } catch {}
        connection = nil  // closed or broken: the next try opens a new one
        return nil
    }
}
