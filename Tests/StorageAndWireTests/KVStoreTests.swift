import KVStore
import KVWire
import Testing

/// The key-value state machine: revisions, ranges, transactions, exactly-once sessions and
/// snapshots, applied as every node applies them.
@Suite struct KVStoreTests {
    /// A machine fed commands at consecutive indexes.
    struct Store {
        var machine = KVStateMachine()
        var index = 0

        @discardableResult
        mutating func apply(_ command: KVCommand) -> KVResult {
            index += 1
            return machine.apply(command, at: index).result
        }

        mutating func put(_ key: String, _ value: String) -> KVResult { apply(.put(key: key, value: value)) }
    }

    @Test func commandsRoundTripThroughTheirEntryText() throws {
        let transaction = Transaction(compare: [.value(key: "a", equals: nil), .modRevision(key: "b", equals: 3), .exists(key: "c", true)],
                                      success: [.put(key: "a", value: "1", lease: nil), .get(key: "b"), .range(RangeQuery(prefix: "p", limit: 5))],
                                      failure: [.delete(key: "a"), .deletePrefix("q")])
        let commands: [KVCommand] = [
            .put(key: "a", value: "x\ny"), .delete(key: "a"), .cas(key: "a", expect: nil, value: "1"), .read(key: "a"),
            KVCommand(.put(key: "k", value: "v", lease: 7)), KVCommand(.deletePrefix("pre")),
            KVCommand(.casRevision(key: "k", expectRevision: 0, value: "v")), KVCommand(.txn(transaction)),
            KVCommand(.put(key: "k", value: "v", lease: nil), session: ClientSession(client: "c1", seq: 4), time: 1_700_000_000_123,
                      sessionTimeoutSeconds: 60),
            KVCommand(.delete(key: "k"), session: ClientSession(client: "c\"2", seq: 1)),
        ]
        for command in commands {
            #expect(try KVCommand.decode(command.encoded) == command, "\(command.encoded)")
            #expect(try KVCommand.decodeFast(command.encoded) == command, "fast: \(command.encoded)")
        }
        #expect(KVCommand.put(key: "a", value: "b").encoded == #"{"op":"put","key":"a","value":"b"}"#, "the log format of a plain put is unchanged")
    }

