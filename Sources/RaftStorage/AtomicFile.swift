/// How every store replaces a file so that a crash leaves either the old contents or the new:
/// write a temporary file and fsync it (`stage`), rename it over the old one and fsync the
/// directory (`install`). With `sync` off the fsyncs are skipped (the rename is still atomic,
/// but nothing is durable). The two steps are apart for snapshots, which stage off the node's
/// thread and install on it.
enum AtomicFile {
    /// Writes `bytes` to `temporary` (created or emptied) and syncs it; the file is returned open.
    static func stage(_ bytes: [UInt8], at temporary: String, disk: DiskFaults?, sync: Bool) throws(StorageError) -> StorageFile {
        let file = try FileIO.create(temporary, disk: disk)
        do {
            try file.write(bytes, at: 0)
            if sync { try file.sync() }
        } catch {
            file.close()
            throw error
        }
        return file
    }

    /// Renames a staged `temporary` over `path` and makes the rename durable.
    static func install(_ temporary: String, over path: String, disk: DiskFaults?, sync: Bool) throws(StorageError) {
        try FileIO.rename(temporary, to: path, disk: disk)
        if sync { try FileIO.syncDirectory(containing: path, disk: disk) }
    }

    /// Both steps: `path` holds `bytes` afterwards, or its old contents after a crash.
    static func replace(_ path: String, with bytes: [UInt8], disk: DiskFaults?, sync: Bool) throws(StorageError) {
        let temporary = path + ".tmp"
        try stage(bytes, at: temporary, disk: disk, sync: sync).close()
        try install(temporary, over: path, disk: disk, sync: sync)
    }
}
