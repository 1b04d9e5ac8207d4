#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import RaftCore

/// `metaX.txt`: `{"currentTerm":T,"votedFor":ID or null}`, replaced atomically — write a
/// temporary file, fsync it, rename it over the old one, fsync the directory — so a crash leaves
/// either the old state or the new one. With `syncWrites` off the fsyncs are skipped (the rename
/// still keeps the file whole).
public final class FileMetaStore: MetaStore, @unchecked Sendable {
    public let path: String
    public let syncWrites: Bool
    let disk: DiskFaults?

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    public func load() throws(StorageError) -> HardState {
        guard let bytes = try FileIO.readAll(path) else { return HardState() }
        guard case .object(let object) = (try? JSONParser.parse(bytes)) ?? .null else {
            throw .damaged(file: path, line: 1, reason: "not a JSON object")
        }
        guard let term = object["currentTerm"]?.intValue, term >= 0 else {
            throw .damaged(file: path, line: 1, reason: "\"currentTerm\" must be a non-negative integer")
        }
        let vote: NodeID?
        switch object["votedFor"] {
        case .null?, nil: vote = nil
        case .number?:
            guard let id = object["votedFor"]?.intValue else { fallthrough }
            vote = id
        default:
            throw .damaged(file: path, line: 1, reason: "\"votedFor\" must be a node id or null")
        }
        return HardState(term: term, votedFor: vote)
    }

    public func save(_ state: HardState) throws(StorageError) {
        let text = "{\"currentTerm\":\(state.term),\"votedFor\":\(state.votedFor.map(String.init) ?? "null")}\n"
        try AtomicFile.replace(path, with: Array(text.utf8), disk: disk, sync: syncWrites)
    }
}
