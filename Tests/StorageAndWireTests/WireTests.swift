import Checksum
import JSONText
import KVStore
import KVWire
import Testing

@Suite struct JSONParserTests {
    @Test func keepsNumbersAsWrittenAndMembersInOrder() throws {
        let value = try JSONParser.parse(#"{"b":1.50,"a":[true,null,-0],"s":"x\"y\u00e9\ud83d\ude00"}"#)
        var writer = JSONWriter()
        writer.value(value)
        #expect(writer.text == #"{"b":1.50,"a":[true,null,-0],"s":"x\"yé😀"}"#)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "01", "\"\\x\"", "tru", "{\"a\":1} x", "\"\u{01}\"", "\"\\ud800\""])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }
}

@Suite struct RequestParserTests {
    let limits = WireLimits(keyBytes: 8, valueBytes: 16, lineBytes: 100)

    func parse(_ text: String) -> ParsedLine { RequestParser.parse(ArraySlice(text.utf8), limits: limits) }

    func code(_ text: String) -> ErrorCode? {
        if case .failure(let error) = parse(text).result { return error.code }
        return nil
    }

    @Test func seedFormsAreSetAndGet() throws {
        #expect(try parse(#"{"key":"snack","value":"chips"}"#).result.get() == .put(key: "snack", value: "chips"))
        #expect(try parse(#"{"key":"snack"}"#).result.get() == .get(key: "snack", consistency: .eventual))
    }

    @Test func explicitForms() throws {
        #expect(try parse(#"{"op":"get","key":"a","consistency":"linearizable"}"#).result.get() == .get(key: "a", consistency: .linearizable))
        #expect(try parse(#"{"op":"delete","key":"a"}"#).result.get() == .delete(key: "a"))
        #expect(try parse(#"{"op":"cas","key":"a","expect":null,"value":"v"}"#).result.get() == .cas(key: "a", expect: nil, value: "v"))
        #expect(try parse(#"{"admin":"partition","groups":[[0,1],[2]]}"#).result.get() == .admin(.partition(groups: [[0, 1], [2]])))
    }

    @Test func idIsKeptEvenOnErrors() {
        #expect(parse(#"{"op":"nope","id":"x-1"}"#).id == .string("x-1"))
        #expect(parse(#"{"key":"a","id":12.50}"#).id == .number("12.50"))
    }

    @Test func badRequests() {
        for text in ["nope", "[1]", "42", #"{"key":1}"#, #"{"key":""}"#, #"{"op":"zap","key":"a"}"#, #"{"op":"put","key":"a"}"#,
                     #"{"op":"put","key":"a","value":5}"#, #"{"op":"cas","key":"a","value":"v"}"#, #"{"value":"v"}"#,
                     #"{"key":"a","consistency":"strong"}"#, #"{}"#, #"{"admin":"kill"}"#, #"{"admin":"dance"}"#,
                     #"{"key":"a","id":[1]}"#, #"{"op":3,"key":"a"}"#, ""] {
            #expect(code(text) == .badRequest, "\(text)")
        }
    }

    @Test func rangesTransactionsAndSessionsParse() throws {
        let big = WireLimits()
        func request(_ text: String) throws -> ClientRequest { try RequestParser.parse(ArraySlice(text.utf8), limits: big).result.get() }
        #expect(try request(#"{"op":"range","prefix":"a/","limit":5,"after":"a/3","keysOnly":true}"#).operation ==
                .range(RangeQuery(prefix: "a/", after: "a/3", limit: 5, keysOnly: true)))
        #expect(try request(#"{"op":"range"}"#).operation == .range(RangeQuery()), "neither prefix nor bounds: every key")
        #expect(try request(#"{"op":"delete","prefix":"tmp/"}"#).operation == .deletePrefix("tmp/"))
        #expect(try request(#"{"op":"cas","key":"k","expectRevision":0,"value":"v"}"#).operation == .casRevision(key: "k", expectRevision: 0, value: "v"))
        let txn = try request(#"{"op":"txn","compare":[{"key":"l","exists":false}],"success":[{"op":"put","key":"l","value":"me"}],"failure":[{"op":"get","key":"l"}],"client":"c","seq":3,"revisions":true}"#)
        #expect(txn.operation == .txn(Transaction(compare: [.exists(key: "l", false)], success: [.put(key: "l", value: "me", lease: nil)],
                                                  failure: [.get(key: "l")])))
        #expect(txn.session == ClientSession(client: "c", seq: 3) && txn.revisions)
        // What the encoder writes, the parser reads back.
        for line in [#"{"op":"range","from":"a","to":"b","consistency":"linearizable"}"#, #"{"op":"put","key":"k","value":"v","lease":9,"client":"x","seq":1}"#] {
            let parsed = try request(line)
            #expect(try request(RequestEncoder.line(parsed)) == parsed)
        }
        #expect(try request(RequestEncoder.line(txn)) == txn)
    }

    @Test func badRangesTransactionsAndSessionsAreRefusedAndChangeNothing() {
        let big = WireLimits()
        func code(_ text: String) -> ErrorCode? {
            if case .failure(let error) = RequestParser.parse(ArraySlice(text.utf8), limits: big).result { return error.code }
            return nil
        }
        let steps = (0..<129).map { _ in #"{"op":"get","key":"k"}"# }.joined(separator: ",")
        #expect(code(#"{"op":"txn","success":[\#(steps)]}"#) == .tooLarge, "a transaction over 128 parts")
        for text in [
            #"{"op":"range","from":"b","to":"a"}"#,                                  // from after to
            #"{"op":"range","limit":0}"#, #"{"op":"range","limit":10001}"#, #"{"op":"range","limit":"5"}"#,
            #"{"op":"range","prefix":"a","from":"a"}"#,
            #"{"op":"txn","compare":[{"key":"a","version":3}]}"#,                     // unknown compare field
            #"{"op":"txn","compare":[{"key":"a","value":"1","exists":true}]}"#,       // two conditions in one compare
            #"{"op":"txn","success":[{"op":"txn"}]}"#,                                // nested transaction
            #"{"op":"txn","success":[{"op":"cas","key":"a","expect":null,"value":"v"}]}"#,
            #"{"op":"txn","success":[{"admin":"status"}]}"#,
            #"{"op":"put","key":"a","value":"v","client":"c","seq":0}"#,              // seq not positive
            #"{"op":"put","key":"a","value":"v","client":"c","seq":1.5}"#,
            #"{"op":"put","key":"a","value":"v","client":"c","seq":"1"}"#,
            #"{"op":"put","key":"a","value":"v","client":"c"}"#,
            #"{"op":"put","key":"a","value":"v","client":"\#(String(repeating: "x", count: 65))","seq":1}"#,
            #"{"op":"get","key":"a","client":"c","seq":1}"#,                         // sessions go on writes
            #"{"op":"cas","key":"a","expect":"x","expectRevision":1,"value":"v"}"#,
            #"{"op":"cas","key":"a","expectRevision":-1,"value":"v"}"#,
            #"{"op":"get","key":"a","revisions":"yes"}"#,
        ] {
            #expect(code(text) == .badRequest, "\(text)")
        }
    }

    @Test func limitsGiveTooLarge() {
        #expect(code(#"{"key":"123456789","value":"v"}"#) == .tooLarge)
        #expect(code(#"{"key":"k","value":"12345678901234567"}"#) == .tooLarge)
    }
}

