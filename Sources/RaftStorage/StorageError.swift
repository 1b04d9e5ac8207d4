/// Why storage could not do what it was asked. Messages name the file (and line) involved.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file's content is damaged somewhere other than a torn final line; the node must stay down.
    case damaged(file: String, line: Int, reason: String)
    /// The operating system refused an operation.
    case io(file: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .damaged(let file, let line, let reason):
            return line > 0 ? "\(file) line \(line): \(reason)" : "\(file): \(reason)"
        case .io(let file, let operation, let code):
            return "\(file): \(operation) failed: \(SystemError.message(code))"
        }
    }
}
