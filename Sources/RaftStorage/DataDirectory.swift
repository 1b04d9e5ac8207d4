#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data directory and the contract's file names: node 1 keeps `meta1.txt` and `log01.txt`.
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func metaPath(node: Int) -> String { "\(path)/meta\(node).txt" }
    public func logPath(node: Int) -> String { "\(path)/log0\(node).txt" }
    public func snapshotPath(node: Int) -> String { "\(path)/snapshot\(node).json" }
    public func bootstrapPath(node: Int) -> String { "\(path)/bootstrap\(node).json" }
    /// The flight recorder's output (not state: nothing reads it back but the replay tool).
    public func tracePath(node: Int) -> String { "\(path)/trace\(node).jsonl" }

    /// Creates the directory (and its parents) when missing.
    public func create() throws(StorageError) {
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw .io(file: built, operation: "mkdir", errno: errno)
            }
        }
    }

    /// Makes renames and new files in the directory durable.
    public static func syncDirectory(containing file: String) throws(StorageError) {
        try FileIO.syncDirectory(containing: file, disk: nil)
    }
}
