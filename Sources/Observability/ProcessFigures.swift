#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the operating system says about this process, read from `/proc/self` (Linux) for the
/// standard `process_*` metrics every Prometheus client library exports. A figure that cannot
/// be read is nil and left out.
public struct ProcessFigures: Sendable, Equatable {
    public var cpuSeconds: Double?
    public var residentMemoryBytes: Double?
    public var virtualMemoryBytes: Double?
    /// Seconds since the Unix epoch.
    public var startTimeSeconds: Double?
    public var openFileDescriptors: Double?
    public var maxFileDescriptors: Double?

    public init() {}

    /// Reads the figures now.
    public static func current() -> ProcessFigures {
        var figures = ProcessFigures()
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = readSmallFile("/proc/self/stat"), let fields = statFields(stat), fields.count >= 22, ticksPerSecond > 0 {
            // After the command's closing parenthesis: field 3 (state) is fields[0], so field n is fields[n - 3].
            if let user = Double(fields[11]), let system = Double(fields[12]) {
                figures.cpuSeconds = (user + system) / ticksPerSecond
            }
            if let virtual = Double(fields[20]) { figures.virtualMemoryBytes = virtual }
            if let pages = Double(fields[21]), pageSize > 0 { figures.residentMemoryBytes = pages * pageSize }
            if let startTicks = Double(fields[19]), let bootTime = bootTimeSeconds() {
                figures.startTimeSeconds = bootTime + startTicks / ticksPerSecond
            }
        }
        figures.openFileDescriptors = countOpenDescriptors().map(Double.init)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            figures.maxFileDescriptors = Double(limit.rlim_cur)
        }
        return figures
    }

    /// The fields of `/proc/self/stat` after the command name (which may hold spaces and
    /// parentheses, so it is skipped up to its last `)`).
    static func statFields(_ text: String) -> [Substring]? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
    }

    /// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
    static func bootTimeSeconds() -> Double? {
        guard let text = readSmallFile("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmed(of: " "))
        }
        return nil
    }

    /// Entries of `/proc/self/fd`, less the one the count itself holds open.
    static func countOpenDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { count += 1 }
        }
        closedir(directory)
        return max(0, count - 1)
    }

    /// A file of `/proc` (whose size reads as 0, so it is read until the end).
    static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > 1 << 20 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmed(of set: Character) -> Substring {
        var text = self
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return text
    }
}
