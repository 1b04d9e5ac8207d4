#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import JSONText
import KVClient
import Synchronization
import Testing

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
