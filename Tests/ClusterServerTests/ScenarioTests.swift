import ClientFront
import ClusterServer
import JSONText
import KVClient
import RuntimeSupport
import Testing

/// Guided scenarios on the real store: each reaches its narrated end and its check holds, on
/// fresh seeded clusters and again on the same cluster; one that cannot run here says why.
@Suite(.serialized) struct ScenarioTests {
    static let runs: [(name: String, nodes: Int, seed: UInt64)] = [
        ("leader-crash", 3, 1), ("leader-crash", 5, 2),
        ("log-repair", 3, 3), ("log-repair", 5, 4),
        ("split-vote", 3, 5), ("split-vote", 5, 6),
        ("minority-partition", 3, 7), ("minority-partition", 5, 8),
        ("figure8", 5, 9), ("figure8", 5, 10),
        ("stale-read", 3, 11), ("stale-read", 5, 12),
    ]

    @Test("a scenario reaches its narrated end and its check holds, on a fresh cluster and again on the same one",
          arguments: runs.map { "\($0.name) \($0.nodes) \($0.seed)" })
    func scenarioPasses(_ run: String) throws {
        let parts = run.split(separator: " ")
        let name = String(parts[0]), nodes = Int(parts[1])!, seed = UInt64(parts[2])!
        let cluster = try TestCluster(nodes: nodes) { config in
            config.seed = seed
            config.unsafeLocalReads = name == "stale-read"
        }
        for round in 1...2 {
            let answer = try cluster.request(#"{"admin":"scenario","name":"\#(name)"}"#)
            #expect(answer["status"] == .string("ok"), "\(run), round \(round): \(answer)")
            #expect(answer["scenario"] == .string(name))
            let check = answer["check"]?.stringValue ?? ""
            #expect(!check.isEmpty)
            print("scenario \(name) (\(nodes) nodes, seed \(seed), round \(round)): \(check)")
            #expect(cluster.events.contains { $0.contains("scenario \(name): check: \(check)") }, "the check is narrated")
            #expect(cluster.events.contains { $0.contains("scenario \(name): — ") }, "the scenario narrates from its start")
            #expect(try cluster.status()["paused"] == .bool(true), "the cluster is left paused")
        }
        // Its recording opens in time travel.
        let library = cluster.server.admin.replays
        #expect(waitUntil(seconds: 60) { library.service.view != nil && !library.service.isLoading })
        let view = try #require(library.service.view)
        #expect(view.travel.summary.problem == nil, "\(view.travel.summary.problem?.description ?? "")")
        #expect(view.travel.events.contains { $0.kind == "scenario" && $0.text.hasPrefix("check: ") })
        #expect(view.startStep != nil)
        // Resume continues: the cluster serves writes again.
        #expect(try cluster.request(#"{"admin":"resume"}"#)["status"] == .string("ok"))
        _ = try cluster.awaitLeader(seconds: 15)
        let written = try waitUntil(seconds: 15) {
            try cluster.request(#"{"key":"after-\#(name)","value":"resumed"}"#)["status"] == .string("ok")
        }
        #expect(written)
    }

    @Test func aScenarioThatCannotRunHereSaysWhy() throws {
        let cluster = try TestCluster(nodes: 3) { $0.seed = 21 }
        let list = try cluster.request(#"{"admin":"scenario","name":"list"}"#)
        let names = list["scenarios"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? []
        #expect(names == ["leader-crash", "log-repair", "split-vote", "minority-partition", "figure8", "stale-read"])

        let figure8 = try cluster.request(#"{"admin":"scenario","name":"figure8"}"#)
        #expect(figure8["code"] == .string("scenario_failed"))
        #expect(figure8["error"]?.stringValue?.contains("exactly 5 nodes") == true, "\(figure8)")

        let stale = try cluster.request(#"{"admin":"scenario","name":"stale-read"}"#)
        #expect(stale["code"] == .string("scenario_failed"))
        #expect(stale["error"]?.stringValue?.contains("unsafeLocalReads") == true, "\(stale)")

        let unknown = try cluster.request(#"{"admin":"scenario","name":"figure9"}"#)
        #expect(unknown["code"] == .string("bad_request"))
        #expect(try cluster.request(#"{"admin":"scenario"}"#)["code"] == .string("bad_request"))
    }

    @Test func clientMainListsAndRunsScenarios() throws {
        #expect(try ShortCommandParser.parse("scenario list") == .send(#"{"admin":"scenario","name":"list"}"#, display: .scenarios))
        #expect(try ShortCommandParser.parse("scenario") == .send(#"{"admin":"scenario","name":"list"}"#, display: .scenarios))
        #expect(try ShortCommandParser.parse("scenario figure8") == .send(#"{"admin":"scenario","name":"figure8"}"#, display: .scenarios))
        let cluster = try TestCluster(nodes: 3) { $0.seed = 22 }
        let list = try cluster.request(#"{"admin":"scenario","name":"list"}"#)
        let table = Renderers.scenarios(list)
        #expect(table.contains("figure8") && table.contains("needs: one process, exactly 5 nodes"), "\(table)")
        let ran = try cluster.request(#"{"admin":"scenario","name":"log-repair"}"#)
        #expect(Renderers.scenarios(ran).hasPrefix("log-repair: the check holds — node "), "\(Renderers.scenarios(ran))")
    }
}
