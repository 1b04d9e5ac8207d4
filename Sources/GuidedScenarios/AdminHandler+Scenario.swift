import ClientFront
import Foundation
import JSONText
import KVWire
import RuntimeSupport

/// `{"admin":"scenario","name":N}`: runs a guided scenario to its end and answers with its check
/// (`{"status":"ok","scenario":N,"check":TEXT}`), or `scenario_failed` with what did not hold.
/// `"name":"list"` lists them. The cluster is left paused; the scenario's recording is saved and
/// opened for time travel at `/replay`.
extension AdminHandler {
    func scenario(_ name: String, _ reply: AdminReply) {
        if name == "list" {
            return reply.ok([("scenarios", .array(Scenario.all.map { scenario in
                .object(JSONObject([("name", .string(scenario.name)), ("title", .string(scenario.title)),
                                    ("needs", .string(scenario.needs))]))
            }))])
        }
        guard let scenario = Scenario.named(name) else {
            return reply.error(.badRequest, "no scenario \(JSONWriter.quoted(name)); the scenarios: \(Scenario.all.map(\.name).joined(separator: ", ")) (or \"list\")")
        }
        let busy = replays.runningScenario.withLock { running -> String? in
            if let running { return running }
            running = name
            return nil
        }
        if let busy { return reply.error(.busy, "scenario \(busy) is running; one at a time") }
        let driver = ScenarioDriver(admin: self, name: name)
        Thread.detachNewThread {
            let started = MonotonicClock.now()
            let outcome: Result<String, ScenarioFailure>
            do {
                let stage = try Scenario.setStage(driver, scenario)
                outcome = .success(try scenario.run(driver, stage))
            } catch let failure as ScenarioFailure {
                outcome = .failure(failure)
            } catch {
                outcome = .failure(ScenarioFailure("\(error)"))
            }
            switch outcome {
            case .success(let check): driver.say("check: \(check)")
            case .failure(let failure): driver.say("FAILED: \(failure)")
            }
            driver.say("the cluster stays paused (resume continues); the recording opens in time travel at /replay")
            self.replays.record(admin: self, from: started, startAt: started) { saved in
                self.replays.runningScenario.withLock { $0 = nil }
                var extra: [(String, JSONValue)] = [("replay", .string("/replay"))]
                if case .success(let files) = saved { extra.append(("recording", .array(files.directories.map(JSONValue.string)))) }
                switch outcome {
                case .success(let check):
                    reply.ok([("scenario", .string(name)), ("check", .string(check))] + extra)
                case .failure(let failure):
                    reply.error(.scenarioFailed, "\(name): \(failure)")
                }
            }
        }
    }
}

/// The guided scenarios for `AdminHandler.attach(scenarios:)`.
package struct GuidedScenarioRunner: ScenarioRunning {
    package init() {}

    package func scenario(_ name: String, admin: AdminHandler, _ reply: AdminReply) {
        admin.scenario(name, reply)
    }
}
