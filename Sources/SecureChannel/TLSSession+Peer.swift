import COpenSSL

/// What the handshake established about the peer and the connection.
extension TLSSession {
    /// The peer's certificate subject in RFC 2253 form (`CN=member1,O=RaftKV`), if it sent one.
    public var peerSubject: String? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(certificate) else { return nil }
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, RaftKV_XN_FLAG_RFC2253()) >= 0 else { return nil }
        return memoryBIOText(bio)
    }

    /// The common name (CN) of the peer's certificate subject, if it sent a certificate with one.
    public var peerCommonName: String? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(certificate) else { return nil }
        let length = X509_NAME_get_text_by_NID(name, NID_commonName, nil, 0)
        guard length >= 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        _ = X509_NAME_get_text_by_NID(name, NID_commonName, &buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The peer sent a certificate and it passed verification (chain to the CA, dates, and the
    /// name for clients that verify it). Meaningful once the handshake is done.
    public var peerCertificateVerified: Bool {
        SSL_get0_peer_certificate(ssl) != nil && SSL_get_verify_result(ssl) == X509_V_OK
    }

    /// The negotiated protocol (`TLSv1.3`, `TLSv1.2`), once the handshake is done.
    public var negotiatedProtocol: String? {
        guard handshakeState == .done else { return nil }
        return SSL_get_version(ssl).map { String(cString: $0) }
    }

    /// The negotiated cipher suite (e.g. `TLS_AES_256_GCM_SHA384`), once the handshake is done.
    public var cipherSuite: String? {
        guard handshakeState == .done, let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return SSL_CIPHER_get_name(cipher).map { String(cString: $0) }
    }
}

/// The text written into a memory BIO.
func memoryBIOText(_ bio: OpaquePointer) -> String {
    var data: UnsafeMutablePointer<CChar>?
    let count = RaftKV_BIO_get_mem_data(bio, &data)
    guard let data, count > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
}
