import Foundation
import JSONText
import KVClient
import Testing

/// ServerMain and ClientMain as processes: help, bad configs, a whole-process crash, pipe mode.
@Suite(.serialized) struct EndToEndTests {
    @Test func bothBinariesExplainThemselves() throws {
        let server = try Binaries.run("ServerMain", ["--help"])
        #expect(server.status == 0)
        #expect(server.stdout.contains("--config FILE") && server.stdout.contains("--data-dir"))
        let client = try Binaries.run("ClientMain", ["--help"])
        #expect(client.status == 0)
        #expect(client.stdout.contains("--host") && client.stdout.contains("put KEY VALUE"))
    }

    func configFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "raftkv-config-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func badConfigurationsExitWithStatusTwoNamingFileAndKey() throws {
        let missing = try Binaries.run("ServerMain", ["--config", "/nonexistent/cluster.json"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/cluster.json"))

        let notJSON = try configFile("{nodes: 3")
        let notJSONRun = try Binaries.run("ServerMain", ["--config", notJSON])
        #expect(notJSONRun.status == 2 && notJSONRun.stderr.contains(notJSON) && notJSONRun.stderr.contains("not valid JSON"))

        let wrongType = try configFile(#"{"nodes": "three"}"#)
        let wrongTypeRun = try Binaries.run("ServerMain", ["--config", wrongType])
        #expect(wrongTypeRun.status == 2 && wrongTypeRun.stderr.contains(#"key "nodes""#))

        let nested = try configFile(#"{"proxy": {"port": "7070"}}"#)
        let nestedRun = try Binaries.run("ServerMain", ["--config", nested])
        #expect(nestedRun.status == 2 && nestedRun.stderr.contains(#"key "proxy.port""#))

        let zeroNodes = try configFile(#"{"nodes": 0}"#)
        let zeroRun = try Binaries.run("ServerMain", ["--config", zeroNodes])
        #expect(zeroRun.status == 2 && zeroRun.stderr.contains(#"key "nodes""#))

        let badFlag = try Binaries.run("ServerMain", ["--nodes", "zero"])
        #expect(badFlag.status == 2 && badFlag.stderr.contains("--nodes"))
    }

    @Test func aTakenPortExitsWithStatusTwo() throws {
        let holder = try ServerProcess()
        let directory = NSTemporaryDirectory() + "raftkv-e2e-port-" + UUID().uuidString
        let config = try configFile(#"{"proxy": {"host": "127.0.0.1", "port": \#(holder.port)}, "dataDir": "\#(directory)"}"#)
        let second = try Binaries.run("ServerMain", ["--config", config])
        #expect(second.status == 2)
        #expect(second.stderr.contains(#"key "proxy.port""#) && second.stderr.contains("already in use"), "\(second.stderr)")
    }

    @Test func acknowledgedWritesSurviveAWholeProcessCrash() throws {
        let first = try ServerProcess()
        let connection = try ClientConnection(host: "127.0.0.1", port: first.port)
        var batch: [String] = []
        for number in 0..<300 { batch.append(#"{"key":"durable\#(number)","value":"v\#(number)","id":\#(number)}"#) }
        try connection.send(batch.joined(separator: "\n"))
        var acknowledged: [Int] = []
        for _ in 0..<300 {
            let response = try #require(try connection.receiveLine())
            let object = try #require(try JSONParser.parse(response).objectValue)
            if object["status"] == .string("ok"), let id = object["id"]?.intValue { acknowledged.append(id) }
        }
        #expect(acknowledged.count == 300)
        first.signal(SIGKILL)
        _ = first.waitForExit(seconds: 10)

        let second = try ServerProcess(directory: first.directory)
        #expect(second.log.contains("replayed"))
        let reader = try ClientConnection(host: "127.0.0.1", port: second.port)
        for id in acknowledged {
            let response = try #require(try reader.request(#"{"op":"get","key":"durable\#(id)","consistency":"linearizable"}"#))
            #expect(response == #"{"key":"durable\#(id)","value":"v\#(id)","status":"ok"}"#)
        }
    }

    @Test func clientPipeModePrintsTheSeedResponseAndSignalsStopCleanly() throws {
        let server = try ServerProcess()
        let result = try Binaries.run("ClientMain", ["--port", String(server.port)], input: #"{"key":"snack","value":"chips"}"# + "\n")
        #expect(result.status == 0)
        #expect(result.stdout == #"{"key":"snack","value":"chips","status":"ok"}"# + "\n")

        let short = try Binaries.run("ClientMain", ["--port", String(server.port)],
                                     input: "put note \"two words\"\nGET note\nstatus\n")
        #expect(short.status == 0)
        let lines = short.stdout.split(separator: "\n")
        #expect(lines.count == 8)
        #expect(lines.first == #"{"key":"note","value":"two words","status":"ok"}"#)
        #expect(lines.count >= 3 && lines[2].hasPrefix("node  role"), "status prints a plain table in a pipe")
        #expect(lines.last == "voters: 0,1,2")

        server.signal(SIGTERM)
        #expect(server.waitForExit(seconds: 10) == 0)
        #expect(server.log.contains("stopped"))
    }

    @Test func clientPipeModeDrivesFaults() throws {
        let server = try ServerProcess()
        let script = """
            put before 1
            kill 0
            restart 0
            partition 0 | 1,2
            heal
            isolate 2
            heal
            slow 1 10
            heal
            cluster
            put after 2
            get after linearizable
            logsize
            snapshot
            metrics
            """
        let result = try Binaries.run("ClientMain", ["--port", String(server.port)], input: script + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let output = result.stdout
        #expect(output.components(separatedBy: #"{"status":"ok"}"#).count - 1 == 8, "\(output)")
        #expect(output.contains(#"{"key":"after","value":"2","status":"ok"}"#))
        #expect(output.contains("3 nodes; ") && output.contains("up: 0, 1, 2"))
        #expect(output.contains("node 2: snapshot through entry"))
        #expect(output.contains("elections won"))
        #expect(server.log.contains("partition applied: 0 | 1,2"))
        #expect(server.log.contains("healed"))
        #expect(server.log.contains("node 0   started: replayed"))
    }

    @Test func clientSaysWhereItTriedWhenItCannotConnect() throws {
        let result = try Binaries.run("ClientMain", ["--host", "127.0.0.1", "--port", "1"], input: "")
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:1"))
    }
}
