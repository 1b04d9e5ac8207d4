import Foundation
import JSONText
import KVClient
import Testing

/// ClientMain's follow, leases, lock and election as a user runs them, against real servers:
/// processes started with their standard input held open, their output read while they run,
/// and every wait a condition polled until a deadline.
@Suite(.serialized) struct WatchLeaseEndToEndTests {
    /// One admin or data request on a fresh connection, as a JSON object.
    func ask(_ port: Int, _ line: String) throws -> JSONObject {
        let connection = try ClientConnection(host: "127.0.0.1", port: port)
        let answer = try #require(try connection.request(line))
        return try #require(try JSONParser.parse(answer).objectValue)
    }

    func leader(_ port: Int) throws -> Int? {
        try ask(port, #"{"admin":"status"}"#)["leader"]?.intValue
    }

    /// The events a `follow` printed as JSON lines.
    func events(_ client: RunningClient) -> [WatchEvent] {
        client.lines.compactMap { line in (try? JSONParser.parse(line))?.objectValue.flatMap(WatchEvent.init) }
    }

    /// Every event once, in revision order, exactly the writes made (key, value, revision).
    func expectExactly(_ seen: [WatchEvent], _ written: [(key: String, value: String?, revision: Int64)], _ client: RunningClient) {
        let revisions = seen.map(\.modRevision)
        #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count,
                "events in revision order, none twice: \(revisions)")
        #expect(seen.count == written.count, "\(seen.count) events for \(written.count) writes\n\(client.transcript)")
        for (event, write) in zip(seen, written) {
            #expect(event.key == write.key && event.value == write.value && event.modRevision == write.revision,
                    "saw \(event.type) \(event.key)=\(event.value ?? "nil") at \(event.modRevision), wrote \(write)")
        }
    }

    /// `follow --prefix` in one process while another writes; the leader is killed and restarted
    /// (`{"admin":"kill"}` / `restart` in the server's process): the events go on in order, each once.
    @Test func followAPrefixWhileTheLeaderIsKilledAndRestarted() throws {
        let server = try ServerProcess()
        let follow = try RunningClient(["--port", String(server.port), "follow", "--prefix", "feed/"])
        #expect(waitFor(seconds: 10) { follow.stderr.contains("following prefix feed/") }, "\(follow.transcript)")
        let writer = LineWriter(port: server.port)
        var written: [(key: String, value: String?, revision: Int64)] = []
        func put(_ number: Int) throws {
            let answer = try writer.put("feed/\(number)", "v\(number)")
            written.append(("feed/\(number)", "v\(number)", Int64(try #require(answer["modRevision"]?.intValue))))
        }
        for number in 0..<15 { try put(number) }
        try writer.put("other/x", "not followed")
        var killed: Int?
        #expect(waitFor(seconds: 10) { killed = try? self.leader(server.port); return killed != nil })
        let leader = try #require(killed)
        #expect(try ask(server.port, #"{"admin":"kill","node":\#(leader)}"#)["status"] == .string("ok"))
        for number in 15..<30 { try put(number) }
        #expect(try ask(server.port, #"{"admin":"restart","node":\#(leader)}"#)["status"] == .string("ok"))
        for number in 30..<45 { try put(number) }
        #expect(waitFor(seconds: 30) { self.events(follow).count >= written.count }, "\(follow.transcript)")
        follow.closeInput()
        #expect(follow.waitForExit(seconds: 10) == 0, "ends with its input")
        expectExactly(events(follow), written, follow)
        #expect(follow.stderr.contains("stopped following (end of input)"))
    }

    /// The member a `follow` is connected to is killed (SIGKILL) while writes go on through
    /// another and is started again: the follow reconnects to the same address, says so, resumes
    /// from the revision after its last event, and misses and repeats nothing.
    @Test func followReconnectsAndResumesAfterItsMemberRestarts() throws {
        let cluster = try MemberCluster()
        let leader = try cluster.awaitLeader(asking: 0)
        let writerMember = (leader + 1) % 3
        let follow = try RunningClient(["--port", String(cluster.clientPorts[leader]!), "follow", "--prefix", "feed/"])
        #expect(waitFor(seconds: 10) { follow.stderr.contains("following prefix feed/") }, "\(follow.transcript)")
        let writer = LineWriter(port: cluster.clientPorts[writerMember]!)
        var written: [(key: String, value: String?, revision: Int64)] = []
        func put(_ number: Int) throws {
            let answer = try writer.put("feed/\(number)", "v\(number)")
            written.append(("feed/\(number)", "v\(number)", Int64(try #require(answer["modRevision"]?.intValue))))
        }
        for number in 0..<10 { try put(number) }
        #expect(waitFor(seconds: 10) { self.events(follow).count >= 10 }, "\(follow.transcript)")
        cluster.kill(leader)
        for number in 10..<25 { try put(number) }
        #expect(waitFor(seconds: 10) { follow.stderr.contains("reconnecting to 127.0.0.1:\(cluster.clientPorts[leader]!)") },
                "\(follow.transcript)")
        try cluster.start(leader)
        for number in 25..<35 { try put(number) }
        #expect(waitFor(seconds: 30) { self.events(follow).count >= written.count }, "\(follow.transcript)")
        #expect(follow.stderr.contains("resuming from revision \(written[9].revision + 1)"), "\(follow.transcript)")
        follow.closeInput()
        #expect(follow.waitForExit(seconds: 10) == 0)
        expectExactly(events(follow), written, follow)
    }

    /// A follow from a revision the server no longer keeps says so and stops with status 1;
    /// one that cannot reach the server at all says where it tried.
    @Test func followFromTooOldARevisionStops() throws {
        let server = try ServerProcess(configText: """
            {"nodes": 1, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(NSTemporaryDirectory())raftkv-e2e-\(UUID().uuidString)",
             "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "http": {"port": 0}, "watchHistoryRevisions": 10}
            """)
        let writer = LineWriter(port: server.port)
        for number in 0..<40 { try writer.put("k\(number)", "v") }
        let follow = try RunningClient(["--port", String(server.port), "follow", "--prefix", "k", "--from", "1"])
        #expect(follow.waitForExit(seconds: 10) == 1, "\(follow.transcript)")
        #expect(follow.stderr.contains("the server no longer keeps the changes before revision"), "\(follow.transcript)")
        #expect(follow.stderr.contains("follow again with --from"), "\(follow.transcript)")
        #expect(follow.stdout.isEmpty)
        let nowhere = try Binaries.run("ClientMain", ["--port", String(freePort()), "follow", "k"])
        #expect(nowhere.status == 1 && nowhere.stderr.contains("cannot connect to 127.0.0.1"), "\(nowhere.stderr)")
    }

    /// The lock recipe with three contenders: the first holds; the second waits on the first's
    /// key and the third on the second's (not on the holder: a release wakes one). The holder is
    /// killed with SIGKILL: its lease expires, and the second acquires within the TTL (plus a
    /// margin), the third still waiting; the second releases at the end of its input, and the
    /// third acquires.
    @Test func aKilledLockHoldersLockPassesToTheNextWithinTheTTL() throws {
        let server = try ServerProcess()
        let port = String(server.port)
        let first = try RunningClient(["--port", port, "lock", "jobs", "--ttl", "2s"])
        #expect(waitFor(seconds: 10) { first.stdout.contains("acquired lock/jobs/") }, "\(first.transcript)")
        let second = try RunningClient(["--port", port, "lock", "jobs", "--ttl", "2s"])
        #expect(waitFor(seconds: 10) { second.stderr.contains("waiting: lock/jobs/") }, "\(second.transcript)")
        let third = try RunningClient(["--port", port, "lock", "jobs", "--ttl", "2s"])
        #expect(waitFor(seconds: 10) { third.stderr.contains("waiting: lock/jobs/") }, "\(third.transcript)")
        let holders = try ask(server.port, #"{"op":"range","prefix":"lock/jobs/","consistency":"linearizable"}"#)["items"]?.arrayValue?
            .compactMap { $0.objectValue?["key"]?.stringValue } ?? []
        #expect(holders.count == 3, "three keys queue: \(holders)")
        let firstKey = try #require(first.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(second.stderr.contains("waiting: \(firstKey) "), "the second waits on the holder\n\(second.transcript)")
        #expect(!third.stderr.contains("waiting: \(firstKey) "), "the third waits on the second, not the holder\n\(third.transcript)")
        #expect(!second.stdout.contains("acquired") && !third.stdout.contains("acquired"), "one holder at a time")

        let killedAt = Date()
        first.signal(SIGKILL)
        #expect(waitFor(seconds: 2 + 3) { second.stdout.contains("acquired lock/jobs/") }, "\(second.transcript)")
        let passedAfter = Date().timeIntervalSince(killedAt)
        #expect(passedAfter <= 5, "the lock passed \(passedAfter) s after the holder died (TTL 2 s)")
        #expect(!third.stdout.contains("acquired"), "the third still waits\n\(third.transcript)")
        let tokens = [first.stdout, second.stdout].compactMap { text in
            text.firstRange(of: "fencing token ").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
        }
        #expect(tokens.count == 2 && tokens[0] < tokens[1], "fencing tokens grow from holder to holder: \(tokens)")

        second.closeInput()
        #expect(second.waitForExit(seconds: 10) == 0, "\(second.transcript)")
        #expect(second.stdout.contains("released lock/jobs/"), "\(second.transcript)")
        #expect(waitFor(seconds: 5) { third.stdout.contains("acquired lock/jobs/") }, "released at once: \(third.transcript)")
        third.signal(SIGINT)
        #expect(third.waitForExit(seconds: 10) == 0, "Ctrl-C releases: \(third.transcript)")
        let left = try ask(server.port, #"{"op":"range","prefix":"lock/jobs/","consistency":"linearizable"}"#)["items"]?.arrayValue ?? []
        #expect(left.isEmpty, "every lock key is gone: \(left)")
    }

    /// `lock NAME -- COMMAND` from two processes at once: the commands run one after the other,
    /// never overlapping, each ClientMain exits with its command's status, and no key is left.
    @Test func lockRunsACommandWhileHoldingIt() throws {
        let server = try ServerProcess()
        let log = NSTemporaryDirectory() + "raftkv-lock-\(UUID().uuidString).log"
        let script = "echo start $0 >> \(log); sleep 0.3; echo end $0 >> \(log); exit 3"
        let first = try RunningClient(["--port", String(server.port), "lock", "jobs", "--", "sh", "-c", script, "a"])
        let second = try RunningClient(["--port", String(server.port), "lock", "jobs", "--", "sh", "-c", script, "b"])
        #expect(first.waitForExit(seconds: 20) == 3, "\(first.transcript)")
        #expect(second.waitForExit(seconds: 20) == 3, "\(second.transcript)")
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[0].hasPrefix("start") && lines[1].hasPrefix("end") && lines[2].hasPrefix("start")
                && lines[3].hasPrefix("end") && lines[0].dropFirst(6) == lines[1].dropFirst(4) && lines[0] != lines[2],
                "one command at a time: \(lines)")
        #expect(first.stdout.contains("released lock/jobs/") && second.stdout.contains("released lock/jobs/"))
        let left = try ask(server.port, #"{"op":"range","prefix":"lock/jobs/","consistency":"linearizable"}"#)["items"]?.arrayValue ?? []
        #expect(left.isEmpty, "\(left)")
        let missing = try Binaries.run("ClientMain", ["--port", String(server.port), "lock", "jobs", "--", "no-such-command-here"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot run no-such-command-here"), "\(missing.stderr)")
    }

    /// Two candidates and an observer: the first is elected; killed, the second leads within the
    /// TTL; it resigns at the end of its input. The observer prints each leader once, in order.
    @Test func anElectionPassesLeadershipAndTheObserverFollowsIt() throws {
        let server = try ServerProcess()
        let port = String(server.port)
        let observer = try RunningClient(["--port", port, "elect", "db", "--observe"])
        #expect(waitFor(seconds: 10) { observer.lines.count >= 1 }, "\(observer.transcript)")
        let alpha = try RunningClient(["--port", port, "elect", "db", "alpha", "--ttl", "2s"])
        #expect(waitFor(seconds: 10) { alpha.stdout.contains("leader of db as alpha") }, "\(alpha.transcript)")
        let beta = try RunningClient(["--port", port, "elect", "db", "beta", "--ttl", "2s"])
        #expect(waitFor(seconds: 10) { beta.stderr.contains("waiting: election/db/") }, "\(beta.transcript)")
        #expect(waitFor(seconds: 5) { observer.stdout.contains(#""leader":"alpha""#) }, "\(observer.transcript)")
        alpha.signal(SIGKILL)
        #expect(waitFor(seconds: 2 + 3) { beta.stdout.contains("leader of db as beta") }, "\(beta.transcript)")
        #expect(waitFor(seconds: 5) { observer.stdout.contains(#""leader":"beta""#) }, "\(observer.transcript)")
        beta.closeInput()
        #expect(beta.waitForExit(seconds: 10) == 0 && beta.stdout.contains("resigned"), "\(beta.transcript)")
        #expect(waitFor(seconds: 5) { observer.lines.count >= 4 }, "\(observer.transcript)")
        observer.closeInput()
        #expect(observer.waitForExit(seconds: 10) == 0)
        let leaders = observer.lines.compactMap { line -> String? in
            guard let object = (try? JSONParser.parse(line))?.objectValue else { return nil }
            return object["leader"]?.stringValue ?? "none"
        }
        #expect(leaders == ["none", "alpha", "beta", "none"], "\(observer.transcript)")
    }

    /// Leases from the command line: grant prints the id; a key put with it lives while
    /// `lease keepalive` runs (well past the TTL), and goes within the TTL once it stops;
    /// `lease list` shows every live lease on the server (`lease_list`).
    @Test func aLeaseKeptAliveKeepsItsKeyAndItsEndDeletesIt() throws {
        let server = try ServerProcess()
        let port = String(server.port)
        let granted = try Binaries.run("ClientMain", ["--port", port, "lease", "grant", "1s"])
        #expect(granted.status == 0, "\(granted.stderr)")
        let grant = try #require(try JSONParser.parse(granted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        let id = try #require(grant["lease"]?.intValue)
        #expect(grant["ttlMs"]?.intValue == 1000)
        let session = try Binaries.run("ClientMain", ["--port", port], input: "put svc/a up --lease \(id)\nlease info \(id)\n")
        #expect(session.stdout.contains(#""keys":["svc/a"]"#), "\(session.stdout)\(session.stderr)")

        let keeper = try RunningClient(["--port", port, "lease", "keepalive", String(id)])
        // A keepalive every 333 ms: eight answered is well past twice the TTL.
        #expect(waitFor(seconds: 15) { keeper.lines.count >= 8 }, "\(keeper.transcript)")
        #expect(keeper.lines.allSatisfy { $0.contains(#""lease":\#(id)"#) }, "\(keeper.transcript)")
        #expect(try ask(server.port, #"{"op":"get","key":"svc/a","consistency":"linearizable"}"#)["value"] == .string("up"),
                "the key outlived its TTL while kept alive")
        keeper.closeInput()
        #expect(keeper.waitForExit(seconds: 10) == 0, "\(keeper.transcript)")
        #expect(waitFor(seconds: 1 + 3) {
            (try? self.ask(server.port, #"{"op":"get","key":"svc/a","consistency":"linearizable"}"#))?["code"] == .string("not_found")
        }, "the key goes with its lease")
        let info = try Binaries.run("ClientMain", ["--port", port, "lease", "info", String(id)])
        #expect(info.status == 0 && info.stdout.contains("not_found"), "an error answer, printed as get prints one: \(info.stdout)")
        let kept = try Binaries.run("ClientMain", ["--port", port, "lease", "keepalive", String(id)])
        #expect(kept.status == 1 && kept.stderr.contains("not_found"), "\(kept.stderr)")

        let listed = try Binaries.run("ClientMain", ["--port", port], input: "lease list\nlease grant 5s\nlease grant 2m\nlease list\n")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        // Pipe mode prints lease_list's answer: every live lease on the server (the expired one is gone).
        #expect(lines.count == 4, "\(listed.stdout)")
        #expect(lines.first?.contains(#""leases":[],"count":0"#) == true, "\(listed.stdout)")
        #expect(lines.last?.contains(#""count":2"#) == true && lines.last?.contains(#""remainingMs""#) == true, "\(listed.stdout)")
        #expect(lines.last?.contains(#""ttlMs":120000"#) == true && lines.last?.contains(#""ttlMs":5000"#) == true, "\(listed.stdout)")
    }
}
