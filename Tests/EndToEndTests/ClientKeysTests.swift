import Foundation
import JSONText
import KVClient
import Testing

/// ClientMain as a user drives it through a pipe: ordered keys, ranges, getall, a lock made of a
/// transaction, cas by revision, and a write whose outcome was unknown sent again and applied once.
@Suite(.serialized) struct ClientKeysTests {
    @Test func aPipeSessionWithKeysInOrderALockAndCasByRevision() throws {
        let server = try ServerProcess()
        let script = """
            put name Alice
            put age 25
            put user/1 Bob
            put user/2 Carol
            put "user/ü" Dan
            getall
            range --prefix user/
            range --prefix user/ --limit 2 --keys-only
            txn if lock missing then put lock me else get lock
            txn if lock missing then put lock you else get lock
            cas name --rev 1 Alicia
            cas name --rev 1 Alice2
            get name --revisions
            getall --prefix nothing/
            delete --prefix user/
            getall --keys-only
            """
        let result = try Binaries.run("ClientMain", ["--port", String(server.port)], input: script + "\n")
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout == #"""
            {"key":"name","value":"Alice","status":"ok"}
            {"key":"age","value":"25","status":"ok"}
            {"key":"user/1","value":"Bob","status":"ok"}
            {"key":"user/2","value":"Carol","status":"ok"}
            {"key":"user/ü","value":"Dan","status":"ok"}
            {"key":"age","value":"25"}
            {"key":"name","value":"Alice"}
            {"key":"user/1","value":"Bob"}
            {"key":"user/2","value":"Carol"}
            {"key":"user/ü","value":"Dan"}
            key     value  created  modified  version
            user/1  Bob          3         3        1
            user/2  Carol        4         4        1
            user/ü  Dan          5         5        1
            3 keys, store revision 5
            key     created  modified  version
            user/1        3         3        1
            user/2        4         4        1
            2 keys (more follow), store revision 5
            more… continue with: range --prefix user/ --limit 2 --after user/2 --keys-only
            succeeded: every compare held, ran the then-steps (store revision 6)
              put lock me  ok
            not succeeded: a compare did not hold, ran the else-steps (store revision 6)
              get lock  = me
            {"key":"name","value":"Alicia","status":"ok"}
            {"key":"name","status":"error","code":"cas_failed","current":"Alicia","modRevision":7,"error":"the key does not match the expectation"}
            {"key":"name","value":"Alicia","status":"ok","createRevision":1,"modRevision":7,"version":2,"revision":7}
            {"status":"ok","deleted":3,"revision":8}
            {"key":"age"}
            {"key":"lock"}
            {"key":"name"}

            """#)
    }

    /// More keys than one range answers (10,000): getall continues with `after` until the end.
    @Test func getallPagesThroughMoreKeysThanOneAnswerHolds() throws {
        let server = try ServerProcess()
        let connection = try ClientConnection(host: "127.0.0.1", port: server.port)
        let count = 12_345
        var loaded = 0
        while loaded < count {
            let batch = min(2000, count - loaded)
            try connection.send((loaded..<(loaded + batch)).map { #"{"op":"put","key":"bulk/\#($0)","value":"v\#($0)"}"# }.joined(separator: "\n"))
            for _ in 0..<batch {
                let answer = try #require(try connection.receiveLine())
                #expect(answer.contains(#""status":"ok""#), "\(answer)")
            }
            loaded += batch
        }
        _ = try connection.request(#"{"op":"put","key":"other","value":"x"}"#)
        let result = try Binaries.run("ClientMain", ["--port", String(server.port)], input: "getall --prefix bulk/\n")
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        let expected = (0..<count).map { "bulk/\($0)" }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(lines.count == count)
        #expect(lines.map { line in (try? JSONParser.parse(String(line)).objectValue?["key"]?.stringValue) ?? nil } == expected)
        #expect(lines.first == #"{"key":"bulk/0","value":"v0"}"#)
        #expect(lines.last == #"{"key":"bulk/9999","value":"v9999"}"#)  // byte order: "bulk/9999" > "bulk/12344"
    }

    /// A write whose outcome is unknown: every message to and from the leader is delayed past
    /// the request timeout, so the cas is appended but answered `timeout`. ClientMain sends it
    /// again with the same client and seq; once the retry is seen the delay is lifted, the first
    /// attempt commits and applies, and the repeat is answered with what the store recorded for
    /// it: the cas ran once (run again, it would have been refused, its revision being gone).
    @Test func aTimedOutCasIsSentAgainWithTheSameSessionAndAppliedOnce() throws {
        let directory = NSTemporaryDirectory() + "raftkv-e2e-retry-" + UUID().uuidString
        let server = try ServerProcess(directory: directory, configText: """
            {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(directory)/data", "http": {"port": 0},
             "beatTimeMs": 50, "electionTimeoutMs": {"min": 3000, "max": 5000}, "requestTimeoutMs": 1000, "fsync": true}
            """)
        let admin = try ClientConnection(host: "127.0.0.1", port: server.port)
        var leader: Int?
        #expect(try waitFor(seconds: 30) {
            leader = try JSONParser.parse(try admin.request(#"{"admin":"status"}"#) ?? "").objectValue?["leader"]?.intValue
            return leader != nil
        })
        let client = try ClientProcess(port: server.port)
        client.type("put k v0")
        #expect(waitFor(seconds: 20) { client.output.contains(#"{"key":"k","value":"v0","status":"ok"}"#) }, "\(client.errors)")

        #expect(try admin.request(#"{"admin":"slow","node":\#(try #require(leader)),"ms":1500}"#) == #"{"status":"ok"}"#)
        client.type("cas k --rev 1 v1")
        #expect(waitFor(seconds: 20) { client.errors.contains("(retried: timeout)") }, "\(client.errors)")
        #expect(try admin.request(#"{"admin":"heal"}"#) == #"{"status":"ok"}"#)
        #expect(waitFor(seconds: 20) { client.output.contains(#"{"key":"k","value":"v1","status":"ok"}"#) },
                "out: \(client.output)\nerr: \(client.errors)")
        #expect(client.finish() == 0)

        // The same client and seq went again: the put was seq 1, the cas seq 2.
        #expect(client.errors.contains(" seq 2 (retry 1 of 3)"), "\(client.errors)")
        #expect(client.errors.range(of: #"cli-[^ ]+ seq 2"#, options: .regularExpression) != nil)
        #expect(client.output == #"{"key":"k","value":"v0","status":"ok"}"# + "\n" + #"{"key":"k","value":"v1","status":"ok"}"# + "\n")
        // Applied once: one write after the put, the key at version 2.
        #expect(try admin.request(#"{"op":"get","key":"k","revisions":true,"consistency":"linearizable"}"#)
                == #"{"key":"k","value":"v1","status":"ok","createRevision":1,"modRevision":2,"version":2,"revision":2}"#)
    }
}

/// A ClientMain reading commands from a pipe the test keeps open, its output in files.
final class ClientProcess {
    let process = Process()
    let input = Pipe()
    let outputPath: String
    let errorPath: String

    init(port: Int) throws {
        let base = NSTemporaryDirectory() + "raftkv-client-" + UUID().uuidString
        outputPath = base + ".out"
        errorPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.path("ClientMain"))
        process.arguments = ["--port", String(port)]
        process.standardInput = input
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
    }

    func type(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Ends the input and waits for the client to exit; its status (nil: it did not exit).
    func finish() -> Int32? {
        try? input.fileHandleForWriting.close()
        guard waitFor(seconds: 20, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
