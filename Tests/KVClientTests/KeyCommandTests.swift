import JSONText
import KVClient
import KVWire
import Testing

/// The commands of ordered keys, revisions, ranges, transactions and exactly-once writes: the
/// exact lines they send, and the mistakes they refuse.
@Suite struct KeyCommandTests {
    /// The line a command sends (a write as it is before the client numbers it) and its display.
    func sent(_ line: String) throws -> (String, ResponseDisplay) {
        switch try ShortCommandParser.parse(line) {
        case .send(let request, let display): return (request, display)
        case .write(let request, let display): return (RequestEncoder.line(request), display)
        default:
            Issue.record("\(line) did not become a request")
            return ("", .raw)
        }
    }

    func line(_ command: String) throws -> String { try sent(command).0 }

    func problem(_ line: String) -> String? {
        do {
            _ = try ShortCommandParser.parse(line)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func writesAreNumberedReadsAreNot() throws {
        guard case .write = try ShortCommandParser.parse("put k v") else { Issue.record("put is not a write"); return }
        guard case .write = try ShortCommandParser.parse("delete --prefix p") else { Issue.record("delete --prefix is not a write"); return }
        guard case .write = try ShortCommandParser.parse("cas k --rev 3 v") else { Issue.record("cas --rev is not a write"); return }
        guard case .write = try ShortCommandParser.parse("txn then get k") else { Issue.record("txn is not a write"); return }
        guard case .send = try ShortCommandParser.parse("get k") else { Issue.record("get is not a plain read"); return }
        guard case .send = try ShortCommandParser.parse("range") else { Issue.record("range is not a plain read"); return }
    }

    @Test func range() throws {
        #expect(try sent("range") == (#"{"op":"range"}"#, .rangeTable(RangeQuery())))
        #expect(try line("range --prefix user/ --limit 2") == #"{"op":"range","prefix":"user/","limit":2}"#)
        #expect(try line("RANGE a c --after b --keys-only --linearizable")
                == #"{"op":"range","from":"a","to":"c","after":"b","keysOnly":true,"consistency":"linearizable"}"#)
        #expect(try line("range a") == #"{"op":"range","from":"a"}"#)
        #expect(try line("range --from a --to b") == #"{"op":"range","from":"a","to":"b"}"#)
        #expect(try line(#"range --prefix "" --limit 10000"#) == #"{"op":"range","prefix":"","limit":10000}"#)
        #expect(try line("range --revisions --prefix p") == #"{"op":"range","prefix":"p","revisions":true}"#)
        #expect(try sent("range --prefix p --limit 5").1 == .rangeTable(RangeQuery(prefix: "p", limit: 5)))
    }

    @Test func rangeMistakes() {
        #expect(problem("range z a") == #"FROM must not come after TO (keys compare by their UTF-8 bytes): "z" > "a""#)
        #expect(problem("range --limit 0") == #"--limit must be a number from 1 to 10000, not "0""#)
        #expect(problem("range --limit 10001") == #"--limit must be a number from 1 to 10000, not "10001""#)
        #expect(problem("range --limit many") == #"--limit must be a number from 1 to 10000, not "many""#)
        #expect(problem("range --prefix p a") == "a range takes --prefix PREFIX or FROM [TO], not both")
        #expect(problem("range a b c") == "usage: range [--prefix PREFIX | FROM [TO]] [--limit N] [--after KEY] [--keys-only] [--linearizable] [--revisions]")
        #expect(problem("range --colour red") != nil)
    }

    @Test func getAll() throws {
        #expect(try ShortCommandParser.parse("getall") == .getAll(GetAllQuery()))
        #expect(try ShortCommandParser.parse("GETALL --prefix user/ --keys-only --linearizable")
                == .getAll(GetAllQuery(prefix: "user/", keysOnly: true, consistency: .linearizable)))
        #expect(problem("getall user/") == "usage: getall [--prefix PREFIX] [--keys-only] [--linearizable]")
    }

    @Test func revisionsDeletePrefixAndCasByRevision() throws {
        #expect(try line("get k --revisions") == #"{"op":"get","key":"k","revisions":true}"#)
        #expect(try line("get --revisions k linearizable") == #"{"op":"get","key":"k","consistency":"linearizable","revisions":true}"#)
        #expect(try line("get k --linearizable") == #"{"op":"get","key":"k","consistency":"linearizable"}"#)
        #expect(try line("put k --revisions v") == #"{"op":"put","key":"k","value":"v","revisions":true}"#)
        #expect(try line("put k v") == #"{"op":"put","key":"k","value":"v"}"#)
        #expect(try line("delete --prefix user/") == #"{"op":"delete","prefix":"user/"}"#)
        #expect(try line("del k --revisions") == #"{"op":"delete","key":"k","revisions":true}"#)
        #expect(try line("cas k --rev 7 new") == #"{"op":"cas","key":"k","expectRevision":7,"value":"new"}"#)
        #expect(try line(#"cas "a key" --rev 0 "first value""#) == #"{"op":"cas","key":"a key","expectRevision":0,"value":"first value"}"#)
        #expect(try line("cas k old new --revisions") == #"{"op":"cas","key":"k","expect":"old","value":"new","revisions":true}"#)
        #expect(problem("cas k --rev -1 v") == #"--rev must be a revision (0 or more; 0: the key must be absent), not "-1""#)
        #expect(problem("cas k --rev x v") == #"--rev must be a revision (0 or more; 0: the key must be absent), not "x""#)
        #expect(problem("cas k --rev 3") != nil)
        #expect(problem("delete --prefix p extra") == "usage: delete --prefix PREFIX")
        #expect(problem("get k --revisions extra words") != nil)
    }
}

@Suite struct TxnSyntaxTests {
    func line(_ command: String) throws -> String {
        guard case .write(let request, .transaction(let transaction)) = try ShortCommandParser.parse(command),
              case .txn(let sent) = request.operation, sent == transaction else {
            Issue.record("\(command) is not a txn")
            return ""
        }
        return RequestEncoder.line(request)
    }