    @Test func onlyCommandsWithASessionAreStampedWithLogTime() throws {
        let plain = KVCommand.put(key: "a", value: #"ends with "seq":5}"#).encoded
        #expect(!KVCommand.needsLogTime(plain))
        let withSession = KVCommand(.put(key: "a", value: "b", lease: nil), session: ClientSession(client: "c", seq: 12)).encoded
        #expect(KVCommand.needsLogTime(withSession))
        let stamped = KVCommand.stamped(withSession, time: 99, sessionTimeoutSeconds: 30)
        let decoded = try KVCommand.decodeFast(stamped)
        #expect(decoded.time == 99 && decoded.sessionTimeoutSeconds == 30 && decoded.session?.seq == 12)
    }

    @Test func everyWriteThatChangesSomethingRaisesTheRevisionByOne() {
        var store = Store()
        #expect(store.put("a", "1") == .key("a", KeyRecord(value: "1", createRevision: 1, modRevision: 1, version: 1), revision: 1))
        #expect(store.put("a", "2") == .key("a", KeyRecord(value: "2", createRevision: 1, modRevision: 2, version: 2), revision: 2))
        #expect(store.apply(.delete(key: "missing")) == .key("missing", nil, revision: 2), "deleting nothing changes nothing")
        #expect(store.apply(.delete(key: "a")) == .key("a", nil, revision: 3))
        #expect(store.put("a", "3") == .key("a", KeyRecord(value: "3", createRevision: 4, modRevision: 4, version: 1), revision: 4),
                "a key created again starts a new life")
        #expect(store.apply(.cas(key: "a", expect: "x", value: "y")).isCasFailure)
        #expect(store.machine.revision == 4, "a refused cas changes nothing")
        #expect(store.apply(KVCommand(.casRevision(key: "a", expectRevision: 4, value: "5"))) ==
                .key("a", KeyRecord(value: "5", createRevision: 4, modRevision: 5, version: 2), revision: 5))
        #expect(store.apply(KVCommand(.casRevision(key: "b", expectRevision: 0, value: "new"))) ==
                .key("b", KeyRecord(value: "new", createRevision: 6, modRevision: 6, version: 1), revision: 6), "0 means absent")
        #expect(store.apply(KVCommand(.casRevision(key: "b", expectRevision: 0, value: "again"))).isCasFailure)
    }

    @Test func keysAreTheirBytesInCasAndInOrder() {
        var store = Store()
        _ = store.put("e\u{301}", "combining")
        _ = store.put("é", "precomposed")
        #expect(store.machine.itemCount == 2, "canonically equal strings are two keys")
        #expect(store.machine.get("é") == "precomposed" && store.machine.get("e\u{301}") == "combining")
        #expect(store.apply(.cas(key: "é", expect: "precomposed", value: "x")).isCasFailure == false)
        #expect(store.apply(.cas(key: "é", expect: "e\u{301}x", value: "y")).isCasFailure)
        _ = store.put("Z", "1")
        _ = store.put("a", "2")
        let keys = store.machine.freeze().page(RangeQuery()).entries.map(\.key.string)
        #expect(keys == ["Z", "a", "e\u{301}", "é"], "UTF-8 byte order")
    }

    @Test func rangesByPrefixIntervalAndContinuation() {
        var store = Store()
        for key in ["app/1", "app/2", "app/3", "apple", "b", "app"] { _ = store.put(key, key.uppercased()) }
        let state = store.machine.freeze()
        #expect(state.page(RangeQuery(prefix: "app/")).entries.map(\.key.string) == ["app/1", "app/2", "app/3"])
        #expect(state.page(RangeQuery(from: "app/2", to: "b")).entries.map(\.key.string) == ["app/2", "app/3", "apple"])
        let first = state.page(RangeQuery(prefix: "app", limit: 2))
        #expect(first.entries.map(\.key.string) == ["app", "app/1"] && first.more)
        let second = state.page(RangeQuery(prefix: "app", after: "app/1", limit: 10))
        #expect(second.entries.map(\.key.string) == ["app/2", "app/3", "apple"] && !second.more)
        #expect(state.page(RangeQuery(from: "c")).entries.isEmpty)
        var deleting = store
        #expect(deleting.apply(KVCommand(.deletePrefix("app/"))) == .deleted(count: 3, revision: 7))
        #expect(deleting.apply(KVCommand(.deletePrefix("zzz"))) == .deleted(count: 0, revision: 7))
        #expect(deleting.machine.itemCount == 3)
    }

    @Test func aTransactionRunsOneBranchAtomicallyUnderOneRevision() {
        var store = Store()
        _ = store.put("lock", "owner-1")
        // Take a lock only if it is free: it is not, so the failure branch reads who holds it.
        let takeLock = Transaction(compare: [.exists(key: "lock", false)],
                                   success: [.put(key: "lock", value: "owner-2", lease: nil)],
                                   failure: [.get(key: "lock")])
        let refused = store.apply(KVCommand(.txn(takeLock)))
        #expect(refused == .txn(succeeded: false, steps: [.key("lock", KeyRecord(value: "owner-1", createRevision: 1, modRevision: 1, version: 1))],
                                revision: 1))
        _ = store.apply(.delete(key: "lock"))
        let writes = Transaction(compare: [.modRevision(key: "lock", equals: 0), .value(key: "gone", equals: nil)],
                                 success: [.put(key: "lock", value: "owner-2", lease: nil), .put(key: "other", value: "x", lease: nil),
                                           .range(RangeQuery(prefix: ""))],
                                 failure: [])
        guard case .txn(true, let steps, 3) = store.apply(KVCommand(.txn(writes))) else {
            Issue.record("the transaction should have succeeded with revision 3")
            return
        }
        #expect(store.machine.record("lock")?.modRevision == 3 && store.machine.record("other")?.modRevision == 3,
                "every write of a transaction carries its one revision")
        guard case .range(let entries, _, _) = steps[2] else {
            Issue.record("the third step is a range")
            return
        }
        #expect(entries.map(\.key.string) == ["lock", "other"], "a later step sees the earlier ones")
        let readOnly = Transaction(compare: [], success: [.get(key: "lock")], failure: [])
        #expect(store.apply(KVCommand(.txn(readOnly))).revision == 3, "a transaction that changes nothing keeps the revision")
    }

    @Test func aRetriedWriteIsAnsweredOnceFromTheSessionTable() {
        var store = Store()
        _ = store.put("counter", "0")
        let session = ClientSession(client: "app-7", seq: 1)
        let cas = KVCommand(.cas(key: "counter", expect: "0", value: "1"), session: session, time: 1000, sessionTimeoutSeconds: 3600)
        let first = store.apply(cas)
        #expect(!first.isCasFailure)
        // The client timed out and sent the same (client, seq) again: the recorded answer, nothing applied twice.
        #expect(store.apply(cas) == first)
        #expect(store.machine.revision == 2 && store.machine.get("counter") == "1")
        let older = KVCommand(.put(key: "counter", value: "9", lease: nil), session: ClientSession(client: "app-7", seq: 1))
        #expect(store.apply(older) == first, "seq 1 again")
        let next = KVCommand(.put(key: "counter", value: "2", lease: nil), session: ClientSession(client: "app-7", seq: 2))
        _ = store.apply(next)
        #expect(store.apply(cas) == .stale(lastSeq: 2))
        #expect(store.machine.get("counter") == "2" && store.machine.sessionCount == 1)
    }

    @Test func sessionsExpireByLogTimeTheSameWayOnEveryNode() {
        var store = Store()
        let minute: Int64 = 60_000
        _ = store.apply(KVCommand(.put(key: "a", value: "1", lease: nil), session: ClientSession(client: "old", seq: 1), time: 0,
                                  sessionTimeoutSeconds: 120))
        _ = store.apply(KVCommand(.put(key: "b", value: "1", lease: nil), session: ClientSession(client: "new", seq: 1), time: 2 * minute,
                                  sessionTimeoutSeconds: 120))
        #expect(store.machine.sessionCount == 2, "two minutes old is not older than the timeout")
        _ = store.apply(KVCommand(.put(key: "c", value: "1", lease: nil), session: ClientSession(client: "new", seq: 2),
                                  time: 3 * minute + 1, sessionTimeoutSeconds: 120))
        #expect(store.machine.sessionCount == 1, "the idle session went once log time passed its timeout")
        _ = store.apply(KVCommand(.put(key: "d", value: "1", lease: nil), session: ClientSession(client: "new", seq: 3),
                                  time: 1, sessionTimeoutSeconds: 120))
        #expect(store.machine.freeze().logTime == 3 * minute + 1, "log time never goes back with a new leader's clock")
    }

    @Test func aFrozenCopyIgnoresLaterWrites() {
        var store = Store()
        for number in 0..<2_000 { _ = store.put("k\(number)", "old") }
        let frozen = store.machine.freeze()
        _ = store.put("k7", "new")
        _ = store.apply(.delete(key: "k8"))
        #expect(frozen.keys["k7"]?.value == "old" && frozen.keys["k8"]?.value == "old" && frozen.keys.count == 2_000)
        #expect(store.machine.get("k7") == "new" && store.machine.get("k8") == nil && store.machine.itemCount == 1_999)
    }

    @Test func snapshotsKeepRevisionsAndSessionsAndAreTheSameBytesForTheSameState() throws {
        var store = Store()
        let keys = ["", "quote\"d", "naïve ✓", "line\nbreak", "back\\slash"] + (0..<3_000).map { "key-\($0)" }
        for (offset, key) in keys.enumerated() { _ = store.put(key, "v\(offset)\u{1}") }
        _ = store.apply(KVCommand(.delete(key: "key-5"), session: ClientSession(client: "c", seq: 3), time: 5, sessionTimeoutSeconds: 60))
        var again = Store()
        for (offset, key) in keys.enumerated() { _ = again.put(key, "v\(offset)\u{1}") }
        _ = again.apply(KVCommand(.delete(key: "key-5"), session: ClientSession(client: "c", seq: 3), time: 5, sessionTimeoutSeconds: 60))
        let bytes = KVStateMachine.serialize(store.machine.freeze())
        #expect(bytes == KVStateMachine.serialize(again.machine.freeze()), "the same state is the same bytes")
        var restored = try KVStateMachine(restoring: bytes, appliedIndex: store.index)
        #expect(restored.itemCount == keys.count - 1 && restored.revision == store.machine.revision && restored.sessionCount == 1)
        for (offset, key) in keys.enumerated() where key != "key-5" {
            #expect(restored.record(key) == store.machine.record(key), "\(offset)")
        }
        // The session came along: a retry of the recorded write is answered, not applied again.
        let retry = restored.apply(KVCommand(.delete(key: "key-5"), session: ClientSession(client: "c", seq: 3)), at: store.index + 1).result
        #expect(retry == .key("key-5", nil, revision: Int64(keys.count + 1)))
        for cut in [0, 3, 6, bytes.count / 2, bytes.count - 1] {
            #expect(throws: (any Error).self, "cut at \(cut)") { try KVStateMachine(restoring: Array(bytes[0..<cut]), appliedIndex: 1) }
        }
    }

    @Test func snapshotsInTheFirstFormatStillLoad() throws {
        // What a snapshot held before revisions: one JSON object of string values.
        let old = Array(#"{"b":"2","a":"1","naïve ✓":"x\"y"}"#.utf8)
        var restored = try KVStateMachine(restoring: old, appliedIndex: 40)
        #expect(restored.get("a") == "1" && restored.get("b") == "2" && restored.get("naïve ✓") == "x\"y" && restored.appliedIndex == 40)
        #expect(restored.revision == 1 && restored.record("a")?.modRevision == 1)
        let expected = KVResult.key("a", KeyRecord(value: "3", createRevision: 1, modRevision: 2, version: 2), revision: 2)
        #expect(restored.apply(.put(key: "a", value: "3"), at: 41).result == expected)
        #expect(throws: KVStateMachine.RestoreError.self) { try KVStateMachine(restoring: Array(#"{"a":1}"#.utf8), appliedIndex: 1) }
        #expect(throws: KVStateMachine.RestoreError.self) { try KVStateMachine(restoring: Array(#"{"a":"b""#.utf8), appliedIndex: 1) }
    }

    @Test func resultsSurviveTheirEncoding() throws {
        let record = KeyRecord(value: "v", createRevision: 1, modRevision: 2, version: 3, lease: 4)
        let results: [KVResult] = [
            .key("k", record, revision: 9), .key("k", nil, revision: 0), .casFailed("k", nil, revision: 1), .deleted(count: 5, revision: 6),
            .stale(lastSeq: 8),
            .txn(succeeded: true, steps: [.key("a", record), .deleted(count: 2),
                                         .range(entries: [KeyEntry(key: ByteKey("x"), record: record)], more: true, keysOnly: false)],
                 revision: 10),
        ]
        for result in results { #expect(try KVResult.decode(result.encoded) == result) }
        #expect(throws: KVResult.DecodingError.self) { try KVResult.decode([9]) }
    }
}