@Suite struct ResponseShapeTests {
    @Test func contractShapesAreExact() {
        #expect(ClientResponse.ok(key: "snack", value: "chips", id: nil) == #"{"key":"snack","value":"chips","status":"ok"}"#)
        #expect(ClientResponse.ok(key: "snack", value: nil, id: .number("7")) == #"{"key":"snack","value":null,"status":"ok","id":7}"#)
        #expect(ClientResponse.notFound(key: "snack", id: nil).hasPrefix(#"{"key":"snack","value":null,"status":"error","code":"not_found""#))
        #expect(ClientResponse.casFailed(key: "a", current: "1", id: nil).contains(#""code":"cas_failed","current":"1""#))
        #expect(ClientResponse.error(RequestError(.forbidden, "no"), id: .string("q")) == #"{"status":"error","code":"forbidden","error":"no","id":"q"}"#)
        #expect(ClientResponse.withRevisions(key: "a", value: "1", meta: KeyRevisions(createRevision: 2, modRevision: 3, version: 4), revision: 5, id: nil)
                == #"{"key":"a","value":"1","status":"ok","createRevision":2,"modRevision":3,"version":4,"revision":5}"#)
        #expect(ClientResponse.deleted(3, revision: 9, id: .number("1")) == #"{"status":"ok","deleted":3,"revision":9,"id":1}"#)
        var range = RangeAnswer(keysOnly: false)
        range.append(key: "k", value: "v", revisions: KeyRevisions(createRevision: 1, modRevision: 2, version: 2))
        #expect(range.finished(more: true, revision: 7, id: nil)
                == #"{"status":"ok","items":[{"key":"k","value":"v","createRevision":1,"modRevision":2,"version":2}],"more":true,"revision":7}"#)
        #expect(ClientResponse.transaction(succeeded: false, results: [#"{"a":1}"#], revision: 4, id: nil)
                == #"{"status":"ok","succeeded":false,"results":[{"a":1}],"revision":4}"#)
    }
}

@Suite struct LineFramerTests {
    @Test func splitsLinesAcrossReadsAndDropsCR() {
        var framer = LineFramer(limit: 10)
        #expect(framer.feed(Array("ab".utf8)) == [])
        #expect(framer.feed(Array("c\r\nde\nf".utf8)) == [.line(ArraySlice("abc".utf8)), .line(ArraySlice("de".utf8))])
        #expect(framer.feed(Array("\n".utf8)) == [.line(ArraySlice("f".utf8))])
    }

    @Test func refusesOverlongLines() {
        var framer = LineFramer(limit: 4)
        #expect(framer.feed(Array("12345".utf8)) == [.overflow])
        var complete = LineFramer(limit: 4)
        #expect(complete.feed(Array("123456\n".utf8)) == [.overflow])
    }
}


@Suite struct CRC32Tests {
    /// The byte-at-a-time definition, to check the eight-at-a-time one against.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (0xEDB8_8320 ^ (crc >> 1)) : (crc >> 1) }
        }
        return crc ^ 0xFFFF_FFFF
    }

    @Test func knownVectors() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.hex(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8))) == "414fa339")
    }

    @Test func agreesWithTheDefinitionAtEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for end in stride(from: start, through: bytes.count, by: 7) {
                let slice = Array(bytes[start..<end])
                #expect(CRC32.checksum(slice) == Self.reference(slice), "bytes \(start)..<\(end)")
            }
        }
    }
}
