import Foundation
import Testing

/// Security as a user meets it, through the real binaries and real clients (curl, openssl).
@Suite(.serialized) struct SecurityEndToEndTests {
    func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "raftkv-security-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aServerOnAnOpenAddressRefusesToStartWithoutTokens() throws {
        let directory = try temporaryDirectory()
        let open = directory + "/open.json"
        try #"{"proxy":{"host":"0.0.0.0","port":0},"http":{"port":0},"dataDir":"\#(directory)/d"}"#.write(toFile: open, atomically: true, encoding: .utf8)
        let refused = try Binaries.run("ServerMain", ["--config", open])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("0.0.0.0") && refused.stderr.contains("\"auth\"") && refused.stderr.contains("tokens"), "\(refused.stderr)")
        let members = directory + "/members.json"
        try #"{"members":[{"id":0,"raft":"0.0.0.0:17900","client":"127.0.0.1:17970"}],"auth":{"tokens":[{"token":"0123456789abcdef","role":"admin"}]}}"#
            .write(toFile: members, atomically: true, encoding: .utf8)
        let member = try Binaries.run("ServerMain", ["--config", members, "--node", "0"])
        #expect(member.status == 2 && member.stderr.contains("peerSecret") && member.stderr.contains("tls"), "\(member.stderr)")
    }

    @Test func aClusterOverTLSFromMakeCertsServesCurlAndOpenSSL() throws {
        let directory = try temporaryDirectory()
        let certs = directory + "/certs"
        let made = try Binaries.run("ServerMain", ["--make-certs", certs, "--config", "config/cluster.json"],
                                    directory: FileManager.default.currentDirectoryPath)
        #expect(made.status == 0, "\(made.stderr)")
        for file in ["ca.pem", "ca-key.pem", "member0.pem", "member0-key.pem"] {
            #expect(FileManager.default.fileExists(atPath: certs + "/" + file), "\(file)")
        }
        let server = try ServerProcess(configText: """
            {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(directory)/data", "fsync": false, "idleTimeoutSeconds": 1,
             "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "http": {"port": 0},
             "auth": {"tokens": [{"token": "admin-secret-token", "role": "admin"}, {"token": "read-only-token", "role": "read"}]},
             "tls": {"cert": "\(certs)/member{id}.pem", "key": "\(certs)/member{id}-key.pem", "ca": "\(certs)/ca.pem"}}
            """)
        defer { server.signal(SIGTERM) }
        let httpPort = try #require(server.httpPort)
        // curl verifies the server against the cluster's CA and sends a bearer token.
        var put = Result { try Binaries.runTool("curl", ["-s", "--cacert", certs + "/ca.pem", "-X", "PUT", "--data", "hi",
                                                           "-H", "Authorization: Bearer admin-secret-token",
                                                           "https://127.0.0.1:\(httpPort)/v1/kv/greeting"]) }
        _ = waitFor(seconds: 10) {
            put = Result { try Binaries.runTool("curl", ["-s", "--cacert", certs + "/ca.pem", "-X", "PUT", "--data", "hi",
                                                         "-H", "Authorization: Bearer admin-secret-token",
                                                         "https://127.0.0.1:\(httpPort)/v1/kv/greeting"]) }
            return (try? put.get().stdout.contains(#""status":"ok""#)) == true
        }
        let answer = try put.get()
        #expect(answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"key":"greeting","value":"hi","status":"ok"}"#, "\(answer)")
        let refused = try Binaries.runTool("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", certs + "/ca.pem",
                                                    "-X", "PUT", "--data", "x", "-H", "Authorization: Bearer read-only-token",
                                                    "https://127.0.0.1:\(httpPort)/v1/kv/greeting"])
        #expect(refused.stdout == "403")
        let anonymous = try Binaries.runTool("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", certs + "/ca.pem",
                                                      "https://127.0.0.1:\(httpPort)/v1/kv/greeting"])
        #expect(anonymous.stdout == "401")
        // openssl s_client speaks the line protocol over TLS (it waits for the server, which closes
        // the connection after its idle time of a second).
        let line = try Binaries.runTool("openssl", ["s_client", "-quiet", "-CAfile", certs + "/ca.pem", "-verify_return_error",
                                                    "-connect", "127.0.0.1:\(server.port)"],
                                        input: #"{"key":"greeting","token":"read-only-token"}"# + "\n")
        #expect(line.stdout.contains(#"{"key":"greeting","value":"hi","status":"ok"}"#), "\(line.stdout) \(line.stderr)")
        // Plain TCP to a TLS port gets nowhere, and the server keeps serving.
        let plain = try Binaries.run("ClientMain", ["--port", String(server.port)], input: "{\"key\":\"greeting\"}\n")
        #expect(!plain.stdout.contains("hi"))
        let log = try String(contentsOfFile: server.logPath, encoding: .utf8)
        #expect(!log.contains("admin-secret-token") && !log.contains("read-only-token"), "tokens never appear in the log")
    }
}

extension Binaries {
    /// Runs a tool from the system (curl, openssl) to completion.
    static func runTool(_ name: String, _ arguments: [String], input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        let output = Pipe(), errors = Pipe(), feed = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = feed
        try process.run()
        if let input { feed.fileHandleForWriting.write(Data(input.utf8)) }
        try feed.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self))
    }
}
