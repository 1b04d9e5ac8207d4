#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One node's disk as a classroom can abuse it, shared by that node's stores (any thread):
///
/// - `slowSyncMs`: every fsync (of a file or a directory) takes this much longer;
/// - `full`: every write fails with ENOSPC, as on a full disk (nothing of it reaches the file);
/// - power cuts: it remembers, for each file the node wrote, how many bytes were fsynced, and
///   which renames were not yet followed by an fsync of their directory. `losePowerCut()` then
///   cuts every file back to its synced length and undoes those renames — what a real power
///   failure may leave behind. With fsync off nothing is ever synced, so everything written
///   since the node's files were opened is lost.
public final class DiskFaults: Sendable {
    struct FileState {
        /// Bytes of the file known durable.
        var syncedLength: Int
        /// The file's size now.
        var length: Int
    }

    /// What a path held before renames that no directory fsync has made durable yet.
    enum Original {
        case absent
        case content([UInt8])
        /// A hard link to the replaced file (no copy, however large), and its durable length.
        case backup(path: String, durableLength: Int?)
    }

    struct State {
        var slowSyncMs = 0
        var full = false
        var files: [String: FileState] = [:]
        var pendingRenames: [String: Original] = [:]
        var syncs = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var slowSyncMs: Int {
        get { state.withLock { $0.slowSyncMs } }
        set { state.withLock { $0.slowSyncMs = max(0, newValue) } }
    }

    public var full: Bool {
        get { state.withLock { $0.full } }
        set { state.withLock { $0.full = newValue } }
    }

    /// Clears `slow` and `full` (what `heal` does); the record of synced bytes stays.
    public func heal() {
        state.withLock {
            $0.slowSyncMs = 0
            $0.full = false
        }
    }

    /// How many fsyncs went through this disk.
    public var syncCount: Int { state.withLock { $0.syncs } }

    // MARK: - Hooks called by `StorageFile`

    func opened(_ path: String, length: Int, created: Bool) {
        state.withLock { state in
            if state.files[path] == nil || created {
                // What was there when the node opened it survived whatever came before.
                state.files[path] = FileState(syncedLength: created ? 0 : length, length: length)
            }
        }
    }

    func refuseWriteIfFull(_ path: String) throws(StorageError) {
        if state.withLock({ $0.full }) { throw .io(file: path, operation: "write", errno: ENOSPC) }
    }

    func wrote(_ path: String, endingAt end: Int) {
        state.withLock { state in
            if var file = state.files[path] {
                file.length = max(file.length, end)
                state.files[path] = file
            }
        }
    }

    func truncated(_ path: String, to length: Int) {
        state.withLock { state in
            if var file = state.files[path] {
                file.length = length
                file.syncedLength = min(file.syncedLength, length)
                state.files[path] = file
            }
        }
    }

    func willSync() {
        let delay = state.withLock { state -> Int in
            state.syncs += 1
            return state.slowSyncMs
        }
        if delay > 0 { usleep(UInt32(min(delay, 60_000)) * 1000) }
    }

    func synced(_ path: String) {
        state.withLock { state in
            if var file = state.files[path] {
                file.syncedLength = file.length
                state.files[path] = file
            }
        }
    }

    /// Records a rename before it happens, keeping what `to` held if no earlier rename of it is
    /// still waiting for a directory fsync.
    func willRename(_ from: String, to: String) {
        let original: Original?
        if state.withLock({ $0.pendingRenames[to] == nil }) {
            let durable = state.withLock { $0.files[to]?.syncedLength }
            let backup = to + ".before-rename"
            unlink(backup)
            if FileIO.size(of: to) == nil {
                original = .absent
            } else if link(to, backup) == 0 {
                original = .backup(path: backup, durableLength: durable)
            } else if let bytes = try? FileIO.readAll(to) {
                original = .content(Array(bytes.prefix(durable ?? bytes.count)))
            } else {
                original = .absent
            }
        } else {
            original = nil
        }
        state.withLock { state in
            if let original { state.pendingRenames[to] = original }
            state.files[to] = state.files.removeValue(forKey: from) ?? FileState(syncedLength: 0, length: 0)
        }
    }

    /// A directory fsync makes every rename into it durable.
    func directorySynced(_ directory: String) {
        state.withLock { state in
            for path in state.pendingRenames.keys.sorted() where FileIO.directory(of: path) == directory {
                if case .backup(let backup, _)? = state.pendingRenames.removeValue(forKey: path) { unlink(backup) }
            }
        }
    }

    // MARK: - Power cut

    /// Cuts every file back to what was fsynced and undoes renames no directory fsync covered.
    /// Call it only while nothing writes to these files (the node is down). Returns a line per
    /// file changed, for the event log.
    public func losePowerCut() -> [String] {
        let (files, renames) = state.withLock { state -> ([String: FileState], [String: Original]) in
            defer { state.pendingRenames.removeAll() }
            return (state.files, state.pendingRenames)
        }
        var report: [String] = []
        for path in renames.keys.sorted() {
            switch renames[path]! {
            case .absent:
                unlink(path)
                report.append("\(FileIO.name(of: path)): its creation was never made durable; removed")
            case .content(let bytes):
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd >= 0 {
                    _ = try? FileIO.writeAll(fd: fd, bytes, at: 0, path: path)
                    _ = fsync(fd)
                    close(fd)
                }
                report.append("\(FileIO.name(of: path)): an unsynced replacement undone; back to its last durable \(bytes.count) bytes")
            case .backup(let backup, let durable):
                Glibc.rename(backup, path)
                let kept = durable ?? FileIO.size(of: path) ?? 0
                _ = truncate(path, off_t(kept))
                report.append("\(FileIO.name(of: path)): an unsynced replacement undone; back to its last durable \(kept) bytes")
            }
        }
        for path in files.keys.sorted() where renames[path] == nil {
            let file = files[path]!
            guard file.length > file.syncedLength else { continue }
            if truncate(path, off_t(file.syncedLength)) == 0 {
                report.append("\(FileIO.name(of: path)): \(file.length - file.syncedLength) unsynced bytes dropped (\(file.syncedLength) kept)")
            }
        }
        state.withLock { state in
            for path in files.keys {
                let length = FileIO.size(of: path) ?? 0
                state.files[path] = FileState(syncedLength: length, length: length)
            }
        }
        return report
    }
}
