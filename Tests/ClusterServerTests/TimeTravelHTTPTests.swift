import ClientFront
import ClusterServer
import Foundation
import JSONText
import RuntimeSupport
import Testing

/// Record now, look later: a live cluster is stepped by hand and its `status` taken at several
/// moments; its recording is saved (`POST /v1/replay/record`) and the replay-mode answers
/// (`GET /v1/replay/state?step=S`, S the last step before each moment) show the same cluster.
@Suite(.serialized) struct TimeTravelHTTPTests {
    static let compared = ["role", "term", "votedFor", "commitIndex", "lastApplied", "logLength", "alive", "leaderId"]

    func get(_ port: Int, _ path: String) throws -> (status: Int, object: JSONObject?, body: String) {
        let client = try HTTPTestClient(port: port)
        client.sendRaw("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(client.readResponse(), "no answer to GET \(path)")
        return (response.status, try? JSONParser.parse(response.body).objectValue, response.body)
    }

    func post(_ port: Int, _ path: String) throws -> JSONObject? {
        let client = try HTTPTestClient(port: port)
        client.sendRaw("POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let response = try #require(client.readResponse(), "no answer to POST \(path)")
        return try JSONParser.parse(response.body).objectValue
    }

    @Test func theReplayAnswersMatchTheLiveStatusAtTheRecordedMoments() throws {
        let cluster = try TestCluster(nodes: 3) { $0.seed = 31 }
        let http = try #require(cluster.server.httpPort)
        #expect(try cluster.request(#"{"admin":"scenario","name":"leader-crash"}"#)["status"] == .string("ok"))

        var moments: [(time: UInt64, status: JSONObject, what: String)] = []
        func settle() {
            usleep(150_000)  // deliveries are handled on the nodes' queues
        }
        func capture(_ what: String) throws {
            settle()
            let status = try cluster.status()
            moments.append((MonotonicClock.now(), status, what))
            settle()
        }
        func deliverEverything() throws {
            for _ in 0..<300 {
                let answer = try cluster.request(#"{"admin":"deliver"}"#)
                if answer["status"] != .string("ok") { break }
                usleep(20_000)
            }
        }
        try capture("after the scenario")
        let leader = try #require(try cluster.status()["leader"]?.intValue)
        try cluster.request(#"{"admin":"kill","node":\#(leader)}"#)
        try capture("the leader killed")
        let candidate = (leader + 1) % 3
        let node = try cluster.node(candidate)
        let ticks = (node["electionTimeout"]?.intValue ?? 40) - (node["electionElapsed"]?.intValue ?? 0) + 20
        try cluster.request(#"{"admin":"tick","node":\#((leader + 2) % 3),"count":\#(ticks)}"#)
        try capture("a follower ticked past its timeout")
        try cluster.request(#"{"admin":"tick","node":\#(candidate),"count":\#(ticks)}"#)
        try capture("the candidate ticked")
        try deliverEverything()
        try capture("the election delivered")
        try cluster.request(#"{"admin":"restart","node":\#(leader)}"#)
        try cluster.request(#"{"admin":"tick","node":\#(candidate),"count":10}"#)
        try deliverEverything()
        try capture("the old leader back")
        #expect(moments.map { $0.status["leader"] }.contains(.null), "a moment without a leader")

        let saved = try #require(try post(http, "/v1/replay/record"))
        #expect(saved["status"] == .string("ok"), "\(saved)")
        #expect(saved["command"]?.stringValue?.contains("ServerMain --replay") == true)
        var timeline: JSONObject?
        #expect(try waitUntil(seconds: 60) {
            let answer = try get(http, "/v1/replay")
            timeline = answer.object
            return answer.status == 200 && timeline?["steps"] != nil
        })
        let steps = try #require(timeline?["steps"]?.intValue)
        let events = timeline?["events"]?.arrayValue ?? []
        #expect(steps > 50 && !events.isEmpty)
        #expect(events.allSatisfy { event in ["step", "time", "text"].allSatisfy { event.objectValue?[$0] != nil } })
        #expect(events.contains { $0.objectValue?["kind"] == .string("leader") })
        #expect(events.contains { $0.objectValue?["kind"] == .string("stop") })

        let travel = try #require(cluster.server.admin.replays.service.view?.travel)
        for moment in moments {
            let step = travel.step(atTime: moment.time)
            let answer = try get(http, "/v1/replay/state?step=\(step)")
            #expect(answer.status == 200)
            let replayed = try #require(answer.object)
            #expect(replayed["status"] == .string("ok") && replayed["step"]?.intValue == step)
            #expect(replayed["leader"] == moment.status["leader"], "\(moment.what) (step \(step)): the leader")
            let live = moment.status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let shown = replayed["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
            #expect(live.count == 3 && shown.count == 3)
            for (a, b) in zip(live, shown) {
                let fields = a["alive"] == .bool(true) ? Self.compared : ["alive"]
                for field in fields {
                    #expect(a[field] == b[field], "\(moment.what) (step \(step)), node \(a["id"]?.intValue ?? -1): \(field) live \(String(describing: a[field])), replayed \(String(describing: b[field]))")
                }
            }
            #expect(replayed["logs"]?.objectValue != nil && replayed["inFlight"]?.arrayValue != nil)
        }

        // The page in replay mode, and the answers' edges.
        let page = try get(http, "/replay")
        #expect(page.status == 200 && page.body.contains("data-mode=\"replay\""))
        #expect(try get(http, "/v1/replay/state?step=-1").status == 400)
        let last = try #require(try get(http, "/v1/replay/state?step=999999999").object)
        #expect(last["step"]?.intValue == steps)
        let detail = try #require(try get(http, "/v1/replay/state?step=\(steps / 2)").object?["detail"]?.objectValue)
        #expect(detail["input"]?.stringValue?.isEmpty == false && detail["sent"]?.arrayValue != nil)
    }
}
