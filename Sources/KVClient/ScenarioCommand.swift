import JSONText
import KVWire

/// `scenario list` and `scenario NAME`: the server's guided scenarios ({"admin":"scenario"}).
extension ShortCommandParser {
    static func scenarioCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        guard name == "scenario" || name == "scenarios" else { return nil }
        let chosen = arguments.takeOptional("name") ?? "list"
        try arguments.finish("scenario list | scenario NAME")
        return send(.admin(.scenario(name: chosen)), .scenarios)
    }
}

extension Renderers {
    /// The scenario list as a table, or a scenario's check.
    public static func scenarios(_ answer: JSONObject) -> String {
        if let check = answer["check"]?.stringValue {
            let name = answer["scenario"]?.stringValue ?? "scenario"
            return "\(name): the check holds — \(check)\nThe cluster stays paused (resume continues); its recording opens in time travel at \(answer["replay"]?.stringValue ?? "/replay") on the HTTP port."
        }
        let list = answer["scenarios"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let width = list.map { $0["name"]?.stringValue?.count ?? 0 }.max() ?? 0
        var lines = list.map { scenario -> String in
            let name = scenario["name"]?.stringValue ?? ""
            return name + String(repeating: " ", count: width - name.count + 2) + (scenario["title"]?.stringValue ?? "")
                + "\n" + String(repeating: " ", count: width + 2) + "needs: " + (scenario["needs"]?.stringValue ?? "")
        }
        lines.append("run one with: scenario NAME (the cluster is paused and driven by hand; the answer is its check)")
        return lines.joined(separator: "\n")
    }
}
