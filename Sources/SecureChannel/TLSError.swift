#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// What went wrong in TLS setup, a handshake, a TLS connection or certificate generation, in
/// words a person can act on: the file involved and OpenSSL's own reason. Owns only its text.
public struct TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The certificate file is missing, unreadable or not a PEM certificate chain.
        case certificateFile
        /// The private key file is missing, unreadable, not a PEM key, or not the certificate's key.
        case privateKeyFile
        /// The CA file is missing, unreadable or holds no certificate.
        case caFile
        /// An impossible combination of options, or OpenSSL refused a setting.
        case configuration
        /// The handshake failed: bad bytes, no common version or cipher, a certificate refused.
        case handshake
        /// A fatal error after the handshake: a damaged record, an alert from the peer.
        case connection
        /// Plaintext handed to a session that has already sent or received close_notify.
        case closed
        /// Making or writing a key or certificate failed.
        case certificateGeneration
    }

    public let kind: Kind
    /// The whole message, e.g. `certificate file /etc/raftkv/member0.pem: no such file or directory`.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// This thread's OpenSSL error queue, read into words. OpenSSL keeps the queue per thread, so
/// every operation that may fail clears it first and drains it right after failing.
enum OpenSSLErrorQueue {
    static func clear() {
        ERR_clear_error()
    }

    /// Empties the queue and joins its entries, e.g. `SSL routines: certificate verify failed`;
    /// `fallback` when the queue was empty.
    static func drain(fallback: String = "no reason given by OpenSSL") -> String {
        var reasons: [String] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var reason = describe(code)
            if let data, flags & ERR_TXT_STRING != 0, data.pointee != 0 {
                reason += " (\(String(cString: data)))"
            }
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.isEmpty ? fallback : reasons.joined(separator: "; ")
    }

    private static func describe(_ code: UInt) -> String {
        let library = ERR_lib_error_string(code).map { String(cString: $0) }
        let reason = ERR_reason_error_string(code).map { String(cString: $0) }
        switch (library, reason) {
        case let (library?, reason?): return "\(library): \(reason)"
        case let (nil, reason?): return reason
        default:
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// Why `path` cannot be read, from the system (`no such file or directory`, `permission
/// denied`), or nil when it can.
func unreadableReason(_ path: String) -> String? {
    if access(path, R_OK) == 0 { return nil }
    return String(cString: strerror(errno))
}
