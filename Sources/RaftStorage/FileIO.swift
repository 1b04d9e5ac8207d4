#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Thin wrappers over the system calls the file stores need, turning failures into `StorageError`
/// and telling the node's `DiskFaults` (when there is one) what reached the disk.
enum FileIO {
    /// Closes `fd` on another thread: when it is the last descriptor of a file already replaced
    /// by a rename, the close frees the file's blocks (milliseconds for tens of megabytes),
    /// which must not happen on a node's thread.
    static func closeElsewhere(_ fd: Int32) {
        DispatchQueue.global(qos: .utility).async { _ = close(fd) }
    }

    /// Reads a whole file, or returns nil when it does not exist.
    static func readAll(_ path: String) throws(StorageError) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(file: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        return try readAll(fd: fd, path: path)
    }

    static func readAll(fd: Int32, path: String) throws(StorageError) -> [UInt8] {
        var info = stat()
        let expected = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        var result = [UInt8](repeating: 0, count: expected)
        var offset = 0
        while true {
            if offset == result.count { result.append(contentsOf: repeatElement(0, count: max(1 << 16, result.count / 2))) }
            let count = result.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(file: path, operation: "read", errno: errno)
            }
            if count == 0 {
                result.removeLast(result.count - offset)
                return result
            }
            offset += count
        }
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(StorageError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(file: path, operation: "write", errno: errno)
            }
            written += count
        }
    }

    static func size(of path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    static func directory(of path: String) -> String {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return directory.isEmpty ? "." : directory
    }

    static func name(of path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    /// Opens (creating when missing) a file for reading and writing.
    static func openFile(_ path: String, disk: DiskFaults?) throws(StorageError) -> StorageFile {
        let existed = size(of: path) != nil
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: path, operation: "open", errno: errno) }
        disk?.opened(path, length: size(of: path) ?? 0, created: !existed)
        return StorageFile(fd: fd, path: path, disk: disk, created: !existed)
    }

    /// Creates (or empties) a file for writing.
    static func create(_ path: String, disk: DiskFaults?) throws(StorageError) -> StorageFile {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: path, operation: "open", errno: errno) }
        disk?.opened(path, length: 0, created: true)
        return StorageFile(fd: fd, path: path, disk: disk, created: true)
    }

    static func rename(_ from: String, to: String, disk: DiskFaults?) throws(StorageError) {
        disk?.willRename(from, to: to)
        if Glibc.rename(from, to) != 0 { throw .io(file: to, operation: "rename", errno: errno) }
    }

    /// Makes renames and new files in the file's directory durable.
    static func syncDirectory(containing file: String, disk: DiskFaults?) throws(StorageError) {
        let target = directory(of: file)
        disk?.willSync()
        let fd = Glibc.open(target, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw .io(file: target, operation: "open directory", errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .io(file: target, operation: "fsync directory", errno: errno) }
        disk?.directorySynced(target)
    }
}

/// An open file of a store. Writes go through the node's `DiskFaults`, which may refuse them
/// (a full disk) or slow down their syncs, and which records what was made durable.
/// Not thread-safe: used by one thread at a time.
final class StorageFile {
    let fd: Int32
    let path: String
    let disk: DiskFaults?
    /// The file did not exist before it was opened.
    let created: Bool
    private var open = true

    init(fd: Int32, path: String, disk: DiskFaults?, created: Bool) {
        self.fd = fd
        self.path = path
        self.disk = disk
        self.created = created
    }

    deinit { close() }

    func readAll() throws(StorageError) -> [UInt8] {
        try FileIO.readAll(fd: fd, path: path)
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(StorageError) {
        guard !bytes.isEmpty else { return }
        try disk?.refuseWriteIfFull(path)
        try FileIO.writeAll(fd: fd, bytes, at: offset, path: path)
        disk?.wrote(path, endingAt: offset + bytes.count)
    }

    func truncate(to length: Int) throws(StorageError) {
        if ftruncate(fd, off_t(length)) != 0 { throw .io(file: path, operation: "ftruncate", errno: errno) }
        disk?.truncated(path, to: length)
    }

    func read(count: Int, at offset: Int) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw .io(file: path, operation: "read", errno: got < 0 ? errno : EIO) }
            done += got
        }
        return bytes
    }

    /// fdatasync: the file's data (and size) are durable when it returns.
    func sync() throws(StorageError) {
        disk?.willSync()
        #if canImport(Glibc)
        let result = fdatasync(fd)
        #else
        let result = fsync(fd)
        #endif
        if result != 0 { throw .io(file: path, operation: "fdatasync", errno: errno) }
        disk?.synced(path)
    }

    func close() {
        if open {
            Glibc.close(fd)
            open = false
        }
    }

    /// Hands the descriptor to another `StorageFile`: this one will not close it.
    func detach() {
        open = false
    }
}

/// Reads whole files (configuration, snapshots) for other modules.
public enum FileReader {
    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String) throws(StorageError) -> [UInt8]? {
        try FileIO.readAll(path)
    }
}
