/// Reads the bytes of a stored snapshot on demand (a runtime's snapshot file, opened once).
/// Implementations must return the same bytes for the same range for as long as they live —
/// a file store keeps the file it opened even after a newer snapshot is renamed over its name —
/// which is what keeps a core that reads through one deterministic.
public protocol SnapshotByteSource: AnyObject, Sendable {
    /// How many bytes the snapshot holds.
    var count: Int { get }
    /// The bytes in `range` (within `0..<count`); throws when the medium fails.
    func read(_ range: Range<Int>) throws -> [UInt8]
    /// Calls `body` with all the bytes at once (a file store maps its file rather than copy it).
    func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}

extension SnapshotByteSource {
    public func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try read(0..<count).withUnsafeBytes(body)
    }
}

/// The bytes of a snapshot, wherever they are kept: in memory (a snapshot just received, the
/// in-memory stores of tests and the simulator) or in the runtime's snapshot file, read a chunk
/// at a time when a follower needs them — so a node never holds a second copy of its state only
/// to be able to send it.
public struct SnapshotData: Sendable, Equatable, Codable, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case memory([UInt8])
        case source(any SnapshotByteSource)
    }

    private let storage: Storage

    public init(_ bytes: [UInt8]) {
        storage = .memory(bytes)
    }

    public init(arrayLiteral elements: UInt8...) {
        storage = .memory(elements)
    }

    /// Bytes read from `source` when needed.
    public init(source: any SnapshotByteSource) {
        storage = .source(source)
    }

    public var count: Int {
        switch storage {
        case .memory(let bytes): return bytes.count
        case .source(let source): return source.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Bytes this value keeps in memory (0 when they are read from a file).
    public var residentCount: Int {
        if case .memory(let bytes) = storage { return bytes.count }
        return 0
    }

    /// Whether the bytes are read on demand from a source (not held in memory).
    public var isExternal: Bool {
        if case .source = storage { return true }
        return false
    }

    /// The bytes in `range` (clamped to the data).
    public func read(_ range: Range<Int>) throws -> [UInt8] {
        let clamped = range.clamped(to: 0..<count)
        switch storage {
        case .memory(let bytes): return Array(bytes[clamped])
        case .source(let source): return clamped.isEmpty ? [] : try source.read(clamped)
        }
    }

    /// All the bytes (read whole from the source, if that is where they are).
    public func bytes() throws -> [UInt8] {
        switch storage {
        case .memory(let bytes): return bytes
        case .source(let source): return try source.read(0..<source.count)
        }
    }

    /// Calls `body` with all the bytes, without copying those held in memory.
    public func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch storage {
        case .memory(let bytes): return try bytes.withUnsafeBytes(body)
        case .source(let source): return try source.withContiguousBytes(body)
        }
    }

    /// Same bytes. Two values over the same source are equal without reading it.
    public static func == (lhs: SnapshotData, rhs: SnapshotData) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case (.memory(let a), .memory(let b)): return a == b
        case (.source(let a), .source(let b)) where a === b: return true
        default:
            guard lhs.count == rhs.count else { return false }
            guard let a = try? lhs.bytes(), let b = try? rhs.bytes() else { return false }
            return a == b
        }
    }

    /// Recordings carry the bytes themselves, as base64 text.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        storage = .memory(try Base64.decode(container.decode(String.self), codingPath: container.codingPath))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Base64.encode(try bytes()))
    }
}
