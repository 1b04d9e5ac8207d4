#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KVWire

extension ShortCommandParser {
    static let backupUsage = "backup FILE   (the server writes FILE; a relative FILE is taken from this client's directory)"

    /// `backup FILE`: `{"admin":"backup","path":FILE}` with FILE made absolute, so that the file
    /// lands where the person typing expects when the server runs on this machine.
    static func backupCommand(_ arguments: inout Arguments) throws(Problem) -> ClientCommand {
        let file = try arguments.take("file", usage: backupUsage)
        try arguments.finish(backupUsage)
        return send(.admin(.backup(path: absolutePath(file))))
    }

    /// `path` as given when absolute, else under the current directory.
    static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (directory.hasSuffix("/") ? directory : directory + "/") + path
    }
}
