import ClusterServer
import JSONText
import KVClient
import Testing

/// The wire contract against a live cluster: exact shapes, every error code, pipelining, limits.
@Suite(.serialized) struct ContractTests {
    @Test func seedRequestsGetTheExactSeedResponses() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        #expect(try connection.request(#"{"key":"snack","value":"chips"}"#) == #"{"key":"snack","value":"chips","status":"ok"}"#)
        #expect(try connection.request(#"{"key":"snack"}"#) == #"{"key":"snack","value":"chips","status":"ok"}"#)
        let missing = try #require(try connection.request(#"{"key":"nothing"}"#))
        #expect(missing.hasPrefix(#"{"key":"nothing","value":null,"status":"error","code":"not_found""#))
    }

    @Test func explicitOperationsAndIdEcho() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        #expect(try connection.request(#"{"op":"put","key":"a","value":"1","id":"w1"}"#) == #"{"key":"a","value":"1","status":"ok","id":"w1"}"#)
        #expect(try connection.request(#"{"op":"get","key":"a","consistency":"linearizable","id":2}"#) == #"{"key":"a","value":"1","status":"ok","id":2}"#)
        #expect(try connection.request(#"{"op":"cas","key":"a","expect":"1","value":"2"}"#) == #"{"key":"a","value":"2","status":"ok"}"#)
        let failed = try #require(try connection.request(#"{"op":"cas","key":"a","expect":"1","value":"3"}"#))
        #expect(failed.hasPrefix(#"{"key":"a","status":"error","code":"cas_failed","current":"2""#))
        #expect(try connection.request(#"{"op":"cas","key":"b","expect":null,"value":"new"}"#) == #"{"key":"b","value":"new","status":"ok"}"#)
        #expect(try connection.request(#"{"op":"delete","key":"a"}"#) == #"{"key":"a","value":null,"status":"ok"}"#)
        let gone = try #require(try connection.request(#"{"op":"get","key":"a","consistency":"linearizable"}"#))
        #expect(gone.contains(#""code":"not_found""#))
    }

    @Test func malformedInputGetsTheRightCodeAndTheServerKeepsServing() throws {
        let cluster = try TestCluster { $0.limits.keyBytes = 16; $0.limits.valueBytes = 32 }
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        let cases: [(String, String)] = [
            ("not json", "bad_request"), ("[1,2]", "bad_request"), ("\"text\"", "bad_request"), ("{}", "bad_request"),
            (#"{"key":7}"#, "bad_request"), (#"{"key":""}"#, "bad_request"), (#"{"op":"fly","key":"a"}"#, "bad_request"),
            (#"{"op":"put","key":"a"}"#, "bad_request"), (#"{"key":"a","value":{"x":1}}"#, "bad_request"),
            (#"{"op":"cas","key":"a","value":"v"}"#, "bad_request"), (#"{"key":"a","consistency":"sometimes"}"#, "bad_request"),
            (#"{"key":"a","value":"v""#, "bad_request"), ("", "bad_request"),
            (#"{"key":"this-key-is-way-too-long","value":"v"}"#, "too_large"),
            (#"{"key":"k","value":"this value is longer than thirty-two bytes"}"#, "too_large"),
            (#"{"admin":"kill","node":17}"#, "bad_request"), (#"{"admin":"teleport"}"#, "bad_request"),
        ]
        for (line, code) in cases {
            let response = try #require(try connection.request(line))
            let object = try #require(try JSONParser.parse(response).objectValue)
            #expect(object["status"] == .string("error"), "\(line)")
            #expect(object["code"] == .string(code), "\(line) → \(response)")
            #expect(object["error"]?.stringValue?.isEmpty == false)
        }
        #expect(try connection.request(#"{"key":"still","value":"serving"}"#) == #"{"key":"still","value":"serving","status":"ok"}"#)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        var batch = ""
        for number in 0..<300 {
            batch += number % 3 == 0 ? #"{"op":"get","key":"p\#(number - 3)","id":\#(number)}"# : #"{"key":"p\#(number)","value":"\#(number)","id":\#(number)}"#
            batch += "\n"
        }
        try connection.send(String(batch.dropLast()))
        for number in 0..<300 {
            let response = try #require(try connection.receiveLine())
            let object = try #require(try JSONParser.parse(response).objectValue)
            #expect(object["id"] == .number(String(number)), "response \(number) out of order: \(response)")
        }
    }

    @Test func overlongLineIsRefusedAndTheConnectionClosed() throws {
        let cluster = try TestCluster { $0.limits.lineBytes = 200 }
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        try connection.send(#"{"key":"k","value":""# + String(repeating: "x", count: 400) + #""}"#)
        let response = try #require(try connection.receiveLine())
        #expect(response.contains(#""code":"too_large""#))
        #expect(try connection.receiveLine() == nil, "the connection should close after an overlong line")
    }

    @Test func idleConnectionsAreClosedWithNotice() throws {
        let cluster = try TestCluster { $0.idleTimeoutSeconds = 1 }
        let connection = try cluster.connect()
        #expect(try connection.request(#"{"key":"x"}"#) != nil)
        let start = monotonicSeconds()
        #expect(try connection.receiveLine() == #"{"close":"ok"}"#)
        #expect(monotonicSeconds() - start >= 0.9)
        #expect(try connection.receiveLine() == nil)
    }

    @Test func adminIsForbiddenWhenDisabled() throws {
        let cluster = try TestCluster { $0.adminEnabled = false }
        let response = try cluster.request(#"{"admin":"status"}"#)
        #expect(response["code"] == .string("forbidden"))
    }

    @Test func writesAreUnavailableWithoutAQuorum() throws {
        let cluster = try TestCluster { $0.requestTimeoutMs = 600 }
        let leader = try cluster.awaitLeader()
        for node in 0..<3 where node != (leader + 1) % 3 {
            _ = try cluster.request(#"{"admin":"kill","node":\#(node)}"#)
        }
        let response = try cluster.request(#"{"key":"k","value":"v"}"#)
        #expect(response["code"] == .string("unavailable"), "\(response)")
        // An eventual read is still served by the surviving node.
        #expect(try cluster.request(#"{"key":"k"}"#)["code"] == .string("not_found"))
    }

    @Test func athousandConcurrentConnections() throws {
        // 1,000 client sockets plus 1,000 server sockets live in this one test process.
        raiseDescriptorLimit(to: 4096)
        try #require(rlimitValue() >= 2200, "cannot open enough file descriptors for this test")
        let cluster = try TestCluster()
        _ = try cluster.awaitLeader()
        var connections: [ClientConnection] = []
        for _ in 0..<1000 { connections.append(try cluster.connect()) }
        for (number, connection) in connections.enumerated() {
            try connection.send(#"{"key":"c\#(number)","value":"\#(number)"}"#)
        }
        for (number, connection) in connections.enumerated() {
            #expect(try connection.receiveLine() == #"{"key":"c\#(number)","value":"\#(number)","status":"ok"}"#)
        }
        #expect(cluster.server.metrics.openConnections >= 1000)
    }
}

#if canImport(Glibc)
import Glibc
import NodeHosting
import RuntimeSupport
#endif

func rlimitValue() -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}

func raiseDescriptorLimit(to wanted: Int) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    guard limit.rlim_cur < rlim_t(wanted) else { return }
    limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
