/// Operations that cannot be ordered, drawn for people: one line per operation in call order with
/// its interval in milliseconds from the first call, and an HTML page with the same as an SVG
/// timeline (one row per client, a bar from call to answer).
public enum Timeline {
    /// What the operations' times are: nanoseconds on one clock (shown in ms from the first
    /// call), or line numbers of a history file with no times (Jepsen's formats).
    public enum Axis: Sendable {
        case nanoseconds
        case lineNumbers

        func label(_ time: UInt64, origin: UInt64) -> String {
            switch self {
            case .nanoseconds:
                let tenths = Int((Double(time - origin) / 1e5).rounded())
                return "\(tenths / 10).\(tenths % 10)"
            case .lineNumbers: return "line \(time)"
            }
        }

        var unitNote: String {
            switch self {
            case .nanoseconds: return "times in ms from the first call"
            case .lineNumbers: return "times are the lines of the file where each call and answer appear"
            }
        }

        var actor: String { self == .nanoseconds ? "client" : "process" }
    }

    public static func text(key: String, operations: [KVOperation], axis: Axis = .nanoseconds) -> String {
        let sorted = operations.sorted { $0.call < $1.call }
        guard let origin = sorted.first?.call else { return "no operations" }
        var lines = sorted.count == 1
            ? ["This operation on key \(KVOperation.quote(key)) gave an answer that no order of the history can give",
               "(\(axis.unitNote)):"]
            : ["These \(sorted.count) operations on key \(KVOperation.quote(key)) cannot be put in any order that respects",
               "their times and gives every answer shown (\(axis.unitNote)):"]
        for operation in sorted {
            let end = operation.response.map { axis.label($0, origin: origin) } ?? "never"
            lines.append("  \(axis.actor) \(operation.client)  [\(axis.label(operation.call, origin: origin)) – \(end)]  \(operation.summary)")
        }
        return lines.joined(separator: "\n")
    }

    /// The page: an SVG with one row per operation and the calls and answers in their order
    /// along the axis, evenly spaced (real gaps differ by orders of magnitude; the order is what
    /// matters), each end labelled with its real time in ms.
    public static func html(key: String, operations: [KVOperation], axis: Axis = .nanoseconds) -> String {
        let sorted = operations.sorted { $0.call < $1.call }
        guard let origin = sorted.first?.call else { return "<p>no operations</p>" }
        var times = Set<UInt64>()
        for operation in sorted {
            times.insert(operation.call)
            if let response = operation.response { times.insert(response) }
        }
        let ordered = times.sorted()
        let left = 230.0, step = 110.0, rowHeight = 44.0
        let width = left + step * Double(ordered.count) + 60
        func x(_ time: UInt64?) -> Double {
            guard let time, let position = ordered.firstIndex(of: time) else { return width - 30 }
            return left + step * Double(position) + 20
        }
        func ms(_ time: UInt64) -> String { axis == .nanoseconds ? format(Double(time - origin) / 1e6) + " ms" : "line \(time)" }
        let height = rowHeight * Double(sorted.count) + 30
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"13\">"
        for (row, operation) in sorted.enumerated() {
            let y = 14 + rowHeight * Double(row)
            let start = x(operation.call)
            let stop = x(operation.response)
            let color = operation.outcome == .unknown ? "#c9a227" : (operation.mayWrite ? "#3d7be0" : "#2f9e58")
            svg += "<text x=\"8\" y=\"\(format(y + 16))\">\(axis.actor) \(operation.client): \(escape(operation.summary))</text>"
            svg += "<rect x=\"\(format(start))\" y=\"\(format(y + 3))\" width=\"\(format(max(stop - start, 4)))\" height=\"18\" rx=\"4\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(format(start))\" y=\"\(format(y + 36))\" fill=\"#555\" font-size=\"11\">\(ms(operation.call))</text>"
            if let response = operation.response {
                svg += "<text x=\"\(format(stop))\" y=\"\(format(y + 36))\" fill=\"#555\" font-size=\"11\" text-anchor=\"end\">\(ms(response))</text>"
            }
        }
        svg += "</svg>"
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>Not linearizable: key \(escape(key))</title></head>
            <body style="font-family:sans-serif;background:#fff;color:#111;margin:20px">
            <h1>Not linearizable</h1>
            <p>These operations on key <code>\(escape(key))</code> cannot be placed in any order that respects their
            times and gives every answer shown. Each bar runs from the call to the answer (blue: a write, green: a read or a refused write,
            yellow: no answer); left to right is the order in which things happened.</p>
            \(svg)
            <pre>\(escape(text(key: key, operations: operations, axis: axis)))</pre>
            </body></html>
            """
    }

    static func format(_ value: Double) -> String {
        String(Int((value * 10).rounded()) / 10) + "." + String(abs(Int((value * 10).rounded())) % 10)
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
