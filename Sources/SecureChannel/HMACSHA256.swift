import COpenSSL

/// HMAC-SHA-256 under one key, computed by OpenSSL (EVP_MAC "HMAC" with digest SHA256).
///
/// Owns one keyed `EVP_MAC_CTX`, freed in deinit. The key is set once, in `init`; each message
/// after that restarts the same context from its keyed state (OpenSSL keeps the inner and outer
/// padded-key states), so a peer link that MACs every frame pays neither key setup nor an
/// allocation per frame. Use it incrementally (`update` … `finalize`) or in one call
/// (`authenticationCode(for:)`).
///
/// Not safe for concurrent use: one instance belongs to one queue (the peer link's). It is
/// `@unchecked Sendable` so it can be created on one queue and handed to the one that uses it.
public final class HMACSHA256: @unchecked Sendable {
    /// Bytes in a code.
    public static let byteCount = 32

    private let context: OpaquePointer
    /// Bytes were fed since the last restart (the next message must restart first).
    private var started = false

    /// A MAC keyed with `key` (any length; RFC 2104 hashes keys longer than 64 bytes).
    public init(key: some Sequence<UInt8>) {
        guard let context = EVP_MAC_CTX_new(Self.algorithm.handle) else {
            fatalError("OpenSSL could not allocate an HMAC context: \(OpenSSLErrorQueue.drain())")
        }
        self.context = context
        // A NULL key would mean "keep the current key": an empty key still needs a real pointer.
        let keyBytes = Array(key)
        let storage = keyBytes.isEmpty ? [0] : keyBytes
        let keyed = storage.withUnsafeBufferPointer {
            RaftKV_EVP_MAC_init_sha256(context, $0.baseAddress, keyBytes.count)
        }
        guard keyed == 1 else {
            fatalError("OpenSSL could not key HMAC-SHA-256: \(OpenSSLErrorQueue.drain())")
        }
    }

    deinit {
        EVP_MAC_CTX_free(context)
    }

    /// The code of `message` under `key`, for a key used once (a challenge answer).
    public static func authenticationCode(key: some Sequence<UInt8>, message: some Sequence<UInt8>) -> [UInt8] {
        HMACSHA256(key: key).authenticationCode(for: message)
    }

    /// Adds bytes to the message being authenticated.
    public func update(_ bytes: some Sequence<UInt8>) {
        withContiguousBytes(bytes) { update(raw: $0) }
    }

    /// Adds bytes to the message being authenticated.
    public func update(raw bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        if !started { restart() }
        guard EVP_MAC_update(context, base.assumingMemoryBound(to: UInt8.self), bytes.count) == 1 else {
            fatalError("OpenSSL HMAC update failed: \(OpenSSLErrorQueue.drain())")
        }
    }

    /// The code of everything fed since the last `finalize` (or since `init`); the instance is
    /// then ready for the next message under the same key.
    public func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { buffer, count in
            finalize(into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.byteCount
        }
    }

    /// Like `finalize()`, writing the 32 bytes to the start of `output` instead of allocating.
    public func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= Self.byteCount, "an HMAC-SHA-256 code needs 32 bytes")
        if !started { restart() }
        var written = 0
        let done = EVP_MAC_final(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, output.count)
        guard done == 1, written == Self.byteCount else {
            fatalError("OpenSSL HMAC final failed: \(OpenSSLErrorQueue.drain())")
        }
        started = false
    }

    /// The code of `message` alone (anything fed with `update` and not finalized is dropped).
    public func authenticationCode(for message: some Sequence<UInt8>) -> [UInt8] {
        started = false
        update(message)
        return finalize()
    }

    /// The code of `message` alone, written to the start of `output` (32 bytes).
    public func authenticationCode(for message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        started = false
        update(raw: message)
        finalize(into: output)
    }

    /// Whether `code` is the full 32-byte code of `message`, compared in constant time.
    public func isValid(code: some Sequence<UInt8>, for message: some Sequence<UInt8>) -> Bool {
        withContiguousBytes(code) { code in withContiguousBytes(message) { isValid(code: code, for: $0) } }
    }

    /// Whether `code` is the full 32-byte code of `message`, compared in constant time, without
    /// allocating (a frame's trailer checked in place).
    public func isValid(code: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: Self.byteCount, alignment: 8) { expected in
            authenticationCode(for: message, into: expected)
            return constantTimeEquals(UnsafeRawBufferPointer(expected), code)
        }
    }

    /// Back to the keyed start state: OpenSSL re-initialises with the key it already holds.
    private func restart() {
        guard RaftKV_EVP_MAC_init_sha256(context, nil, 0) == 1 else {
            fatalError("OpenSSL could not restart HMAC-SHA-256: \(OpenSSLErrorQueue.drain())")
        }
        started = true
    }

    /// OpenSSL's HMAC implementation, fetched once. An `EVP_MAC` is immutable after fetching and
    /// OpenSSL allows sharing it between threads.
    private struct Algorithm: @unchecked Sendable {
        let handle: OpaquePointer
    }

    private static let algorithm: Algorithm = {
        guard let handle = EVP_MAC_fetch(nil, "HMAC", nil) else {
            fatalError("OpenSSL has no HMAC implementation: \(OpenSSLErrorQueue.drain())")
        }
        return Algorithm(handle: handle)
    }()
}

/// Calls `body` with `bytes` as one contiguous buffer, copying only when the sequence has no
/// contiguous storage of its own.
func withContiguousBytes<R>(_ bytes: some Sequence<UInt8>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes(body)
}
