#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the system calls the file stores need, turning failures into `StorageError`.
enum FileIO {
    /// Reads a whole file, or returns nil when it does not exist.
    static func readAll(_ path: String) throws(StorageError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(file: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        return try readAll(fd: fd, path: path)
    }

    static func readAll(fd: Int32, path: String) throws(StorageError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(file: path, operation: "read", errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
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

    static func syncData(fd: Int32, path: String) throws(StorageError) {
        #if canImport(Glibc)
        let result = fdatasync(fd)
        #else
        let result = fsync(fd)
        #endif
        if result != 0 { throw .io(file: path, operation: "fdatasync", errno: errno) }
    }
}

/// Reads whole files (configuration, snapshots) for other modules.
public enum FileReader {
    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String) throws(StorageError) -> [UInt8]? {
        try FileIO.readAll(path)
    }
}
