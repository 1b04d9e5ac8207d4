#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A history read from a file, with what the checker needs to know of where it came from.
public struct ParsedHistory: Sendable {
    public enum Format: String, Sendable {
        case jepsenLog = "Jepsen log lines"
        case jepsenEDN = "Jepsen EDN maps"
        case recorded = "recorded JSON lines"
    }

    public var format: Format
    public var operations: [KVOperation]
    /// A missing key reads as "" (Jepsen EDN histories: the MIT lab's key-value store).
    public var emptyIsAbsent: Bool
    /// Times are line numbers of the file (Jepsen formats), not nanoseconds.
    public var timesAreLineNumbers: Bool
    /// Completions that matched no open invocation (left out).
    public var unmatchedCompletions: Int
}

/// Reads a history file of any supported format, telling the format by content: Jepsen's log
/// lines (`JepsenLogFormat`), Jepsen's EDN maps (`EDNFormat`), or this project's JSON lines
/// (`RecordedFormat`).
public enum HistoryFile {
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func read(path: String, failedCASIsRefusal: Bool = true) throws -> ParsedHistory {
        guard let file = fopen(path, "rb") else { throw Failure(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        if ferror(file) != 0 { throw Failure(message: "cannot read \(path)") }
        do {
            return try parse(String(decoding: bytes, as: UTF8.self), failedCASIsRefusal: failedCASIsRefusal)
        } catch let failure as Failure {
            throw Failure(message: "\(path): \(failure.message)")
        }
    }

    public static func parse(_ text: String, failedCASIsRefusal: Bool = true) throws -> ParsedHistory {
        // Split on bytes: splitting by Character would look for grapheme clusters in every line.
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Substring($0) }
        guard let format = detect(lines) else {
            throw Failure(message: "not a history this checker reads: expected Jepsen log lines (INFO  jepsen.util - 3\t:invoke\t:read\tnil), "
                + "Jepsen EDN maps ({:process 0, :type :invoke, :f :get, :key \"k\", :value nil}) or recorded JSON lines")
        }
        do {
            switch format {
            case .recorded:
                var operations: [KVOperation] = []
                for (index, line) in lines.enumerated() where !isBlank(line) {
                    if let operation = try RecordedFormat.operation(line, number: index + 1) { operations.append(operation) }
                }
                return ParsedHistory(format: format, operations: operations, emptyIsAbsent: false, timesAreLineNumbers: false,
                                     unmatchedCompletions: 0)
            case .jepsenLog, .jepsenEDN:
                var pairing = ProcessPairing()
                pairing.failedCASIsRefusal = failedCASIsRefusal
                for (index, line) in lines.enumerated() where !isBlank(line) {
                    let event = format == .jepsenLog ? try JepsenLogFormat.event(line, number: index + 1)
                                                     : try EDNFormat.event(line, number: index + 1)
                    if let event { try pairing.add(event) }
                }
                let operations = pairing.finished()
                return ParsedHistory(format: format, operations: operations, emptyIsAbsent: format == .jepsenEDN,
                                     timesAreLineNumbers: true, unmatchedCompletions: pairing.unmatchedCompletions)
            }
        } catch let failure as ProcessPairing.Failure {
            throw Failure(message: "\(format.rawValue), \(failure)")
        }
    }

    /// The format, from the first line that says: `{:` EDN, `{"` JSON, or a Jepsen event line.
    static func detect(_ lines: [Substring]) -> ParsedHistory.Format? {
        for line in lines.prefix(1000) where !isBlank(line) {
            let trimmed = line.trimmingSpaces
            if trimmed.hasPrefix("{:") || trimmed.hasPrefix("{ :") { return .jepsenEDN }
            if trimmed.hasPrefix("{\"") { return .recorded }
            if JepsenLogFormat.looksLikeEvent(trimmed) { return .jepsenLog }
        }
        return nil
    }

    static func isBlank(_ line: Substring) -> Bool {
        let trimmed = line.trimmingSpaces
        return trimmed.isEmpty || trimmed.hasPrefix(";")
    }
}