    func problem(_ line: String) -> String? {
        do {
            _ = try ShortCommandParser.parse(line)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aLock() throws {
        #expect(try line("txn if lock missing then put lock me else get lock") == #"""
            {"op":"txn","compare":[{"key":"lock","exists":false}],"success":[{"op":"put","key":"lock","value":"me"}],"failure":[{"op":"get","key":"lock"}]}
            """#)
    }

    @Test func everyCompareAndStep() throws {
        #expect(try line("txn if a == 1 and b modrev 7 and c exists then put a 2; delete b else get a; get b") == #"""
            {"op":"txn","compare":[{"key":"a","value":"1"},{"key":"b","modRevision":7},{"key":"c","exists":true}],"success":[{"op":"put","key":"a","value":"2"},{"op":"delete","key":"b"}],"failure":[{"op":"get","key":"a"},{"op":"get","key":"b"}]}
            """#)
        #expect(try line("TXN IF a = x THEN delete --prefix tmp/; range --prefix user/ --limit 5 --keys-only; range a c") == #"""
            {"op":"txn","compare":[{"key":"a","value":"x"}],"success":[{"op":"delete","prefix":"tmp/"},{"op":"range","prefix":"user/","limit":5,"keysOnly":true},{"op":"range","from":"a","to":"c"}],"failure":[]}
            """#)
        #expect(try line("txn then put a 1;put b 2;") == #"""
            {"op":"txn","compare":[],"success":[{"op":"put","key":"a","value":"1"},{"op":"put","key":"b","value":"2"}],"failure":[]}
            """#)
        #expect(try line("txn --revisions if a exists then get a") == #"""
            {"op":"txn","compare":[{"key":"a","exists":true}],"success":[{"op":"get","key":"a"}],"failure":[],"revisions":true}
            """#)
    }

    @Test func quotedWordsAreNeverKeywords() throws {
        #expect(try line(#"txn if "then" == "and" then put "else" "a; b" else put k 'x y'"#) == #"""
            {"op":"txn","compare":[{"key":"then","value":"and"}],"success":[{"op":"put","key":"else","value":"a; b"}],"failure":[{"op":"put","key":"k","value":"x y"}]}
            """#)
        #expect(try line(#"txn if k == "" then put k "" "#) == #"""
            {"op":"txn","compare":[{"key":"k","value":""}],"success":[{"op":"put","key":"k","value":""}],"failure":[]}
            """#)
    }

    @Test func mistakesSayWhatIsExpected() {
        let usage = "txn [if COMPARE [and COMPARE]...] then STEP [; STEP]... [else STEP [; STEP]...]"
        let compares = "a compare is KEY == VALUE, KEY missing, KEY exists or KEY modrev N"
        let steps = "a step is put KEY VALUE, get KEY, delete KEY, delete --prefix P or range ..."
        #expect(problem("txn") == "usage: \(usage)")
        #expect(problem("txn put a 1") == #"txn: start with "if" (or "then" for no compare), not "put"; usage: \#(usage)"#)
        #expect(problem("txn if a missing") == #"txn: expected "then" after the compares; usage: \#(usage)"#)
        #expect(problem("txn if a missing put a 1") == #"txn: after the compare "a missing" comes "and" or "then", not "put""#)
        #expect(problem("txn if a == 1 b == 2 then put a 1") == #"txn: after the compare "a == 1" comes "and" or "then", not "b""#)
        #expect(problem("txn if a < 3 then put a 1") == #"txn: "a < 3" is not a compare; \#(compares)"#)
        #expect(problem(#"txn if a "missing" then put a 1"#) == #"txn: "a missing" is not a compare; \#(compares)"#)
        #expect(problem("txn if then put a 1") == "txn: a compare is missing; \(compares)")
        #expect(problem("txn if a exists and then put a 1") == "txn: a compare is missing; \(compares)")
        #expect(problem("txn if a modrev x then put a 1") == #"txn: modrev needs a revision (0 or more; 0: absent), not "x""#)
        #expect(problem("txn if a exists then") == "txn: nothing to do after \"then\"; \(steps)")
        #expect(problem("txn if a exists then put a 1 else") == "txn: \"else\" needs at least one step; \(steps)")
        #expect(problem("txn if a exists then put a 1 else get a else get b") == "txn: one \"else\" at most; separate steps with \";\"")
        #expect(problem("txn if a exists then cas a 1 2") == "txn: \"cas\" cannot be a step; \(steps)")
        #expect(problem("txn if a exists then put a") == "usage: put KEY VALUE (in a txn)")
        #expect(problem("txn if a exists then get a linearizable") == "usage: get KEY (in a txn, every read is linearizable)")
        #expect(problem("txn then range --prefix p --linearizable")
                == "usage: range [--prefix PREFIX | FROM [TO]] [--limit N] [--after KEY] [--keys-only] (in a txn, reads are linearizable)")
        #expect(problem("txn if a exists then put a 1; then put b 2") == "txn: \"then\" where a step should start; \(steps)")
        #expect(problem(#"txn if a == "open then put a 1"#) == "a quote is not closed")
        let many = (0..<129).map { "put k\($0) v" }.joined(separator: "; ")
        #expect(problem("txn then " + many) == "txn: 129 compares and steps; a transaction holds at most 128")
        #expect(problem("txn then " + (0..<128).map { "put k\($0) v" }.joined(separator: "; ")) == nil)
    }
}

@Suite struct WriteSessionTests {
    /// Answers from a list, and remembers what was sent.
    final class FakeServer: LineExchange {
        var answers: [String]
        var sent: [String] = []
        init(_ answers: [String]) { self.answers = answers }
        func request(_ line: String) throws(ClientConnection.Failure) -> String? {
            sent.append(line)
            return answers.isEmpty ? nil : answers.removeFirst()
        }
    }

    let timeout = #"{"key":"k","status":"error","code":"timeout","error":"the write's outcome is unknown"}"#

    @Test func aTimedOutWriteGoesAgainWithTheSameClientAndSeq() throws {
        var session = WriteSession(client: "cli-test-1-0000abcd")
        let server = FakeServer([timeout, #"{"key":"k","value":"v2","status":"ok"}"#])
        var notes: [String] = []
        let answer = try session.send(ClientRequest(.casRevision(key: "k", expectRevision: 4, value: "v2")), over: server) { notes.append($0) }
        #expect(answer == #"{"key":"k","value":"v2","status":"ok"}"#)
        let expected = #"{"op":"cas","key":"k","expectRevision":4,"value":"v2","client":"cli-test-1-0000abcd","seq":1}"#
        #expect(server.sent == [expected, expected])
        #expect(notes == ["(retried: timeout) the write's outcome was unknown; sent again as client cli-test-1-0000abcd seq 1 (retry 1 of 3), so it is applied at most once"])
    }

    @Test func seqRisesPerWriteAndReadsCarryNoSession() throws {
        var session = WriteSession(client: "c")
        let server = FakeServer(Array(repeating: #"{"status":"ok"}"#, count: 4))
        _ = try session.send(.put(key: "a", value: "1"), over: server)
        _ = try session.send(.get(key: "a", consistency: .linearizable), over: server)
        _ = try session.send(ClientRequest(.range(RangeQuery(prefix: "a"))), over: server)
        _ = try session.send(ClientRequest(.deletePrefix("a")), over: server)
        #expect(server.sent == [#"{"op":"put","key":"a","value":"1","client":"c","seq":1}"#,
                                #"{"op":"get","key":"a","consistency":"linearizable"}"#,
                                #"{"op":"range","prefix":"a"}"#,
                                #"{"op":"delete","prefix":"a","client":"c","seq":2}"#])
        #expect(session.lastSeq == 2)
    }

    @Test func retriesStopAfterTheLimitAndOtherErrorsAreNotRetried() throws {
        var session = WriteSession(client: "c", maxRetries: 2)
        let server = FakeServer([timeout, timeout, timeout, #"{"status":"ok"}"#])
        #expect(try session.send(.put(key: "k", value: "v"), over: server) == timeout)
        #expect(server.sent.count == 3)

        let refusing = FakeServer([#"{"status":"error","code":"unavailable","error":"no leader"}"#])
        _ = try session.send(.put(key: "k", value: "v"), over: refusing)
        #expect(refusing.sent == [#"{"op":"put","key":"k","value":"v","client":"c","seq":2}"#])

        // A read answered timeout is not sent again: it has no session to make a repeat safe to tell apart.
        let reads = FakeServer([timeout, #"{"status":"ok"}"#])
        #expect(try session.send(.get(key: "k", consistency: .linearizable), over: reads) == timeout)
        #expect(reads.sent.count == 1)
    }

    @Test func theConnectionClosingDuringARetryIsNil() throws {
        var session = WriteSession(client: "c")
        let server = FakeServer([timeout])
        #expect(try session.send(.put(key: "k", value: "v"), over: server) == nil)
        #expect(server.sent.count == 2)
    }

    @Test func clientIDsAreShortAndDistinct() {
        let id = WriteSession.makeClientID(host: "a-very-long-host-name.with.many.parts.example.internal.local", pid: 123456)
        #expect(id.hasPrefix("cli-a-very-long-host-name.with.many.-123456-"))
        #expect(id.utf8.count <= ClientSession.maxClientBytes)
        #expect(WriteSession.makeClientID(host: "höst name/x", pid: 7).hasPrefix("cli-hstnamex-7-"))
        #expect(WriteSession.makeClientID(host: "", pid: 7).hasPrefix("cli-host-7-"))
        #expect(WriteSession.makeClientID() != WriteSession.makeClientID())
        #expect(WriteSession(client: String(repeating: "x", count: 100)).client.utf8.count == 64)
    }
}
