#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import FlightRecording
import RaftCore
import RuntimeSupport

/// Appends one node's flight-recorder records to its trace file as they happen (`--record`).
/// Encoding and writing run on the writer's own queue, never on the node's. A file from an
/// earlier run of the server is kept as `traceN.previous.jsonl`. Writes are not fsynced: the
/// trace is a record for people, not state the store depends on.
///
/// @unchecked Sendable: `descriptor` and `failed` are touched only on `queue`.
final class TraceFileWriter: TraceSink, @unchecked Sendable {
    let node: NodeID
    let path: String
    private let queue: DispatchQueue
    private var descriptor: Int32 = -1
    private var failed = false
    private let events: EventLog
    /// Records handed over so far (read on the node's queue).
    private(set) var recordsWritten = 0

    init(node: NodeID, path: String, events: EventLog) {
        self.node = node
        self.path = path
        self.events = events
        self.queue = DispatchQueue(label: "raft.trace.\(node)", qos: .utility)
        queue.sync {
            let previous = path.replacingSuffix(".jsonl", with: ".previous.jsonl")
            if access(path, F_OK) == 0 { rename(path, previous) }
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor < 0 {
                failed = true
                events.log(.error, node: node, "cannot write the trace file \(path): \(String(cString: strerror(errno))); recording to memory only")
            } else {
                writeAll(TraceFile.headerLine(node: node, mode: "continuous"))
            }
        }
    }

    func write(_ records: [TraceRecord]) {
        recordsWritten += records.count
        queue.async {
            guard !self.failed else { return }
            self.writeAll(TraceFile.encode(records))
        }
    }

    /// Runs `done` once everything handed over so far is in the file.
    func whenWritten(_ done: @escaping @Sendable () -> Void) {
        queue.async(execute: done)
    }

    func close() {
        queue.sync {
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
            failed = true
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                failed = true
                events.log(.error, node: node, "writing the trace file \(path) failed: \(String(cString: strerror(errno))); recording stopped")
                return
            }
            offset += written
        }
    }
}

extension String {
    func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self + replacement
    }
}
