import JSONText
import KVWire

/// Keys for people: a range as a table, a transaction's outcome step by step.
extension Renderers {
    /// Longest value shown in a table before it is cut (with "…").
    package static let valueWidth = 48
    package static let keyWidth = 40

    /// `text` on one line: control characters as escapes, cut to `width` characters, `""` when empty.
    package static func shown(_ text: String, width: Int) -> String {
        if text.isEmpty { return "\"\"" }
        var result = ""
        var count = 0
        for character in text {
            let piece: String
            switch character {
            case "\n": piece = "\\n"
            case "\r": piece = "\\r"
            case "\t": piece = "\\t"
            case "\r\n": piece = "\\r\\n"
            default:
                let scalars = character.unicodeScalars
                if scalars.count == 1, let scalar = scalars.first, scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    piece = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    piece = String(character)
                }
            }
            result += piece
            count += piece.count
            if count > width { return String(result.prefix(width - 1)) + "…" }
        }
        return result
    }

    /// A word as the client's command line reads it back: quoted when it holds spaces, quotes,
    /// backslashes or `;`, or is empty.
    public static func commandWord(_ text: String) -> String {
        let plain = !text.isEmpty && !text.contains { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == ";" }
        if plain { return text }
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// The `range` command that asks for `query` (nil: what the client sends by default is left out).
    public static func rangeCommand(_ query: RangeQuery) -> String {
        var words = ["range"]
        if let prefix = query.prefix { words += ["--prefix", commandWord(prefix)] }
        if let from = query.from { words.append(commandWord(from)) }
        if let to = query.to { words.append(commandWord(to)) }
        if query.limit != RangeQuery.defaultLimit { words += ["--limit", String(query.limit)] }
        if let after = query.after { words += ["--after", commandWord(after)] }
        if query.keysOnly { words.append("--keys-only") }
        if query.consistency == .linearizable { words.append("--linearizable") }
        return words.joined(separator: " ")
    }

    /// A range answer as a table: key, value (cut to a readable width), created, modified,
    /// version; a line with the count and the store's revision; and, when the limit cut it, the
    /// command that continues after the last key.
    /// `summary` replaces the count line (a listing of many pages says its own).
    public static func rangeTable(_ answer: JSONObject, query: RangeQuery?, continuation: Bool = true, summary: String? = nil) -> String {
        let items = answer["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let keysOnly = query?.keysOnly ?? items.allSatisfy { $0["value"] == nil }
        let revision = int(answer["revision"])
        guard !items.isEmpty else { return "no keys (store revision \(revision))" }
        var rows: [[String]] = [keysOnly ? ["key", "created", "modified", "version"] : ["key", "value", "created", "modified", "version"]]
        for item in items {
            var row = [shown(item["key"]?.stringValue ?? "?", width: keyWidth)]
            if !keysOnly { row.append(item["value"]?.stringValue.map { shown($0, width: valueWidth) } ?? "-") }
            row += [int(item["createRevision"]), int(item["modRevision"]), int(item["version"])]
            rows.append(row)
        }
        let numeric = Set(keysOnly ? [1, 2, 3] : [2, 3, 4])
        var lines = table(rows, rightAligned: numeric)
        let more = answer["more"]?.boolValue == true
        lines.append(summary ?? "\(items.count) key\(items.count == 1 ? "" : "s")\(more ? " (more follow)" : ""), store revision \(revision)")
        if more, continuation, var next = query, let last = items.last?["key"]?.stringValue {
            next.after = last
            lines.append("more… continue with: " + rangeCommand(next))
        }
        return lines.joined(separator: "\n")
    }

    /// Rows padded to their columns' widths (two spaces between), the last column not padded.
    package static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                if index > 0 { line += "  " }
                let last = index == row.count - 1
                if rightAligned.contains(index) {
                    line += pad(cell, widths[index], right: true)
                } else {
                    line += last ? cell : pad(cell, widths[index])
                }
            }
            return line
        }
    }

    /// A step of a transaction as the client's syntax writes it.
    public static func stepCommand(_ step: Transaction.Step) -> String {
        switch step {
        case .put(let key, let value, _): return "put \(commandWord(shown(key, width: keyWidth))) \(commandWord(shown(value, width: valueWidth)))"
        case .get(let key): return "get \(commandWord(shown(key, width: keyWidth)))"
        case .delete(let key): return "delete \(commandWord(shown(key, width: keyWidth)))"
        case .deletePrefix(let prefix): return "delete --prefix \(commandWord(shown(prefix, width: keyWidth)))"
        case .range(let query): return rangeCommand(query)
        }
    }

    /// A transaction's answer: whether the compares held (and so which branch ran), the store's
    /// revision, then each step of that branch with its result; a range's keys indented below it.
    public static func transaction(_ answer: JSONObject, _ transaction: Transaction?) -> String {
        let succeeded = answer["succeeded"]?.boolValue == true
        let results = answer["results"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let steps = transaction.map { succeeded ? $0.success : $0.failure }
        var lines: [String]
        if succeeded {
            lines = ["succeeded: " + ((transaction?.compare.isEmpty ?? false) ? "no compare" : "every compare held") + ", ran the then-steps (store revision \(int(answer["revision"])))"]
        } else {
            lines = ["not succeeded: a compare did not hold, ran the else-steps (store revision \(int(answer["revision"])))"]
        }
        if results.isEmpty {
            lines.append("  (no steps)")
            return lines.joined(separator: "\n")
        }
        var rows: [[String]] = []
        var below: [Int: [String]] = [:]
        for (index, result) in results.enumerated() {
            let step = steps.flatMap { index < $0.count ? $0[index] : nil }
            let described = step.map(stepCommand) ?? "step \(index + 1)"
            var outcome: String
            if result["items"] != nil {
                let items = result["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
                outcome = "\(items.count) key\(items.count == 1 ? "" : "s")" + (result["more"]?.boolValue == true ? " (more follow)" : "")
                below[index] = items.map { item in
                    let key = shown(item["key"]?.stringValue ?? "?", width: keyWidth)
                    guard let value = item["value"]?.stringValue else { return "      " + key }
                    return "      " + key + "  " + shown(value, width: valueWidth)
                }
            } else if let count = result["deleted"]?.intValue {
                outcome = "\(count) key\(count == 1 ? "" : "s") deleted"
            } else if result["status"]?.stringValue != "ok" {
                outcome = result["code"]?.stringValue ?? "error"
            } else {
                switch step {
                case .get?, nil:
                    outcome = result["value"]?.stringValue.map { "= " + shown($0, width: valueWidth) } ?? "(absent)"
                default:
                    outcome = "ok"
                }
            }
            if result["modRevision"] != nil {
                outcome += " (modified \(int(result["modRevision"])), version \(int(result["version"])))"
            }
            rows.append(["  " + described, outcome])
        }
        for (index, line) in table(rows, rightAligned: []).enumerated() {
            lines.append(line)
            lines += below[index] ?? []
        }
        return lines.joined(separator: "\n")
    }
}
