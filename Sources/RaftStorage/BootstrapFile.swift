import JSONText
import RaftCore

/// `bootstrapX.json`: the configuration node X started its cluster with, written once, on the
/// node's first start, then read on every later one — so that the membership of a cluster that
/// exists never depends on the config file again (`nodes` or `members` edited later change
/// nothing). Changes after that are configuration entries in the log and in snapshots.
///
///     {"op":"config","members":[{"id":0,"voter":true},{"id":1,"voter":true},{"id":2,"voter":true}]}
public struct BootstrapFile: Sendable {
    public let path: String
    public let syncWrites: Bool
    let disk: DiskFaults?

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    /// The stored configuration; when there is none yet, `proposed` is stored and returned.
    public func configuration(proposing proposed: ClusterConfiguration) throws(StorageError) -> ClusterConfiguration {
        if let bytes = try FileIO.readAll(path) {
            do {
                guard let value = try? JSONParser.parse(bytes) else { throw ConfigurationCodec.Problem(description: "not JSON") }
                return try ConfigurationCodec.decode(value)
            } catch {
                throw .damaged(file: path, line: 1, reason: "the bootstrap configuration is unreadable: \(error)")
            }
        }
        try AtomicFile.replace(path, with: Array((ConfigurationCodec.text(proposed) + "\n").utf8), disk: disk, sync: syncWrites)
        return proposed
    }
}
