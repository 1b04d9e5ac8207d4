#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinCheck
import KVClient

/// `ClientMain check --history FILE`: checks history files of any system (Jepsen's log lines or
/// EDN maps, or this project's recorded JSON lines) for linearizability and prints the verdict;
/// a thin shell around `HistoryCheck`, which does the reading, checking and wording.
public enum HistoryCheckCommand {
    public static let usage = """
        Usage: ClientMain check --history FILE [--history FILE…] [--model register|kv] [--report FILE.html]
                                [--json] [--time-limit S] [--fail-cas refused|no-effect]

        Checks whether each history is linearizable. The format is told by content: Jepsen log lines
        (INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]), Jepsen EDN maps ({:process 0, :type :invoke,
        :f :append, :key "4", :value "x 0 1 y"}), or the JSON lines this project records.

          --history FILE   a history to check (repeat, or list more files after it)
          --model M        register (one key) or kv (independent keys); default: by content
          --report FILE    write the timeline of the first violation as an HTML page
          --json           one JSON line per file instead of text
          --time-limit S   give up after S seconds per file, verdict unknown (default 60)
          --fail-cas R     what a Jepsen :fail of a :cas says: refused (its comparison failed; default)
                           or no-effect (only that it did not happen)

        Exit status: 0 linearizable, 1 not linearizable, 2 a bad command line or unreadable file,
        3 unknown (the time limit ran out). With several files, the worst: 2, then 1, then 3.
        """

    struct Arguments {
        var files: [String] = []
        var options = HistoryCheck.Options()
        var report: String?
        var json = false
    }

    /// Runs the command on the arguments after `check`; returns the exit status.
    public static func run(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        switch parse(arguments) {
        case .success(let value): parsed = value
        case .failure(let problem):
            if problem.message == "help" {
                print(usage)
                return 0
            }
            errorLine("ClientMain check: \(problem.message)")
            return 2
        }
        var statuses: [Int32] = []
        var reportWritten = false
        for path in parsed.files {
            do {
                let report = try HistoryCheck.check(path: path, options: parsed.options, clock: CheckRun.now)
                print(parsed.json ? report.json : report.text)
                if let target = parsed.report, !reportWritten, let html = report.html {
                    reportWritten = true
                    if writeFile(target, html) {
                        if !parsed.json { print("timeline written to \(target)") }
                    } else {
                        errorLine("ClientMain check: cannot write \(target)")
                        statuses.append(2)
                    }
                }
                statuses.append(report.exitStatus)
            } catch {
                errorLine("ClientMain check: \(error)")
                statuses.append(2)
            }
        }
        for worst in [Int32(2), 1, 3] where statuses.contains(worst) { return worst }
        return 0
    }

    struct Problem: Error {
        var message: String
    }

    static func parse(_ arguments: [String]) -> Result<Arguments, Problem> {
        var result = Arguments()
        var remaining = arguments[...]
        func value(_ name: String) -> Result<String, Problem> {
            guard let next = remaining.popFirst() else { return .failure(Problem(message: "\(name) needs a value (see --help)")) }
            return .success(next)
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "-h", "--help": return .failure(Problem(message: "help"))
            case "--json": result.json = true
            case "--history", "--model", "--report", "--time-limit", "--fail-cas":
                guard case .success(let text) = value(argument) else { return .failure(Problem(message: "\(argument) needs a value (see --help)")) }
                switch argument {
                case "--history": result.files.append(text)
                case "--report": result.report = text
                case "--model":
                    guard let model = HistoryCheck.Model(rawValue: text) else { return .failure(Problem(message: "--model is register or kv")) }
                    result.options.model = model
                case "--time-limit":
                    guard let seconds = Double(text), seconds > 0 else { return .failure(Problem(message: "--time-limit takes seconds > 0")) }
                    result.options.timeLimitSeconds = seconds
                default:
                    guard text == "refused" || text == "no-effect" else { return .failure(Problem(message: "--fail-cas is refused or no-effect")) }
                    result.options.failedCASIsRefusal = text == "refused"
                }
            default:
                if argument.hasPrefix("-") || result.files.isEmpty {
                    return .failure(Problem(message: "unknown argument \"\(argument)\" (see --help)"))
                }
                result.files.append(argument)
            }
        }
        if result.files.isEmpty { return .failure(Problem(message: "no --history FILE given (see --help)")) }
        return .success(result)
    }

    static func writeFile(_ path: String, _ text: String) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, file)
        return fclose(file) == 0 && written == bytes.count
    }

    static func errorLine(_ text: String) {
        var bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
