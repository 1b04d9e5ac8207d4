#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import Dispatch
import JSONText
import KVClient
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

/// A real cluster for one test: real files in a fresh directory, a real TCP port picked by the
/// kernel, and the event log captured for assertions.
final class TestCluster: Sendable {
    let directory: String
    let server: ClusterServer
    let collector = LineCollector()

    init(nodes: Int = 3, configure: (inout ServerConfig) -> Void = { _ in }) throws {
        var template = Array("/tmp/raftkv-cluster-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        var config = ServerConfig()
        config.nodes = nodes
        config.proxyPort = 0
        config.dataDir = directory
        config.fsync = false
        config.beatTimeMs = 20
        config.electionTimeoutMinMs = 100
        config.electionTimeoutMaxMs = 200
        config.tickMs = 5
        config.httpPort = 0
        configure(&config)
        let collector = self.collector
        let events = EventLog(minimumLevel: .info, sink: { line in collector.append(line) })
        server = ClusterServer(config: config, events: events)
        try server.start()
    }

    deinit { server.stop() }

    var port: Int { server.port }

    func connect() throws -> ClientConnection {
        try ClientConnection(host: "127.0.0.1", port: port)
    }

    /// One request on a fresh connection; the response parsed.
    @discardableResult
    func request(_ line: String) throws -> JSONObject {
        let connection = try connect()
        let response = try #require(try connection.request(line))
        return try #require(try JSONParser.parse(response).objectValue)
    }

    func status() throws -> JSONObject { try request(#"{"admin":"status"}"#) }

    func node(_ id: Int) throws -> JSONObject {
        try #require(try status()["nodes"]?.arrayValue?[id].objectValue)
    }

    /// Waits (up to `seconds`) for a leader and returns it.
    func awaitLeader(seconds: Double = 10, excluding: Int? = nil) throws -> Int {
        var leader: Int?
        let found = try waitUntil(seconds: seconds) {
            leader = try self.status()["leader"]?.intValue
            return leader != nil && leader != excluding
        }
        #expect(found, "no leader within \(seconds) s")
        return try #require(leader)
    }

    var events: [String] { collector.lines }

    func logPath(_ node: Int) -> String { "\(directory)/log0\(node).txt" }
}

/// Collects event-log lines across threads.
final class LineCollector: Sendable {
    private let storage = Mutex<[String]>([])

    func append(_ line: String) { storage.withLock { $0.append(line) } }

    var lines: [String] { storage.withLock { $0 } }
}

/// Polls `condition` until it holds or `seconds` pass. For waiting on a real cluster's
/// progress, never as a stand-in for a fixed delay.
func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicSeconds() + seconds
    while monotonicSeconds() < deadline {
        if try condition() { return true }
        usleep(5_000)
    }
    return try condition()
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func readFile(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) {
    let file = fopen(path, "w")!
    _ = text.withCString { fputs($0, file) }
    fclose(file)
}

/// Writes fresh keys through the proxy from background threads until stopped, and remembers
/// every write the cluster acknowledged, so a test can check afterwards that none was lost.
final class BackgroundWriter: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let acknowledged = Mutex<[(key: String, value: String)]>([])
    private let finished = DispatchGroup()

    init(port: Int, prefix: String, connections: Int = 1) {
        for connection in 0..<connections {
            finished.enter()
            DispatchQueue.global().async {
                var client = try? ClientConnection(host: "127.0.0.1", port: port)
                var number = 0
                while !self.stopFlag.load(ordering: .relaxed) {
                    number += 1
                    let key = "\(prefix)\(connection)-\(number)"
                    if client == nil { client = try? ClientConnection(host: "127.0.0.1", port: port) }
                    guard let answer = try? client?.request(#"{"key":"\#(key)","value":"\#(number)"}"#) else {
                        client = nil  // the connection broke: the write's fate is unknown, so it is not counted
                        continue
                    }
                    if answer.contains(#""status":"ok""#) {
                        self.acknowledged.withLock { $0.append((key, String(number))) }
                    }
                }
                self.finished.leave()
            }
        }
    }

    /// Acknowledged writes so far.
    var count: Int { acknowledged.withLock { $0.count } }

    /// Stops the writers and returns every acknowledged write.
    @discardableResult
    func stop() -> [(key: String, value: String)] {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
        return acknowledged.withLock { $0 }
    }
}

extension TestCluster {
    /// The acknowledged writes that a linearizable read does not find (empty: nothing lost).
    func missing(_ writes: [(key: String, value: String)]) throws -> [String] {
        let connection = try connect()
        var missing: [String] = []
        for (key, value) in writes {
            var answer = ""
            // A read the cluster cannot serve right now (an election) is asked again; a definite
            // answer (the value, or not found) is final.
            _ = try waitUntil(seconds: 10) {
                answer = try connection.request(#"{"op":"get","key":"\#(key)","consistency":"linearizable"}"#) ?? ""
                return answer.contains(#""status":"ok""#) || answer.contains("not_found")
            }
            if !answer.contains(#""value":"\#(value)""#) { missing.append("\(key) (\(answer))") }
        }
        return missing
    }
}
