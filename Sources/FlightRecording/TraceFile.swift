import Foundation
import RaftCore

/// A node's recording as read from its trace file.
public struct NodeTrace: Sendable {
    public var node: NodeID
    public var path: String
    public var records: [TraceRecord]

    public init(node: NodeID, path: String, records: [TraceRecord]) {
        self.node = node
        self.path = path
        self.records = records
    }
}

/// Why a trace file cannot be read.
public struct TraceFileError: Error, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var reason: String

    public var description: String { line > 0 ? "\(path), line \(line): \(reason)" : "\(path): \(reason)" }
}

/// The trace file format, `traceN.jsonl`: one JSON object per line. The first line is a header
/// (`{"raftkvTrace":1,"node":N,...}`); every other line is one `TraceRecord`: `seq`, `t` and
/// exactly one key naming the event (`start`, `checkpoint`, `stop`, `tick`, `receive`,
/// `propose`, `readIndex`, `change`, `transfer`, `persisted`, `compact`, `ready`).
public enum TraceFile {
    public static let version = 1

    public static func name(node: NodeID) -> String { "trace\(node).jsonl" }

    public static func headerLine(node: NodeID, mode: String) -> [UInt8] {
        Array("{\"raftkvTrace\":\(version),\"node\":\(node),\"mode\":\"\(mode)\"}\n".utf8)
    }

    /// The records as lines of JSON.
    public static func encode(_ records: [TraceRecord]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        var out: [UInt8] = []
        for record in records {
            // Every field of a record is encodable; a failure here would be a bug in the types.
            guard let data = try? encoder.encode(record) else { continue }
            out.append(contentsOf: data)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Writes a whole recording (header, then records) to `path`, replacing any file there.
    public static func write(_ records: [TraceRecord], node: NodeID, mode: String, to path: String) throws {
        var bytes = headerLine(node: node, mode: mode)
        bytes.append(contentsOf: encode(records))
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a trace file. A last line cut short (the process died while writing it) is dropped.
    public static func read(path: String) throws -> NodeTrace {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceFileError(path: path, line: 0, reason: "cannot be read")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Parses the text of a trace file.
    public static func decode(_ bytes: [UInt8], path: String) throws -> NodeTrace {
        let decoder = JSONDecoder()
        var node: NodeID?
        var records: [TraceRecord] = []
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            lineNumber += 1
            let line = bytes[start..<end]
            let complete = end < bytes.count
            start = end + 1
            if line.isEmpty { continue }
            if node == nil {
                guard let header = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      header["raftkvTrace"] as? Int == version, let id = header["node"] as? Int else {
                    throw TraceFileError(path: path, line: lineNumber, reason: "not a trace file of this version (the first line must be {\"raftkvTrace\":\(version),\"node\":N,...})")
                }
                node = id
                continue
            }
            do {
                records.append(try decoder.decode(TraceRecord.self, from: Data(line)))
            } catch {
                if !complete { break }  // a torn last line
                throw TraceFileError(path: path, line: lineNumber, reason: "unreadable record (\(error))")
            }
        }
        guard let node else { throw TraceFileError(path: path, line: 0, reason: "empty") }
        return NodeTrace(node: node, path: path, records: records)
    }

    /// Every `trace*.jsonl` in the directories, by node; a node found twice is an error.
    public static func readAll(directories: [String]) throws -> [NodeTrace] {
        var traces: [NodeTrace] = []
        for directory in directories {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() where name.hasPrefix("trace") && name.hasSuffix(".jsonl") && !name.contains("previous") {
                let trace = try read(path: directory + "/" + name)
                if let other = traces.first(where: { $0.node == trace.node }) {
                    throw TraceFileError(path: trace.path, line: 0, reason: "node \(trace.node) is also recorded in \(other.path)")
                }
                traces.append(trace)
            }
        }
        return traces.sorted { $0.node < $1.node }
    }
}
