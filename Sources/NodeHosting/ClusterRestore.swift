#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore
import RaftCore
import RaftStorage

/// `ServerMain --restore`: a new cluster's files from a backup. Every member gets the backup's
/// state as its snapshot (at the backup's index, term 1, with the new cluster's configuration),
/// a meta file at term 1 with no vote, an empty log and a bootstrap file naming the same
/// configuration — the files a node of that cluster would hold right after a snapshot, so the
/// nodes elect a leader and go on from the backup's index and revision.
public enum ClusterRestore {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    /// What was restored, and where.
    public struct Summary: Sendable {
        public var backup: Backup
        public var nodes: [NodeID]
        public var files: [String]
    }

    /// The term the new cluster's files start in (its first election makes term 2).
    static let startTerm = 1

    /// Checks `backupPath` whole (checksums, and that its state loads and matches its header),
    /// refuses a `directory` that already holds files, then writes every member's files.
    public static func restore(backupPath: String, into directory: DataDirectory, configuration: ClusterConfiguration,
                               fsync: Bool = true) throws(Problem) -> Summary {
        let backup: Backup
        do {
            backup = try BackupFile.read(backupPath)
        } catch {
            throw Problem("the backup is refused: \(error.description)")
        }
        try check(backup, path: backupPath)
        guard !configuration.members.isEmpty, configuration.voters.count > 0 else {
            throw Problem("the new cluster needs at least one voter")
        }
        try prepareEmpty(directory)
        let index = max(1, backup.index)
        let snapshot = Snapshot(index: index, term: startTerm, data: backup.state, configuration: configuration)
        var files: [String] = []
        do {
            for member in configuration.members {
                let node = member.id
                let store = FileSnapshotStore(path: directory.snapshotPath(node: node), syncWrites: fsync)
                try store.commit(try store.prepare(snapshot))
                try FileMetaStore(path: directory.metaPath(node: node), syncWrites: fsync).save(HardState(term: startTerm, votedFor: nil))
                let log = FileLogStore(path: directory.logPath(node: node), syncWrites: fsync)
                _ = try log.load()
                log.close()
                _ = try BootstrapFile(path: directory.bootstrapPath(node: node), syncWrites: fsync).configuration(proposing: configuration)
                files += [directory.snapshotPath(node: node), directory.metaPath(node: node), directory.logPath(node: node),
                          directory.bootstrapPath(node: node)]
                // Read back as a starting node would.
                guard let loaded = try store.load(), loaded.index == index, (try? loaded.data.bytes()) == backup.state else {
                    throw Problem("\(directory.snapshotPath(node: node)) does not read back as written")
                }
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem("writing the new cluster's files failed: \(error)")
        }
        return Summary(backup: backup, nodes: configuration.members.map(\.id), files: files)
    }

    /// The state must load, and agree with the header's revision and key count.
    static func check(_ backup: Backup, path: String) throws(Problem) {
        let machine: KVStateMachine
        do {
            machine = try KVStateMachine(restoring: backup.state, appliedIndex: backup.index)
        } catch {
            throw Problem("the backup is refused: \(path): its state does not load: \(error)")
        }
        guard machine.revision == backup.revision, machine.count == backup.keys else {
            throw Problem("the backup is refused: \(path): its header says revision \(backup.revision) and \(backup.keys) keys, its state holds revision \(machine.revision) and \(machine.count) keys")
        }
    }

    /// Creates `directory` when missing; refuses one that holds anything.
    static func prepareEmpty(_ directory: DataDirectory) throws(Problem) {
        var info = stat()
        if stat(directory.path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw Problem("\(directory.path) exists and is not a directory") }
            let entries = entriesOf(directory.path)
            guard entries.isEmpty else {
                let shown = entries.sorted().prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", …" : "")
                throw Problem("\(directory.path) already holds files (\(shown)); restore into a new or empty directory, nothing was changed")
            }
        }
        do {
            try directory.create()
        } catch {
            throw Problem("cannot create \(directory.path): \(error)")
        }
    }

    /// The names in a directory (none when it cannot be read).
    public static func entriesOf(_ path: String) -> [String] {
        guard let handle = opendir(path) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
