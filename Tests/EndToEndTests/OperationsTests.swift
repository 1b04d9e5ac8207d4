import Foundation
import JSONText
import KVClient
import Testing

/// Operations as a new user meets them, with the real binaries: a backup of a running cluster
/// restored into a new directory and started there (every key, with its revisions, is back), a
/// damaged backup refused, and `/metrics` read by Prometheus' own checker.
@Suite(.serialized) struct OperationsTests {
    static let script = (0..<150).map { "put key\($0) value\($0)" }.joined(separator: "\n") + """

        put key7 changed
        delete key8
        cas key9 value9 swapped
        txn if key10 == value10 then put key10 viaTxn ; put extra 1
        put "ünï/cödé" ✓
        """

    /// Every key with its revisions and the store's revision, as raw JSON lines (a linearizable range).
    func everything(port: Int) throws -> String {
        let connection = try ClientConnection(host: "127.0.0.1", port: port)
        return try #require(try connection.request(#"{"op":"range","limit":10000,"consistency":"linearizable"}"#))
    }

    func configText(dataDir: String) -> String {
        """
        {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(dataDir)", "snapshotEveryEntries": 60,
         "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "fsync": true, "http": {"port": 0}}
        """
    }

    @Test func backupAStoppedClusterRestoreItElsewhereAndEveryKeyIsBack() throws {
        let work = NSTemporaryDirectory() + "raftkv-ops-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let first = try ServerProcess(directory: work + "/old", configText: configText(dataDir: work + "/old/data"))
        let load = try Binaries.run("ClientMain", ["--port", String(first.port)], input: Self.script + "\n")
        #expect(load.status == 0 && !load.stdout.contains("error"), "\(load.stdout)\(load.stderr)")
        let before = try everything(port: first.port)
        let getallBefore = try Binaries.run("ClientMain", ["--port", String(first.port)], input: "getall\n").stdout
        #expect(getallBefore.split(separator: "\n").count == 151)

        // `backup FILE` with a relative FILE: the file lands in the client's directory.
        let backup = try Binaries.run("ClientMain", ["--port", String(first.port)], input: "backup cluster.bak\n", directory: work)
        #expect(backup.status == 0)
        let answer = try #require(try JSONParser.parse(backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        #expect(answer["status"] == .string("ok"), "\(backup.stdout)\(backup.stderr)")
        let file = work + "/cluster.bak"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        #expect(answer["bytes"]?.intValue == size && (answer["index"]?.intValue ?? 0) > 150)
        #expect(answer["revision"]?.intValue == 155 && answer["keys"]?.intValue == 151)
        first.signal(SIGTERM)
        #expect(first.waitForExit(seconds: 10) == 0)

        // A damaged or truncated backup, or a directory that holds files: refused, exit status 2.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: work + "/damaged.bak"))
        let damaged = try Binaries.run("ServerMain", ["--restore", work + "/damaged.bak", "--data-dir", work + "/never", "--nodes", "3"])
        #expect(damaged.status == 2 && damaged.stderr.contains("damaged"), "\(damaged.stderr)")
        try Data(bytes.prefix(bytes.count - 40)).write(to: URL(fileURLWithPath: work + "/cut.bak"))
        let cut = try Binaries.run("ServerMain", ["--restore", work + "/cut.bak", "--data-dir", work + "/never", "--nodes", "3"])
        #expect(cut.status == 2 && cut.stderr.contains("truncated"), "\(cut.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/never"))
        let occupied = try Binaries.run("ServerMain", ["--restore", file, "--data-dir", work + "/old/data", "--nodes", "3"])
        #expect(occupied.status == 2 && occupied.stderr.contains("already holds files"), "\(occupied.stderr)")

        // Restore into a new directory, start there: the same keys, values and revisions.
        let restore = try Binaries.run("ServerMain", ["--restore", file, "--data-dir", work + "/new/data", "--nodes", "3"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("revision 155, 151 keys"), "\(restore.stdout)")
        let second = try ServerProcess(directory: work + "/new", configText: configText(dataDir: work + "/new/data"))
        #expect(second.log.contains("restored a snapshot"))
        #expect(try everything(port: second.port) == before)
        let getallAfter = try Binaries.run("ClientMain", ["--port", String(second.port)], input: "getall\n").stdout
        #expect(getallAfter == getallBefore)
        let next = try Binaries.run("ClientMain", ["--port", String(second.port)], input: "put after restore --revisions\n").stdout
        #expect(next.contains(#""revision":156"#), "the store's revision goes on: \(next)")
    }

    @Test func aBackupThroughAMemberThatDoesNotLeadRestoresAMemberCluster() throws {
        let cluster = try MemberCluster(members: 3)
        let leader = try cluster.awaitLeader(asking: 0)
        let follower = (leader + 1) % 3
        for number in 0..<40 { _ = try cluster.request(leader, #"{"key":"m\#(number)","value":"\#(number)"}"#) }
        let file = cluster.directory + "/members.bak"
        let answer = try cluster.request(follower, #"{"admin":"backup","path":"\#(file)"}"#)
        #expect(answer["status"] == .string("ok") && answer["revision"]?.intValue == 40 && answer["keys"]?.intValue == 40, "\(answer)")
        for id in 0..<3 { cluster.kill(id) }
        let restore = try Binaries.run("ServerMain", ["--restore", file, "--config", cluster.configPath,
                                                      "--data-dir", cluster.directory + "/restored"])
        #expect(restore.status == 0, "\(restore.stderr)")
        let both = try Binaries.run("ServerMain", ["--restore", file, "--config", cluster.configPath, "--nodes", "3",
                                                   "--data-dir", cluster.directory + "/other"])
        #expect(both.status == 2 && both.stderr.contains("not both"), "\(both.stderr)")
        for id in 0..<3 {
            cluster.processes[id] = try ServerProcess(directory: cluster.directory, configPath: cluster.configPath,
                                                      extraArguments: ["--node", String(id), "--data-dir", cluster.directory + "/restored"])
        }
        _ = try cluster.awaitLeader(asking: 0)
        let range = try #require(try cluster.connect(follower).request(#"{"op":"range","prefix":"m","consistency":"linearizable"}"#))
        #expect(range.contains(#""revision":40"#) && range.components(separatedBy: #""key":"#).count == 41, "\(range)")
    }

    @Test func metricsPassPromtoolAndCarryHistogramsAndProcessFigures() throws {
        let work = NSTemporaryDirectory() + "raftkv-metrics-" + UUID().uuidString
        let server = try ServerProcess(directory: work, configText: configText(dataDir: work + "/data"))
        let script = (0..<70).map { "put m\($0) \($0)" }.joined(separator: "\n") + """

            get m1
            get m2 linearizable
            get missing
            delete m3
            cas m4 4 four
            range --prefix m --limit 5
            txn if m5 == 5 then put m5 five
            {"op":"lease_grant","ttlMs":5000}
            snapshot
            """
        let run = try Binaries.run("ClientMain", ["--port", String(server.port)], input: script + "\n")
        #expect(run.status == 0)
        let port = try #require(server.httpPort)
        let response = try BlockingHTTP.exchange(method: "GET", port: port, path: "/metrics")
        #expect(response.status == 200)
        let text = String(decoding: response.body, as: UTF8.self)

        // Prometheus' own checker (Debian's `prometheus` package; .ci/run installs it when missing).
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool", "/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        #expect(promtool != nil, "promtool is missing: apt-get install prometheus (.ci/run does)")
        if let promtool {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: promtool)
            check.arguments = ["check", "metrics"]
            let input = Pipe(), output = Pipe()
            check.standardInput = input
            check.standardOutput = output
            check.standardError = output
            try check.run()
            input.fileHandleForWriting.write(response.body)
            try input.fileHandleForWriting.close()
            let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            check.waitUntilExit()
            #expect(check.terminationStatus == 0 && said.isEmpty, "promtool check metrics: \(said)")
        }

        // The families a Prometheus user looks for, with sane values.
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("unreadable sample line: \(line)")
                continue
            }
            samples[String(line[..<space])] = value
        }
        #expect(samples[#"raftkv_request_duration_seconds_count{op="put"}"#] == 70)
        #expect((samples[#"raftkv_request_duration_seconds_count{op="get"}"#] ?? 0) == 3)
        for op in ["delete", "cas", "range", "txn", "lease"] {
            #expect(samples[#"raftkv_request_duration_seconds_count{op="\#(op)"}"#] == 1, "\(op)")
        }
        #expect((samples[#"raftkv_request_duration_seconds_sum{op="put"}"#] ?? 0) > 0)
        #expect(samples[#"raftkv_request_duration_seconds_bucket{op="put",le="+Inf"}"#] == samples[#"raftkv_request_duration_seconds_count{op="put"}"#])
        for node in 0..<3 {
            #expect((samples[#"raftkv_fsync_duration_seconds_count{node="\#(node)"}"#] ?? 0) > 0)
            #expect((samples[#"raftkv_snapshot_duration_seconds_count{node="\#(node)"}"#] ?? 0) >= 1)
            #expect(samples[#"raftkv_snapshot_install_duration_seconds_count{node="\#(node)"}"#] != nil)
        }
        // Each write is appended by whichever node led then (a leader change under load splits them).
        let queued = (0..<3).compactMap { samples[#"raftkv_write_stage_duration_seconds_count{node="\#($0)",stage="queue"}"#] }.reduce(0, +)
        #expect(queued >= 70)
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                     "process_start_time_seconds", "process_open_fds", "process_max_fds"] {
            #expect((samples[name] ?? 0) > 0, "\(name)")
        }
        let start = samples["process_start_time_seconds"] ?? 0
        #expect(abs(start - Date().timeIntervalSince1970) < 600, "the start time is a Unix time near now: \(start)")
        #expect((samples["process_resident_memory_bytes"] ?? 0) > 1_000_000)
        #expect(!text.contains("microseconds"), "no microsecond gauges left")
        // Every histogram's buckets only grow, and +Inf is the count.
        var buckets: [String: [Double]] = [:]
        for line in text.split(separator: "\n") where line.contains("_bucket{") {
            let series = line.replacingOccurrences(of: #",?le="[^"]*""#, with: "", options: .regularExpression)
                .components(separatedBy: " ")[0].replacingOccurrences(of: "_bucket", with: "_count").replacingOccurrences(of: "{}", with: "")
            buckets[series, default: []].append(Double(line.split(separator: " ").last!)!)
        }
        #expect(buckets.count > 20)
        for (series, counts) in buckets {
            #expect(counts == counts.sorted(), "\(series) buckets must be cumulative")
            #expect(counts.last == samples[series], "\(series): +Inf bucket equals the count")
        }
        // The JSON answer keeps its fields.
        let json = try #require(try ClientConnection(host: "127.0.0.1", port: server.port).request(#"{"admin":"metrics"}"#))
        #expect(json.contains(#""fsyncLatencyUs":{"p50":"#) && json.contains(#""writePathUs":{"queue":"#) && json.contains(#""requests":["#))
    }
}
