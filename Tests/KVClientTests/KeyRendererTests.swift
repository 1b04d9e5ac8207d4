#if canImport(Glibc)
import Glibc
#endif
import Foundation
import JSONText
import KVClient
import KVWire
import Testing

@Suite struct KeyRendererTests {
    func object(_ text: String) -> JSONObject { try! JSONParser.parse(text).objectValue! }

    @Test func rangeTableWithTheCommandThatContinues() {
        let answer = object(#"""
            {"status":"ok","items":[{"key":"user/1","value":"Alice","createRevision":3,"modRevision":12,"version":4},
             {"key":"user/22","value":"two\nlines","createRevision":5,"modRevision":5,"version":1},
             {"key":"user/3 x","value":"","createRevision":110,"modRevision":110,"version":1}],"more":true,"revision":120}
            """#)
        #expect(Renderers.rangeTable(answer, query: RangeQuery(prefix: "user/", limit: 3)) == """
            key       value       created  modified  version
            user/1    Alice             3        12        4
            user/22   two\\nlines        5         5        1
            user/3 x  ""              110       110        1
            3 keys (more follow), store revision 120
            more… continue with: range --prefix user/ --limit 3 --after "user/3 x"
            """)
    }

    @Test func longValuesAreCutAndKeysOnlyHasNoValueColumn() {
        let long = String(repeating: "0123456789", count: 10)
        let answer = object(#"{"status":"ok","items":[{"key":"k","value":"\#(long)","createRevision":1,"modRevision":2,"version":2}],"more":false,"revision":2}"#)
        #expect(Renderers.rangeTable(answer, query: RangeQuery()) == """
            key  value                                             created  modified  version
            k    01234567890123456789012345678901234567890123456…        1         2        2
            1 key, store revision 2
            """)
        let keysOnly = object(#"{"status":"ok","items":[{"key":"a","createRevision":1,"modRevision":1,"version":1},{"key":"b","createRevision":2,"modRevision":9,"version":3}],"more":true,"revision":9}"#)
        #expect(Renderers.rangeTable(keysOnly, query: RangeQuery(from: "a", to: "c", limit: 2, keysOnly: true, consistency: .linearizable)) == """
            key  created  modified  version
            a          1         1        1
            b          2         9        3
            2 keys (more follow), store revision 9
            more… continue with: range a c --limit 2 --after b --keys-only --linearizable
            """)
    }

    @Test func anEmptyRange() {
        #expect(Renderers.rangeTable(object(#"{"status":"ok","items":[],"more":false,"revision":7}"#), query: RangeQuery())
                == "no keys (store revision 7)")
    }

    @Test func commandWordsAreQuotedWhenTheyMustBe() throws {
        #expect(Renderers.commandWord("plain/key") == "plain/key")
        #expect(Renderers.commandWord("") == #""""#)
        #expect(Renderers.commandWord(#"say "hi"; go\"#) == #""say \"hi\"; go\\""#)
        // What the hint prints, the tokenizer reads back.
        #expect(try ShortCommandParser.tokenize(Renderers.commandWord(#"say "hi"; go\"#)) == [#"say "hi"; go\"#])
    }

    @Test func aTransactionThatTookTheLock() throws {
        guard case .write(_, .transaction(let transaction)) = try ShortCommandParser.parse("txn if lock missing then put lock me; get lock else get lock") else {
            Issue.record("not a txn")
            return
        }
        let taken = object(#"{"status":"ok","succeeded":true,"results":[{"key":"lock","value":"me","status":"ok"},{"key":"lock","value":"me","status":"ok"}],"revision":15}"#)
        #expect(Renderers.transaction(taken, transaction) == """
            succeeded: every compare held, ran the then-steps (store revision 15)
              put lock me  ok
              get lock     = me
            """)
        let held = object(#"{"status":"ok","succeeded":false,"results":[{"key":"lock","value":"you","status":"ok"}],"revision":15}"#)
        #expect(Renderers.transaction(held, transaction) == """
            not succeeded: a compare did not hold, ran the else-steps (store revision 15)
              get lock  = you
            """)
    }

    @Test func aTransactionWithEveryKindOfStep() throws {
        guard case .write(_, .transaction(let transaction)) = try ShortCommandParser.parse(
            #"txn then get gone; delete old; delete --prefix tmp/; range --prefix user/ --limit 2; put "a b" "c d""#) else {
            Issue.record("not a txn")
            return
        }
        let answer = object(#"""
            {"status":"ok","succeeded":true,"results":[{"key":"gone","value":null,"status":"ok"},{"key":"old","value":null,"status":"ok"},
             {"status":"ok","deleted":3,"revision":21},
             {"status":"ok","items":[{"key":"user/1","value":"Alice","createRevision":3,"modRevision":3,"version":1},{"key":"user/2","createRevision":4,"modRevision":4,"version":1}],"more":true,"revision":21},
             {"key":"a b","value":"c d","status":"ok","createRevision":21,"modRevision":21,"version":1,"revision":21}],"revision":21}
            """#)
        #expect(Renderers.transaction(answer, transaction) == """
            succeeded: no compare, ran the then-steps (store revision 21)
              get gone                        (absent)
              delete old                      ok
              delete --prefix tmp/            3 keys deleted
              range --prefix user/ --limit 2  2 keys (more follow)
                  user/1  Alice
                  user/2
              put "a b" "c d"                 ok (modified 21, version 1)
            """)
        let empty = object(#"{"status":"ok","succeeded":false,"results":[],"revision":21}"#)
        #expect(Renderers.transaction(empty, transaction) == """
            not succeeded: a compare did not hold, ran the else-steps (store revision 21)
              (no steps)
            """)
    }
}

@Suite struct RangeLinesTests {
    func convert(_ answer: String, keysOnly: Bool = false) -> (String, RangeLines.Page?) {
        var output: [UInt8] = []
        let bytes = Array(answer.utf8)
        let page = bytes.withUnsafeBufferPointer { RangeLines.convert($0, keysOnly: keysOnly, into: &output) }
        return (String(decoding: output, as: UTF8.self), page)
    }

    @Test func itemsBecomeJSONLinesCopiedAsQuoted() {
        let (text, page) = convert(#"""
            {"status":"ok","items":[{"key":"a","value":"1","createRevision":1,"modRevision":1,"version":1},{"key":"b\"q","value":"x\\y\n{\"key\":z}","createRevision":2,"modRevision":3,"version":2},{"key":"\u00e9t\u00e9","value":"ünï","createRevision":4,"modRevision":4,"version":1}],"more":true,"revision":4}
            """#)
        #expect(text == #"""
            {"key":"a","value":"1"}
            {"key":"b\"q","value":"x\\y\n{\"key\":z}"}
            {"key":"\u00e9t\u00e9","value":"ünï"}

            """#)
        #expect(page == RangeLines.Page(count: 3, more: true, lastKey: "été"))
        // Every line is a JSON object holding the key and the value.
        for line in text.split(separator: "\n") {
            #expect((try? JSONParser.parse(String(line)).objectValue?["key"]?.stringValue) != nil)
        }
    }

    @Test func keysOnlyEmptyAndLastPages() {
        let (keys, keysPage) = convert(#"{"status":"ok","items":[{"key":"a","createRevision":1,"modRevision":1,"version":1}],"more":false,"revision":1}"#,
                                       keysOnly: true)
        #expect(keys == "{\"key\":\"a\"}\n")
        #expect(keysPage == RangeLines.Page(count: 1, more: false, lastKey: "a"))
        let (none, nonePage) = convert(#"{"status":"ok","items":[],"more":false,"revision":0}"#)
        #expect(none.isEmpty && nonePage == RangeLines.Page(count: 0, more: false, lastKey: nil))
        // Members in another order, spaces, and an id echoed: still read.
        let (other, otherPage) = convert(#"{"status":"ok","items":[ {"version":1, "value":"v", "key":"k", "extra":{"x":[1,"]"]}} ],"more" : true,"revision":1,"id":7}"#)
        #expect(other == "{\"key\":\"k\",\"value\":\"v\"}\n")
        #expect(otherPage == RangeLines.Page(count: 1, more: true, lastKey: "k"))
    }

    func continuation(_ answer: String) -> (more: Bool, lastKey: String?)? {
        Array(answer.utf8).withUnsafeBufferPointer { RangeLines.continuation(of: $0) }
    }

    /// Read from the end, the continuation agrees with what converting the whole answer finds.
    @Test func theContinuationIsReadFromTheEnd() {
        let answers = [
            #"{"status":"ok","items":[{"key":"a","value":"{\"key\":\"x\"}],\"more\":true,","createRevision":1,"modRevision":1,"version":1},{"key":"b\"{\"key\":","value":"],\"more\":false,","createRevision":2,"modRevision":2,"version":1}],"more":true,"revision":2}"#,
            #"{"status":"ok","items":[{"key":"only","createRevision":1,"modRevision":1,"version":1}],"more":false,"revision":1,"id":"x"}"#,
            #"{"status":"ok","items":[],"more":false,"revision":0}"#,
        ]
        for answer in answers {
            let page = convert(answer).1
            let read = continuation(answer)
            #expect(read?.more == page?.more && read?.lastKey == page?.lastKey, "\(answer)")
        }
        #expect(continuation(answers[0])?.lastKey == #"b"{"key":"#)
        #expect(continuation(#"{"status":"error","code":"timeout"}"#) == nil)
        #expect(continuation(#"{"status":"ok","items":[{"key":"a"}],"revision":1,"more":true}"#) == nil)  // not the server's order: convert decides
    }

    @Test func anErrorIsNotAPage() {
        #expect(convert(#"{"status":"error","code":"timeout","error":"no answer in time"}"#).1 == nil)
        #expect(convert(#"{"status":"ok","items":[{"key":"a","value":"1""#).1 == nil)
        #expect(convert(#"{"status":"ok","items":[{"value":"1"}],"more":false}"#).1 == nil)
    }
}

@Suite struct ClientConnectionTests {
    /// A server on an ephemeral port that sends `chunks` (with a pause between them) and closes.
    func serve(_ chunks: [[UInt8]]) throws -> Int {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 1)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        Thread {
            let client = accept(listener, nil, nil)
            for chunk in chunks {
                var sent = 0
                while sent < chunk.count {
                    let count = chunk.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                    if count <= 0 { break }
                    sent += count
                }
                usleep(2000)
            }
            close(client)
            close(listener)
        }.start()
        return port
    }

    @Test func linesSplitAcrossReadsLargeLinesAndALastLineWithoutNewline() throws {
        let big = String(repeating: "x", count: 3_000_000)
        let stream = Array("one\ntw".utf8) + Array("o\n\(big)".utf8) + Array("\nthree\nfour\nlast".utf8)
        let chunks = stride(from: 0, to: stream.count, by: 70_000).map { Array(stream[$0..<min(stream.count, $0 + 70_000)]) }
        let connection = try ClientConnection(host: "127.0.0.1", port: try serve([Array(stream[0..<5])] + chunks.map { _ in [] } + [Array(stream[5...])]))
        #expect(try connection.receiveLine() == "one")
        #expect(try connection.receiveLine() == "two")
        #expect(try connection.withNextLine { $0.count } == big.utf8.count)
        #expect(try connection.receiveLine() == "three")
        #expect(try connection.receiveLine() == "four")
        #expect(try connection.receiveLine() == "last")
        #expect(try connection.receiveLine() == nil)
        _ = chunks
    }

    @Test func manySmallPieces() throws {
        let text = (0..<2000).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let bytes = Array(text.utf8)
        let connection = try ClientConnection(host: "127.0.0.1", port: try serve(stride(from: 0, to: bytes.count, by: 997).map {
            Array(bytes[$0..<min(bytes.count, $0 + 997)])
        }))
        for number in 0..<2000 { #expect(try connection.receiveLine() == "line \(number)") }
        #expect(try connection.receiveLine() == nil)
    }
}
