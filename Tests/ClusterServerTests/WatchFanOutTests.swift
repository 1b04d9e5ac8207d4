import JSONText
import KVStore
@testable import NodeHosting
import Testing

/// Fan-out of one change to many watches: every watch of a filter gets the same events, each
/// once, in revision order, whatever the other filters watched beside it.
@Suite(.serialized) struct WatchFanOutTests {
    @Test func manyWatchersEachGetEveryMatchingEventOnceInOrder() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        // 16 connections × 8 watches: six on prefix fan/, one on prefix fan/1, one on key fan/7.
        let names = ["p0", "p1", "p2", "p3", "p4", "p5", "one", "seven"]
        var readers: [WatchReader] = []
        for _ in 0..<16 {
            let reader = try WatchReader(port: cluster.port)
            for name in names {
                let filter = name == "one" ? #""prefix":"fan/1""# : name == "seven" ? #""key":"fan/7""# : #""prefix":"fan/""#
                try reader.send(#"{"op":"watch",\#(filter),"watch":"\#(name)"}"#)
            }
            readers.append(reader)
        }
        for reader in readers {
            #expect(waitUntil(seconds: 10) {
                Set(reader.all.filter { $0["status"] == .string("ok") }.compactMap { $0["watch"]?.stringValue }) == Set(names)
            })
        }
        var expected: [String] = []
        var present = Set<String>()
        let writer = try cluster.connect()
        for number in 0..<60 {
            let key = "fan/\(number % 10)"
            if number % 7 == 6 {
                #expect(try writer.request(#"{"op":"delete","key":"\#(key)"}"#)?.contains(#""status":"ok""#) == true)
                if present.remove(key) != nil { expected.append("delete " + key) }  // deleting nothing changes nothing
            } else {
                #expect(try writer.request(#"{"key":"\#(key)","value":"\#(number)"}"#)?.contains(#""status":"ok""#) == true)
                present.insert(key)
                expected.append("put " + key)
            }
            if number % 5 == 0 { _ = try writer.request(#"{"key":"other/\#(number)","value":"x"}"#) }
        }
        func described(_ events: [JSONObject]) -> [String] {
            events.map { "\($0["type"]?.stringValue ?? "?") \($0["key"]?.stringValue ?? "?")" }
        }
        let ones = expected.filter { $0.hasSuffix("fan/1") }
        let sevens = expected.filter { $0.hasSuffix("fan/7") }
        for reader in readers {
            #expect(waitUntil(seconds: 20) {
                names.prefix(6).allSatisfy { reader.events($0).count >= expected.count }
                    && reader.events("one").count >= ones.count && reader.events("seven").count >= sevens.count
            }, "\(names.map { "\($0): \(reader.events($0).count)" }) of \(expected.count), \(ones.count), \(sevens.count); \(reader.all.filter { $0["events"] == nil }.prefix(3))")
        }
        var firstRevisions: [Int]?
        for reader in readers {
            for name in names.prefix(6) {
                let events = reader.events(name)
                #expect(described(events) == expected, "watch \(name): \(described(events))")
                let revisions = events.compactMap { $0["modRevision"]?.intValue }
                #expect(zip(revisions, revisions.dropFirst()).allSatisfy { $0 < $1 }, "revision order: \(revisions)")
                if let firstRevisions { #expect(revisions == firstRevisions) } else { firstRevisions = revisions }
            }
            #expect(described(reader.events("one")) == ones)
            #expect(described(reader.events("seven")) == sevens)
        }
    }

    @Test func leaseKeepalivesAtScaleKeepOneDeadlineEntryPerLease() {
        let keeper = LeaseKeeper()
        let ttl: Int64 = 10_000
        let ttlNanos = UInt64(ttl) * 1_000_000
        var leases: [Int64: KVState.Lease] = [:]
        for id in 1...10_000 { leases[Int64(id)] = KVState.Lease(ttlMs: ttl) }
        let start: UInt64 = 1_000_000_000_000
        #expect(keeper.check(leases: leases, isLeader: true, now: start).isEmpty)
        #expect(keeper.count == 10_000 && keeper.scheduledCount == 10_000)
        // Eight rounds of keepalives a second apart for the even leases: the heap does not grow.
        var now = start
        for _ in 0..<8 {
            now += 1_000_000_000
            for id in stride(from: 2, through: 10_000, by: 2) {
                #expect(keeper.keepAlive(Int64(id), lease: leases[Int64(id)]!, now: now))
            }
            _ = keeper.check(leases: leases, isLeader: true, now: now)
            #expect(keeper.scheduledCount <= 10_000, "one heap entry per lease, however many keepalives")
        }
        // The odd leases were never kept alive: they end at start + TTL, proposed in id order.
        #expect(keeper.check(leases: leases, isLeader: true, now: start + ttlNanos - 1).isEmpty)
        now = start + ttlNanos
        let due = keeper.check(leases: leases, isLeader: true, now: now)
        #expect(due == stride(from: 1, through: 9_999, by: 2).map { Int64($0) })
        #expect(keeper.check(leases: leases, isLeader: true, now: now + 1).isEmpty, "an end proposed is not proposed again at once")
        #expect(!keeper.keepAlive(1, lease: leases[1]!, now: now + 2), "a lease being ended is not kept alive")
        // Their ends are applied: counted once, forgotten.
        for id in due { leases.removeValue(forKey: id) }
        #expect(keeper.check(leases: leases, isLeader: true, now: now + 3).isEmpty)
        #expect(keeper.expired == 5_000 && keeper.count == 5_000)
        // The kept leases end a TTL after their last keepalive, not before.
        let lastKeepalive = start + 8 * 1_000_000_000
        #expect(keeper.check(leases: leases, isLeader: true, now: lastKeepalive + ttlNanos - 1).isEmpty)
        #expect(keeper.check(leases: leases, isLeader: true, now: lastKeepalive + ttlNanos).count == 5_000)
    }

    @Test func aNewLeaderGivesEveryLeaseAFullTTLAndAGrantRunsAFullTTL() {
        let keeper = LeaseKeeper()
        let leases: [Int64: KVState.Lease] = [5: KVState.Lease(ttlMs: 2_000), 9: KVState.Lease(ttlMs: 1_000)]
        let elected: UInt64 = 50_000_000_000
        #expect(keeper.check(leases: leases, isLeader: false, now: elected - 1).isEmpty && !keeper.leading)
        #expect(keeper.check(leases: leases, isLeader: true, now: elected).isEmpty)
        #expect(keeper.remainingMs(5, now: elected) == 2_000 && keeper.remainingMs(9, now: elected) == 1_000)
        var grown = leases
        grown[12] = KVState.Lease(ttlMs: 3_000)
        keeper.granted(12, ttlMs: 3_000, now: elected + 500_000_000)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 999_999_999).isEmpty)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 1_000_000_000) == [9])
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 1_999_999_999).isEmpty)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 2_000_000_000) == [5, 9], "9's end did not happen: proposed again")
        grown.removeValue(forKey: 5)
        grown.removeValue(forKey: 9)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 3_499_999_999).isEmpty && keeper.expired == 2)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 3_500_000_000) == [12])
        // Leadership lost: deadlines forgotten; regained later: a full TTL again for each.
        #expect(keeper.check(leases: grown, isLeader: false, now: elected + 4_000_000_000).isEmpty && keeper.count == 0)
        #expect(keeper.check(leases: grown, isLeader: true, now: elected + 9_000_000_000).isEmpty)
        #expect(keeper.remainingMs(12, now: elected + 9_000_000_000) == 3_000)
    }
}
