/// Reads Jepsen's log lines of a single-register test, as in Jepsen's published etcd runs:
/// `INFO  jepsen.util - 3	:invoke	:cas	[1 2]` — a process number, `:invoke`, `:ok`, `:fail` or
/// `:info`, a function (`:read`, `:write`, `:cas`) and a value (`nil`, a number, `[from to]`, or
/// a keyword such as `:timed-out`). Whatever precedes the process number (the logger's prefix)
/// is skipped; lines of other shapes (the nemesis, other loggers) are not events and are skipped.
enum JepsenLogFormat {
    static let registerKey = "register"

    /// The event on one line, or nil when the line is not an event.
    static func event(_ line: Substring, number: Int) throws -> ProcessPairing.Event? {
        guard let marker = line.range(of: "\t:") ?? line.range(of: " :") else { return nil }
        // The process number is the last word before the first field.
        let before = line[..<marker.lowerBound]
        let processText = before.split(whereSeparator: { $0 == " " || $0 == "\t" }).last ?? ""
        guard let process = Int(processText) else { return nil }
        let fields = line[marker.lowerBound...].split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let type = keyword(fields[0]).flatMap(ProcessPairing.EventType.init(rawValue:)),
              let function = keyword(fields[1]).flatMap(ProcessPairing.Function.init(rawValue:)) else { return nil }
        let rest = fields.count > 2 ? fields[2].trimmingSpaces : ""
        return ProcessPairing.Event(process: process, type: type, function: function, key: registerKey,
                                    value: try value(rest, line: number), line: number)
    }

    static func keyword(_ text: Substring) -> String? {
        text.first == ":" ? String(text.dropFirst()) : nil
    }

    static func value(_ text: Substring, line: Int) throws -> ProcessPairing.Value {
        if text.isEmpty || text == "nil" { return .none }
        if text.first == ":" { return .keyword(String(text.dropFirst())) }
        if text.first == "[" {
            guard text.last == "]" else { throw ProcessPairing.Failure(line: line, reason: "unclosed [ in \(text)") }
            let parts = text.dropFirst().dropLast().split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" })
            guard parts.count == 2 else { throw ProcessPairing.Failure(line: line, reason: "expected [from to], found \(text)") }
            return .pair(try value(parts[0], line: line), try value(parts[1], line: line))
        }
        if text.first == "\"", text.count >= 2, text.last == "\"" { return .text(String(text.dropFirst().dropLast())) }
        return .text(String(text))
    }

    /// Whether a line looks like this format (for telling formats apart).
    static func looksLikeEvent(_ line: Substring) -> Bool {
        ((try? event(line, number: 0)) ?? nil) != nil
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\r" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result = result.dropLast() }
        return result
    }

    /// The first range of `needle` (no Foundation here).
    func range(of needle: String) -> Range<Index>? {
        let pattern = Array(needle.utf8)
        guard let first = pattern.first else { return nil }
        var index = startIndex
        let view = utf8
        while index < endIndex {
            if view[index] == first, view[index...].starts(with: pattern) {
                return index..<view.index(index, offsetBy: pattern.count)
            }
            index = view.index(after: index)
        }
        return nil
    }
}
