import Foundation

/// A ClientMain that keeps running (follow, lock, elect, lease keepalive) as a user starts it:
/// its standard input a pipe this test holds open (closing it is the user's Ctrl-D), its output
/// in files read while it runs.
final class RunningClient {
    let process = Process()
    let input = Pipe()
    let outputPath: String
    let errorPath: String

    init(_ arguments: [String]) throws {
        let base = NSTemporaryDirectory() + "raftkv-client-" + UUID().uuidString
        outputPath = base + ".out"
        errorPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.path("ClientMain"))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
    }

    var stdout: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Both outputs, for failure messages.
    var transcript: String { "stdout:\n\(stdout)\nstderr:\n\(stderr)" }

    /// The end of standard input, as Ctrl-D or a closed pipe gives it.
    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    func waitForExit(seconds: Double) -> Int32? {
        waitFor(seconds: seconds) { !self.process.isRunning } ? process.terminationStatus : nil
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
