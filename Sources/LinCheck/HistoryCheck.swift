/// The checker as a tool for any history file: reads it (`HistoryFile`), checks it
/// (`LinearizabilityChecker`) and words the verdict for people (text, an HTML timeline) and for
/// tools (one JSON line). `ClientMain check --history` is a thin shell around this.
public enum HistoryCheck {
    public enum Model: String, Sendable {
        /// One register: every operation must be on one key.
        case register
        /// A map of independent registers, one per key.
        case kv
    }

    public struct Options: Sendable {
        /// nil: by content (a history on one key is a register).
        public var model: Model?
        public var timeLimitSeconds: Double
        /// A Jepsen `:fail` of a `:cas` also says its comparison failed (see `ProcessPairing`).
        public var failedCASIsRefusal: Bool

        public init(model: Model? = nil, timeLimitSeconds: Double = 60, failedCASIsRefusal: Bool = true) {
            self.model = model
            self.timeLimitSeconds = timeLimitSeconds
            self.failedCASIsRefusal = failedCASIsRefusal
        }
    }

    public struct Report: Sendable {
        public var file: String
        public var format: ParsedHistory.Format
        public var model: Model
        public var result: LinearizabilityChecker.Result
        public var axis: Timeline.Axis

        /// 0 linearizable, 1 not linearizable, 3 unknown (the time limit ran out).
        public var exitStatus: Int32 {
            switch result.verdict {
            case .linearizable: return 0
            case .violation: return 1
            case .unknown: return 3
            }
        }

        public var verdictWord: String {
            switch result.verdict {
            case .linearizable: return "linearizable"
            case .violation: return "not linearizable"
            case .unknown: return "unknown"
            }
        }

        var facts: String {
            let keys = result.keys == 1 ? "1 key" : "\(result.keys) keys"
            return "\(format.rawValue), \(model.rawValue) model: \(result.operations) operations on \(keys), checked in \(seconds(result.seconds)) s"
        }

        /// For people: the verdict, and for a violation the minimal set as a timeline.
        public var text: String {
            switch result.verdict {
            case .linearizable: return "\(file): linearizable (\(facts))"
            case .violation(let key, let minimal):
                return "\(file): NOT linearizable (\(facts))\n" + Timeline.text(key: key, operations: minimal, axis: axis)
            case .unknown(let reason): return "\(file): unknown — \(reason) (\(facts))"
            }
        }

        /// The HTML timeline of a violation.
        public var html: String? {
            guard case .violation(let key, let minimal) = result.verdict else { return nil }
            return Timeline.html(key: key, operations: minimal, axis: axis)
        }

        /// For tools: one line.
        public var json: String {
            var line = "{\"file\":\(MiniJSON.quoted(file)),\"format\":\(MiniJSON.quoted(format.rawValue)),\"model\":\"\(model.rawValue)\","
                + "\"verdict\":\"\(verdictWord)\",\"operations\":\(result.operations),\"keys\":\(result.keys),\"seconds\":\(seconds(result.seconds))"
            switch result.verdict {
            case .linearizable: break
            case .unknown(let reason): line += ",\"reason\":\(MiniJSON.quoted(reason))"
            case .violation(let key, let minimal):
                let items = minimal.sorted { $0.call < $1.call }.map { operation in
                    "{\"\(axis.actor)\":\(operation.client),\"call\":\(operation.call),\"response\":\(operation.response.map { String($0) } ?? "null"),"
                        + "\"operation\":\(MiniJSON.quoted(operation.summary))}"
                }
                line += ",\"key\":\(MiniJSON.quoted(key)),\"minimal\":[\(items.joined(separator: ","))]"
            }
            return line + "}"
        }

        func seconds(_ value: Double) -> String {
            let micros = Int((value * 1e6).rounded())
            let fraction = String(micros % 1_000_000)
            return "\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
        }
    }

    /// Reads and checks the file at `path`; throws `HistoryFile.Failure` for a file it cannot read.
    public static func check(path: String, options: Options = Options(), clock: @escaping () -> UInt64) throws -> Report {
        let history = try HistoryFile.read(path: path, failedCASIsRefusal: options.failedCASIsRefusal)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return try check(history, file: name, options: options, clock: clock)
    }

    public static func check(_ history: ParsedHistory, file: String, options: Options = Options(),
                             clock: @escaping () -> UInt64) throws -> Report {
        var keys: [String] = []
        for operation in history.operations where !keys.contains(operation.key) {
            keys.append(operation.key)
            if keys.count > 1 { break }
        }
        let model = options.model ?? (keys.count <= 1 ? .register : .kv)
        if model == .register && keys.count > 1 {
            throw HistoryFile.Failure(message: "\(file): the register model takes one key, and this history has several (use --model kv)")
        }
        let result = LinearizabilityChecker.check(history.operations, emptyIsAbsent: history.emptyIsAbsent,
                                                  timeLimitSeconds: options.timeLimitSeconds, clock: clock)
        return Report(file: file, format: history.format, model: model, result: result,
                      axis: history.timesAreLineNumbers ? .lineNumbers : .nanoseconds)
    }
}
