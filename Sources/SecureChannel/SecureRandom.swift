import COpenSSL

/// Random bytes from OpenSSL's CSPRNG (`RAND_bytes`), for challenges, nonces and serial numbers.
/// Owns nothing: OpenSSL seeds and keeps its generator.
public enum SecureRandom {
    /// `count` bytes from OpenSSL's generator. A generator that cannot produce them stops the
    /// process: carrying on with predictable challenges would be worse.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max), "random bytes: \(count) is not a count OpenSSL takes")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                guard RAND_bytes(buffer.baseAddress, Int32(count)) == 1 else {
                    fatalError("OpenSSL's random generator failed: \(OpenSSLErrorQueue.drain())")
                }
            }
            initialized = count
        }
    }
}

/// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths
/// (`CRYPTO_memcmp`), for comparing secrets: codes, tokens, challenge answers. Different lengths
/// answer false at once (lengths are not secret).
public func constantTimeEquals(_ a: some Sequence<UInt8>, _ b: some Sequence<UInt8>) -> Bool {
    withContiguousBytes(a) { a in
        withContiguousBytes(b) { b in
            guard a.count == b.count else { return false }
            guard a.count > 0 else { return true }
            return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
        }
    }
}
