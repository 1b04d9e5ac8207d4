import JSONText
import ClientShell
import KVClient
import KVRecipes
import KVWire
import Testing

/// follow, lease, lock and elect: what each command line means, the mistakes refused before
/// anything is sent, durations, how events, leases and leaders are shown, and which key holds
/// a lock.
@Suite struct WatchLeaseCommandTests {
    func parse(_ line: String) throws -> ClientCommand { try ShortCommandParser.parse(line) }

    func problem(_ line: String) -> String? {
        do {
            _ = try ShortCommandParser.parse(line)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func follow() throws {
        #expect(try parse("follow config/db") == .follow(.key("config/db"), fromRevision: nil))
        #expect(try parse("FOLLOW --prefix user/") == .follow(.prefix("user/"), fromRevision: nil))
        #expect(try parse("follow --prefix user/ --from 42") == .follow(.prefix("user/"), fromRevision: 42))
        #expect(try parse("follow --from 7 k") == .follow(.key("k"), fromRevision: 7))
        #expect(try parse(#"follow --prefix """#) == .follow(.prefix(""), fromRevision: nil))
        #expect(try parse(#"follow "two words""#) == .follow(.key("two words"), fromRevision: nil))
        #expect(problem("follow") == "usage: " + "follow KEY [--from REV]  or  follow --prefix PREFIX [--from REV]")
        #expect(problem("follow a b")?.hasPrefix("usage: follow KEY") == true)
        #expect(problem("follow --prefix p extra")?.hasPrefix("usage: follow KEY") == true)
        #expect(problem("follow k --from 0") == "--from needs a revision (1 or more), not \"0\"")
        #expect(problem("follow k --from soon") == "--from needs a revision (1 or more), not \"soon\"")
    }

    @Test func leases() throws {
        #expect(try parse("lease grant 5s") == .lease(.grant(ttlMs: 5000)))
        #expect(try parse("lease grant 1500ms") == .lease(.grant(ttlMs: 1500)))
        #expect(try parse("LEASE GRANT 2m") == .lease(.grant(ttlMs: 120_000)))
        #expect(try parse("lease grant 10") == .lease(.grant(ttlMs: 10_000)))
        #expect(try parse("lease keepalive 7") == .lease(.keepAlive(7)))
        #expect(try parse("lease revoke 7") == .lease(.revoke(7)))
        #expect(try parse("lease info 7") == .lease(.info(7)))
        #expect(try parse("lease list") == .lease(.list))
        #expect(problem("lease grant 500ms") == "a lease lives at least 1s (the server grants TTLs of 1000 ms or more), not 500ms")
        #expect(problem("lease grant soon") == "a TTL is written like 5s, 500ms, 2m or 1.5s, not \"soon\"")
        #expect(problem("lease grant")?.hasPrefix("usage: lease grant TTL") == true)
        #expect(problem("lease keepalive x") == "a lease ID is the number lease grant printed, not \"x\"")
        #expect(problem("lease revoke") == "usage: lease revoke ID")
        #expect(problem("lease list 3") == "usage: lease list")
        #expect(problem("lease") == "usage: " + "lease grant TTL | lease keepalive ID | lease revoke ID | lease info ID | lease list   (TTL: 5s, 500ms, 2m; at least 1s)")
        #expect(problem("lease renew 3")?.hasPrefix("usage: lease grant TTL |") == true)
    }

    @Test func leaseRequestsAsTheySend() {
        #expect(RequestEncoder.line(ClientRequest(.leaseGrant(ttlMs: 5000))) == #"{"op":"lease_grant","ttlMs":5000}"#)
        #expect(RequestEncoder.line(ClientRequest(.leaseKeepAlive(7))) == #"{"op":"lease_keepalive","lease":7}"#)
        #expect(RequestEncoder.line(ClientRequest(.leaseRevoke(7))) == #"{"op":"lease_revoke","lease":7}"#)
        #expect(RequestEncoder.line(ClientRequest(.leaseInfo(7))) == #"{"op":"lease_info","lease":7}"#)
    }

    @Test func putWithALease() throws {
        guard case .write(let request, _) = try parse("put session/1 alive --lease 7") else {
            Issue.record("put --lease is not a write")
            return
        }
        #expect(RequestEncoder.line(request) == #"{"op":"put","key":"session/1","value":"alive","lease":7}"#)
        guard case .write(let plain, _) = try parse("put --lease 9 --revisions k v") else { Issue.record("not a write"); return }
        #expect(RequestEncoder.line(plain) == #"{"op":"put","key":"k","value":"v","lease":9,"revisions":true}"#)
        #expect(problem("put k v --lease") == "usage: put KEY VALUE [--lease ID] [--revisions]")
        #expect(problem("put k v --lease seven") == "a lease ID is the number lease grant printed, not \"seven\"")
    }

    @Test func recipes() throws {
        #expect(try parse("lock jobs") == .recipe(.lock(name: "jobs", ttlMs: 5000)))
        #expect(try parse("lock jobs --ttl 2s") == .recipe(.lock(name: "jobs", ttlMs: 2000)))
        #expect(try parse("elect db web-1") == .recipe(.elect(name: "db", value: "web-1", ttlMs: 5000)))
        #expect(try parse(#"elect db "web 1" --ttl 10s"#) == .recipe(.elect(name: "db", value: "web 1", ttlMs: 10_000)))
        #expect(try parse("elect db --observe") == .recipe(.observe(name: "db")))
        #expect(try parse("elect --observe db") == .recipe(.observe(name: "db")))
        #expect(try parse("observe db") == .recipe(.observe(name: "db")))
        #expect(RecipeCommand.lock(name: "jobs", ttlMs: 5000).prefix == "lock/jobs/")
        #expect(RecipeCommand.elect(name: "db", value: "v", ttlMs: 5000).prefix == "election/db/")
        #expect(RecipeCommand.observe(name: "db").prefix == "election/db/")
        #expect(problem("lock") == "usage: lock NAME [--ttl TTL] [-- COMMAND...]")
        #expect(try parse("lock jobs --ttl 2s -- make deploy --ttl 3") == .recipe(.lock(name: "jobs", ttlMs: 2000, command: ["make", "deploy", "--ttl", "3"])))
        #expect(try parse(#"lock jobs -- sh -c "echo hi; sleep 1""#) == .recipe(.lock(name: "jobs", ttlMs: 5000, command: ["sh", "-c", "echo hi; sleep 1"])))
        #expect(problem("lock jobs --") == "usage: lock NAME [--ttl TTL] [-- COMMAND...]   (a command after --)")
        #expect(problem("lock -- make") == "usage: lock NAME [--ttl TTL] [-- COMMAND...]")
        #expect(problem("lock a/b") == "NAME must not be empty nor hold \"/\", not \"a/b\"")
        #expect(problem(#"lock """#) == "NAME must not be empty nor hold \"/\", not \"\"")
        #expect(problem("lock jobs --ttl 100ms") == "a lease lives at least 1s (the server grants TTLs of 1000 ms or more), not 100ms")
        #expect(problem("elect db") == "usage: elect NAME VALUE [--ttl TTL]  or  elect NAME --observe")
        #expect(problem("elect db v extra") == "usage: elect NAME VALUE [--ttl TTL]  or  elect NAME --observe")
        #expect(problem("elect db --observe v") == "usage: elect NAME --observe")
    }

    @Test func durations() throws {
        #expect(try Durations.milliseconds("5s") == 5000)
        #expect(try Durations.milliseconds("500ms") == 500)
        #expect(try Durations.milliseconds("2m") == 120_000)
        #expect(try Durations.milliseconds("1h") == 3_600_000)
        #expect(try Durations.milliseconds("1.5s") == 1500)
        #expect(try Durations.milliseconds("0.25S") == 250)
        #expect(try Durations.milliseconds("3") == 3000)
        for bad in ["", "s", "5 s", "-5s", "5x", "1e3s", "five", "5sec", ".s", "1..2s"] {
            #expect(throws: ShortCommandParser.Problem.self, "\(bad)") { try Durations.milliseconds(bad) }
        }
        #expect(Durations.text(milliseconds: 0) == "0ms")
        #expect(Durations.text(milliseconds: 500) == "500ms")
        #expect(Durations.text(milliseconds: 5000) == "5s")
        #expect(Durations.text(milliseconds: 3240) == "3.2s")
        #expect(Durations.text(milliseconds: 59_990) == "60s")
        #expect(Durations.text(milliseconds: 120_000) == "2m")
        #expect(Durations.text(milliseconds: 90_000) == "1m30s")
        #expect(Durations.text(milliseconds: 5_400_000) == "1h30m")
    }

    func event(_ json: String) throws -> WatchEvent {
        let object = try #require(try JSONParser.parse(json).objectValue)
        return try #require(WatchEvent(object))
    }

    @Test func eventsForPeopleAndForPrograms() throws {
        let put = try event(#"{"type":"put","key":"user/1","value":"Bob","modRevision":42,"createRevision":40,"version":2}"#)
        #expect(put.modRevision == 42 && put.createRevision == 40 && put.version == 2 && !put.isDelete)
        #expect(Renderers.eventLine(put, time: "10:42:07.311") == "10:42:07.311  rev 42  put     user/1 = Bob")
        #expect(Renderers.eventLine(put, time: "10:42:07.311", color: true) == "10:42:07.311  rev 42  \u{1B}[32mput   \u{1B}[0m  user/1 = Bob")
        let delete = try event(#"{"type":"delete","key":"user/1","value":null,"modRevision":43,"createRevision":0,"version":0}"#)
        #expect(delete.isDelete && delete.value == nil)
        #expect(Renderers.eventLine(delete, time: "10:42:07.415") == "10:42:07.415  rev 43  delete  user/1")
        let odd = try event(#"{"type":"put","key":"a b","value":"line1\nline2","modRevision":5,"createRevision":5,"version":1}"#)
        #expect(Renderers.eventLine(odd, time: "t") == #"t  rev 5  put     a b = line1\nline2"#)
        let long = try event(#"{"type":"put","key":"k","value":"\#(String(repeating: "x", count: 100))","modRevision":5,"createRevision":5,"version":1}"#)
        #expect(Renderers.eventLine(long, time: "t") == "t  rev 5  put     k = " + String(repeating: "x", count: 79) + "…")
        #expect(Renderers.eventJSON(put) == #"{"type":"put","key":"user/1","value":"Bob","modRevision":42,"createRevision":40,"version":2}"#)
        #expect(Renderers.eventJSON(delete) == #"{"type":"delete","key":"user/1","value":null,"modRevision":43,"createRevision":0,"version":0}"#)
        #expect(WatchEvent(JSONObject([("type", .string("put"))])) == nil, "an event without key and revision is not one")
        #expect(Renderers.clockTime().count == 12)
    }

    func object(_ json: String) throws -> JSONObject { try #require(try JSONParser.parse(json).objectValue) }

    @Test func leasesForPeople() throws {
        #expect(Renderers.leaseGranted(try object(#"{"status":"ok","lease":7,"ttlMs":5000}"#)) == "lease 7 granted, TTL 5s")
        #expect(Renderers.leaseKeptAlive(try object(#"{"status":"ok","lease":7,"ttlMs":4980}"#), time: "t") == "t  lease 7 kept alive, 5s to live")
        #expect(Renderers.leaseRevoked(7, try object(#"{"status":"ok","deleted":2,"revision":9}"#)) == "lease 7 revoked, 2 keys deleted")
        #expect(Renderers.leaseRevoked(7, try object(#"{"status":"ok","deleted":1}"#)) == "lease 7 revoked, 1 key deleted")
        #expect(Renderers.leaseInfo(try object(#"{"status":"ok","lease":7,"ttlMs":5000,"remainingMs":3240,"keys":["a","b c"]}"#))
                == #"lease 7: TTL 5s, 3.2s left, 2 keys: a, "b c""#)
        #expect(Renderers.leaseInfo(try object(#"{"status":"ok","lease":8,"ttlMs":120000,"remainingMs":500,"keys":[]}"#))
                == "lease 8: TTL 2m, 500ms left, no keys")
        let table = Renderers.leaseTable([(7, 5000, try object(#"{"status":"ok","lease":7,"ttlMs":5000,"remainingMs":4100,"keys":["lock/a/7"]}"#)),
                                          (12, 60_000, nil)])
        #expect(table == """
            lease  ttl  left  keys
            7       5s  4.1s  lock/a/7
            12      1m     -  (expired or revoked)
            """)
        #expect(Renderers.leaseTable([]).hasPrefix("no lease granted by this ClientMain yet (the server has no request that lists every lease"))
    }

    @Test func leadersForPeopleAndPrograms() {
        #expect(Renderers.leaderLine((key: "election/db/7", value: "web-1"), time: "t") == "t  leader: web-1 (election/db/7)")
        #expect(Renderers.leaderLine(nil, time: "t") == "t  no leader")
        #expect(Renderers.leaderJSON((key: "election/db/7", value: "web-1"), revision: 12) == #"{"leader":"web-1","key":"election/db/7","revision":12}"#)
        #expect(Renderers.leaderJSON(nil, revision: 13) == #"{"leader":null,"revision":13}"#)
    }

    @Test func theOldestKeyHoldsAndEachWaiterWatchesTheOneBeforeIt() {
        typealias Item = RecipeClient.Item
        let keys = [Item(key: "lock/a/9", value: "c", createRevision: 30), Item(key: "lock/a/3", value: "a", createRevision: 12),
                    Item(key: "lock/a/5", value: "b", createRevision: 20)]
        #expect(Campaign.decide(keys, mine: "lock/a/3") == .acquired(createRevision: 12))
        #expect(Campaign.decide(keys, mine: "lock/a/5") == .waitFor(key: "lock/a/3", value: "a", createRevision: 12))
        #expect(Campaign.decide(keys, mine: "lock/a/9") == .waitFor(key: "lock/a/5", value: "b", createRevision: 20),
                "the third waits for the second, not the holder: a release wakes one waiter")
        #expect(Campaign.decide(keys, mine: "lock/a/11") == .keyGone)
        #expect(Campaign.decide([], mine: "lock/a/11") == .keyGone)
        // Keys created by one transaction share a revision: their byte order decides.
        let tied = [Item(key: "lock/a/2", value: "", createRevision: 5), Item(key: "lock/a/10", value: "", createRevision: 5)]
        #expect(Campaign.decide(tied, mine: "lock/a/10") == .acquired(createRevision: 5))
        #expect(Campaign.decide(tied, mine: "lock/a/2") == .waitFor(key: "lock/a/10", value: "", createRevision: 5))
    }

    @Test func theOldestCandidateLeads() {
        #expect(ElectionObserver.leader([:]) == nil)
        let leader = ElectionObserver.leader(["election/db/9": ("b", 30), "election/db/3": ("a", 12), "election/db/4": ("c", 40)])
        #expect(leader?.key == "election/db/3" && leader?.value == "a")
    }

    @Test func helpNamesEveryNewCommand() {
        for word in ["follow KEY", "follow --prefix P", "lease grant TTL", "lease keepalive ID", "lease revoke ID", "lease info ID",
                     "lease list", "--lease ID", "lock NAME", "-- COMMAND", "elect NAME VALUE", "elect NAME --observe"] {
            #expect(ShortCommandParser.helpText.contains(word), "help names \(word)")
        }
    }
}
