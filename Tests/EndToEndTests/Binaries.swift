import Foundation
import Testing

/// Runs the built ServerMain and ClientMain as a user would.
enum Binaries {
    /// The directory holding the built products (next to the test bundle).
    static var directory: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/ServerMain") } ?? candidates[1]
    }

    static func path(_ name: String) -> String { directory + "/" + name }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a binary to completion with optional standard input.
    static func run(_ name: String, _ arguments: [String], input: String? = nil, directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(name))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
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

/// A ServerMain process with its own data directory and an ephemeral port.
final class ServerProcess {
    let process = Process()
    let directory: String
    let logPath: String
    private(set) var port = 0

    init(directory: String? = nil, configText: String? = nil, configPath existing: String? = nil,
         extraArguments: [String] = []) throws {
        self.directory = directory ?? NSTemporaryDirectory() + "raftkv-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let configPath = existing ?? self.directory + "/cluster.json"
        if existing == nil {
            try (configText ?? """
                {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(self.directory)/data",
                 "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "fsync": true, "http": {"port": 0}}
                """).write(toFile: configPath, atomically: true, encoding: .utf8)
        }
        logPath = self.directory + "/server-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.path("ServerMain"))
        process.arguments = ["--config", configPath] + extraArguments
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let started = waitFor(seconds: 30) { self.log.contains("listening on") }
        #expect(started, "ServerMain did not start: \(log)")
        if let line = log.split(separator: "\n").first(where: { $0.contains("listening on") }),
           let portText = line.split(separator: ":").last, let number = Int(portText) {
            port = number
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The HTTP port, from the line the server prints ("… on http(s)://127.0.0.1:PORT/").
    var httpPort: Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("HTTP API and live view on") }),
              let address = line.split(separator: " ").last else { return nil }
        return Int(address.split(separator: ":").last?.filter(\.isNumber) ?? "")
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    func waitForExit(seconds: Double) -> Int32? {
        let exited = waitFor(seconds: seconds) { !self.process.isRunning }
        return exited ? process.terminationStatus : nil
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Polls until `condition` holds or the deadline passes.
func waitFor(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
