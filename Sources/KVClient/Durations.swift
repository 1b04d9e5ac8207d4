/// Durations as people type them: `5s`, `500ms`, `2m`, `1.5s`, `1h`; a bare number is seconds.
public enum Durations {
    public typealias Problem = ShortCommandParser.Problem

    /// `text` in milliseconds (rounded to the nearest), or a problem that says what is accepted.
    public static func milliseconds(_ text: String, what: String = "a duration") throws(Problem) -> Int64 {
        let lowered = text.lowercased()
        let units: [(suffix: String, ms: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var number = Substring(lowered)
        var scale = 1000.0
        for unit in units where lowered.hasSuffix(unit.suffix) {
            number = lowered.dropLast(unit.suffix.count)
            scale = unit.ms
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(number),
              value.isFinite, value >= 0, value * scale < 1e15 else {
            throw Problem("\(what) is written like 5s, 500ms, 2m or 1.5s, not \"\(text)\"")
        }
        return Int64((value * scale).rounded())
    }

    /// A duration for people: `500ms`, `5s`, `1.5s`, `2m`, `1m30s`, `1h`.
    public static func text(milliseconds ms: Int64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = (ms + 500) / 1000
        if seconds < 3600 {
            return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m\(seconds % 60)s"
        }
        let minutes = seconds / 60
        return minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes / 60)h\(minutes % 60)m"
    }
}
