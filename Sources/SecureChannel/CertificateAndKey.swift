#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// The kinds of key `CertificateMaker` generates.
public enum KeyAlgorithm: Sendable {
    /// ECDSA on NIST P-256: small, fast handshakes. The default.
    case ecP256
    case rsa2048
}

/// One X.509 certificate and its private key, in memory.
///
/// Owns an OpenSSL `X509` and an `EVP_PKEY`, each freed once in deinit. Never changed after it is
/// made, so it may be shared between threads.
public final class CertificateAndKey: @unchecked Sendable {
    let certificate: OpaquePointer
    let key: OpaquePointer

    /// Takes ownership of both.
    init(certificate: OpaquePointer, key: OpaquePointer) {
        self.certificate = certificate
        self.key = key
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Reads a PEM certificate and the PEM key that belongs to it.
    public convenience init(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        let certificate = try readPEM(certificateFile, kind: .certificateFile, what: "certificate") {
            PEM_read_bio_X509($0, nil, nil, nil)
        }
        let key: OpaquePointer
        do {
            key = try readPEM(privateKeyFile, kind: .privateKeyFile, what: "private key") { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
        } catch {
            X509_free(certificate)
            throw error
        }
        self.init(certificate: certificate, key: key)
        guard X509_check_private_key(certificate, key) == 1 else {
            throw TLSError(.privateKeyFile, "private key file \(privateKeyFile) is not the key of certificate file "
                           + "\(certificateFile): \(OpenSSLErrorQueue.drain())")
        }
    }

    /// The certificate, PEM-encoded.
    public var certificatePEM: String {
        pem { PEM_write_bio_X509($0, certificate) }
    }

    /// The private key, PEM-encoded (PKCS #8, unencrypted).
    public var privateKeyPEM: String {
        pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    /// The certificate's subject in RFC 2253 form.
    public var subject: String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, RaftKV_XN_FLAG_RFC2253())
        return memoryBIOText(bio)
    }

    /// Writes the certificate (mode 0644) and the key (mode 0600, also when the file existed).
    public func write(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        try writeFile(certificateFile, certificatePEM, mode: 0o644)
        try writeFile(privateKeyFile, privateKeyPEM, mode: 0o600)
    }

    private func pem(_ write: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("OpenSSL cannot allocate a memory BIO") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { fatalError("OpenSSL cannot PEM-encode: \(OpenSSLErrorQueue.drain())") }
        return memoryBIOText(bio)
    }
}

/// Reads one PEM object from `path` with `read`, or says which file and why not.
private func readPEM(_ path: String, kind: TLSError.Kind, what: String,
                     _ read: (OpaquePointer) -> OpaquePointer?) throws(TLSError) -> OpaquePointer {
    if let reason = unreadableReason(path) { throw TLSError(kind, "\(what) file \(path): \(reason)") }
    OpenSSLErrorQueue.clear()
    guard let bio = BIO_new_file(path, "r") else {
        throw TLSError(kind, "\(what) file \(path): \(OpenSSLErrorQueue.drain())")
    }
    defer { BIO_free(bio) }
    guard let object = read(bio) else {
        throw TLSError(kind, "\(what) file \(path) holds no PEM \(what): \(OpenSSLErrorQueue.drain())")
    }
    return object
}

/// Writes `text` to `path` with exactly `mode`, replacing any earlier file's contents.
func writeFile(_ path: String, _ text: String, mode: mode_t) throws(TLSError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw TLSError(.certificateGeneration, "cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { Glibc.close(fd) }
    // open's mode applies only to a new file, and through the umask: set it explicitly.
    guard fchmod(fd, mode) == 0 else {
        throw TLSError(.certificateGeneration, "cannot set the mode of \(path): \(String(cString: strerror(errno)))")
    }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { throw TLSError(.certificateGeneration, "cannot write \(path): \(String(cString: strerror(errno)))") }
        offset += count
    }
}
