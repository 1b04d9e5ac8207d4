@testable import ClientEdge
import ClientFront
import ClusterServer
import JSONText
import Testing
import NodeHosting
import RuntimeSupport

/// Every HTTP path and status code of the contract, over real sockets.
@Suite(.serialized) struct HTTPAPITests {
    func makeCluster(_ configure: @escaping (inout ServerConfig) -> Void = { _ in }) throws -> (TestCluster, Int) {
        let cluster = try TestCluster { config in
            config.httpEnabled = true
            config.httpPort = 0
            config.httpRequestTimeoutSeconds = 1
            configure(&config)
        }
        if cluster.server.config.adminEnabled { _ = try cluster.awaitLeader() }
        return (cluster, try #require(cluster.server.httpPort))
    }

    func json(_ body: String) throws -> JSONObject {
        try #require(try JSONParser.parse(body).objectValue)
    }

    @Test func keysReadWriteAndDeleteWithPercentEncodedUTF8() throws {
        let (cluster, port) = try makeCluster()
        defer { withExtendedLifetime(cluster) {} }
        let client = try HTTPTestClient(port: port)
        let path = "/v1/kv/caf%C3%A9%20%2F%20d%C3%A9j%C3%A0"  // "café / déjà"
        let put = try #require(client.request("PUT", path, body: "crème brûlée"))
        #expect(put.status == 200)
        #expect(put.body == #"{"key":"café / déjà","value":"crème brûlée","status":"ok"}"# + "\n")
        #expect(put.headers["content-type"] == "application/json")
        let get = try #require(client.request("GET", path + "?consistency=linearizable"))
        #expect(try get.status == 200 && (json(get.body))["value"] == .string("crème brûlée"))
        let eventual = try #require(client.request("GET", path))
        #expect(eventual.status == 200)
        let deleted = try #require(client.request("DELETE", path))
        #expect(deleted.status == 200 && deleted.body.contains(#""value":null"#))
        let missing = try #require(client.request("GET", path + "?consistency=linearizable"))
        #expect(try missing.status == 404 && (json(missing.body))["code"] == .string("not_found"))
    }

    @Test func everyErrorHasItsStatusAndTheLineProtocolsBody() throws {
        let (cluster, port) = try makeCluster { $0.limits.valueBytes = 64; $0.limits.lineBytes = 1024 }
        defer { withExtendedLifetime(cluster) {} }
        let client = try HTTPTestClient(port: port)
        func check(_ method: String, _ path: String, body: String? = nil, status: Int, code: String?) throws {
            let response = try #require(client.request(method, path, body: body), "\(method) \(path)")
            #expect(response.status == status, "\(method) \(path): \(response.body)")
            if let code { #expect(try json(response.body)["code"] == .string(code), "\(method) \(path)") }
        }
        try check("GET", "/v1/kv/", status: 400, code: "bad_request")
        try check("GET", "/v1/kv/bad%ZZ", status: 400, code: "bad_request")
        try check("GET", "/v1/kv/k?consistency=strong", status: 400, code: "bad_request")
        try check("PUT", "/v1/kv/k", body: String(repeating: "v", count: 65), status: 413, code: "too_large")
        try check("POST", "/v1/request", body: "not json", status: 400, code: "bad_request")
        try check("POST", "/v1/request", body: #"{"op":"frobnicate","key":"k"}"#, status: 400, code: "bad_request")
        try check("POST", "/v1/request", body: #"{"key":"k","value":"1"}"#, status: 200, code: nil)
        try check("POST", "/v1/request", body: #"{"op":"cas","key":"k","expect":"2","value":"3"}"#, status: 409, code: "cas_failed")
        try check("POST", "/v1/request", body: #"{"admin":"add","node":70}"#, status: 400, code: "bad_request")
        try check("GET", "/nowhere", status: 404, code: "not_found")
        let wrong = try #require(client.request("POST", "/v1/kv/k", body: "x"))
        #expect(wrong.status == 405 && wrong.headers["allow"] == "GET, PUT, DELETE")
        let wrongStatus = try #require(client.request("DELETE", "/v1/status"))
        #expect(wrongStatus.status == 405 && wrongStatus.headers["allow"] == "GET")
        let status = try #require(client.request("GET", "/v1/status"))
        #expect(try status.status == 200 && (json(status.body))["nodes"]?.arrayValue?.count == 3)
        let metrics = try #require(client.request("GET", "/metrics"))
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.body.contains("# TYPE raftkv_term gauge"))
        let page = try #require(client.request("GET", "/"))
        #expect(page.status == 200 && page.body.contains("<svg id=\"ring\""))
        // Body over lineBytes: refused before reading it, and the connection closes.
        let big = try HTTPTestClient(port: port)
        big.sendRaw("POST /v1/request HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        let refused = try #require(big.readResponse())
        #expect(try refused.status == 413 && (json(refused.body))["code"] == .string("too_large"))
        #expect(big.isClosedByServer())
    }

    @Test func statusCodesFollowTheContractForEveryErrorCode() {
        let expected: [String: Int] = ["bad_request": 400, "forbidden": 403, "not_found": 404, "cas_failed": 409, "busy": 409,
                                       "too_large": 413, "unavailable": 503, "timeout": 504]
        for (code, status) in expected {
            #expect(HTTPAPI.status(ofAnswer: #"{"status":"error","code":"\#(code)","error":"x"}"#) == status, "\(code)")
        }
        #expect(HTTPAPI.status(ofAnswer: #"{"key":"a","value":"b","status":"ok"}"#) == 200)
    }

    @Test func headersOver16KiBAre431AndHalfSentRequestsTimeOut() throws {
        let (cluster, port) = try makeCluster()
        defer { withExtendedLifetime(cluster) {} }
        let huge = try HTTPTestClient(port: port)
        huge.sendRaw("GET /v1/status HTTP/1.1\r\nHost: t\r\nX-Filler: \(String(repeating: "a", count: 17_000))\r\n\r\n")
        let refused = try #require(huge.readResponse())
        #expect(refused.status == 431)
        let slow = try HTTPTestClient(port: port)
        slow.sendRaw("PUT /v1/kv/k HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nonly")
        let timedOut = try #require(slow.readResponse(), "the server answers a request that never completes")
        #expect(timedOut.status == 408)
        #expect(slow.isClosedByServer())
        let version = try HTTPTestClient(port: port)
        version.sendRaw("GET / HTTP/2.0\r\nHost: t\r\n\r\n")
        #expect(version.readResponse()?.status == 505)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndKeepAliveHolds() throws {
        let (cluster, port) = try makeCluster()
        defer { withExtendedLifetime(cluster) {} }
        let client = try HTTPTestClient(port: port)
        var batch = ""
        for number in 0..<20 {
            batch += "PUT /v1/kv/p\(number) HTTP/1.1\r\nHost: t\r\nContent-Length: \(String(number).count)\r\n\r\n\(number)"
            batch += "GET /v1/kv/p\(number)?consistency=linearizable HTTP/1.1\r\nHost: t\r\n\r\n"
        }
        batch += "GET /v1/kv/p0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        client.sendRaw(batch)
        for number in 0..<20 {
            let put = try #require(client.readResponse())
            #expect(put.status == 200 && put.body.contains(#""key":"p\#(number)","value":"\#(number)""#))
            let get = try #require(client.readResponse())
            #expect(get.status == 200 && get.body.contains(#""value":"\#(number)""#), "answers come back in request order")
        }
        let last = try #require(client.readResponse())
        #expect(last.headers["connection"] == "close")
        #expect(client.isClosedByServer(), "Connection: close is honoured")
        let old = try HTTPTestClient(port: port)
        old.sendRaw("GET /v1/kv/p1 HTTP/1.0\r\n\r\n")
        #expect(old.readResponse()?.status == 200)
        #expect(old.isClosedByServer(), "HTTP/1.0 closes unless asked to keep alive")
    }

    @Test func serverSentEventsCarryStateAndTheEventLog() throws {
        let (cluster, port) = try makeCluster()
        let stream = try HTTPTestClient(port: port)
        stream.sendRaw("GET /v1/events HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = stream.readStream { $0.contains("event: state") }
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.contains("Content-Type: text/event-stream"))
        #expect(head.contains(#""nodes":["#))
        try cluster.request(#"{"admin":"kill","node":1}"#)
        let later = stream.readStream { $0.contains("kill requested") }
        #expect(later.contains("event: log") && later.contains("kill requested"))
        let down = stream.readStream { $0.contains(#"{"id":1,"role":"down""#) }
        #expect(down.contains(#"{"id":1,"role":"down""#), "the next state shows the node down")
    }

    @Test func adminPathsAreForbiddenWhenAdminIsOff() throws {
        let (cluster, port) = try makeCluster { $0.adminEnabled = false }
        defer { withExtendedLifetime(cluster) {} }
        let client = try HTTPTestClient(port: port)
        for (method, path, body) in [("GET", "/v1/status", nil), ("GET", "/metrics", nil), ("GET", "/v1/events", nil),
                                     ("POST", "/v1/request", #"{"admin":"kill","node":0}"#)] {
            let response = try #require(client.request(method, path, body: body))
            #expect(response.status == 403, "\(path)")
            #expect(try json(response.body)["code"] == .string("forbidden"))
        }
        #expect(client.request("PUT", "/v1/kv/open", body: "data")?.status == 200, "data paths stay open")
    }
}
