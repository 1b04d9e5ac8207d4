import COpenSSL

/// Everything that is the same for all TLS connections of one kind (a listener's, or one
/// member's outgoing peer links): role, own certificate and key, trusted CA, verification rules.
///
/// Owns one OpenSSL `SSL_CTX`, configured completely in `init` and freed in deinit. It is never
/// changed afterwards, and OpenSSL allows creating sessions from one `SSL_CTX` on many threads, so
/// a context is `Sendable`: make one per listener (or one for all outgoing links) and share it.
/// Each `TLSSession` keeps its context alive.
public final class TLSContext: @unchecked Sendable {
    public enum Role: Sendable {
        /// Accepts connections (a listener).
        case server
        /// Opens connections (a peer link, a client).
        case client
    }

    public enum ProtocolVersion: Sendable {
        case tls12
        case tls13

        var openSSLValue: Int32 {
            switch self {
            case .tls12: RaftKV_TLS1_2_VERSION()
            case .tls13: RaftKV_TLS1_3_VERSION()
            }
        }
    }

    public let role: Role
    /// Clients: sessions check that the server's certificate names the host they were given.
    public let verifiesHostname: Bool
    /// Servers: a client must present a certificate signed by the CA (mutual TLS).
    public let requiresClientCertificate: Bool
    let handle: OpaquePointer

    /// - Parameters:
    ///   - certificateFile: PEM, this side's certificate (then any intermediates). Required for a
    ///     server; for a client, what it presents when the server asks (mutual TLS).
    ///   - privateKeyFile: PEM, the key of `certificateFile`; given exactly when it is.
    ///   - trustedCAFile: PEM, the CA(s) whose certificates this side accepts from its peer. A
    ///     client without one trusts the system's CAs; a server needs one to require client
    ///     certificates.
    ///   - requireClientCertificate: servers only: refuse clients without a valid certificate.
    ///   - verifyHostname: clients only: the server's certificate must name the session's
    ///     `serverName` (DNS name or IP address, matched against subjectAltNames).
    ///   - minimumVersion, maximumVersion: TLS 1.2 and 1.3 by default; never below 1.2.
    public init(role: Role, certificateFile: String?, privateKeyFile: String?, trustedCAFile: String?,
                requireClientCertificate: Bool = false, verifyHostname: Bool = true,
                minimumVersion: ProtocolVersion = .tls12, maximumVersion: ProtocolVersion = .tls13) throws(TLSError) {
        try Self.checkOptions(role: role, certificateFile: certificateFile, privateKeyFile: privateKeyFile,
                              trustedCAFile: trustedCAFile, requireClientCertificate: requireClientCertificate,
                              minimumVersion: minimumVersion, maximumVersion: maximumVersion)
        OpenSSLErrorQueue.clear()
        guard let handle = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(.configuration, "cannot create a TLS context: \(OpenSSLErrorQueue.drain())")
        }
        self.handle = handle
        self.role = role
        self.verifiesHostname = role == .client && verifyHostname
        self.requiresClientCertificate = role == .server && requireClientCertificate
        try setVersions(minimum: minimumVersion, maximum: maximumVersion)
        RaftKV_SSL_CTX_set_safe_options(handle)
        RaftKV_SSL_CTX_set_default_modes(handle)
        // Sessions are never resumed: tickets would be bytes on every connection for nothing.
        SSL_CTX_set_num_tickets(handle, 0)
        if let certificateFile, let privateKeyFile {
            try loadIdentity(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
        }
        try loadTrust(caFile: trustedCAFile)
    }

    deinit {
        SSL_CTX_free(handle)
    }

    private static func checkOptions(role: Role, certificateFile: String?, privateKeyFile: String?, trustedCAFile: String?,
                                     requireClientCertificate: Bool, minimumVersion: ProtocolVersion,
                                     maximumVersion: ProtocolVersion) throws(TLSError) {
        if role == .server && (certificateFile == nil || privateKeyFile == nil) {
            throw TLSError(.configuration, "a TLS server needs a certificate file and a private key file")
        }
        if (certificateFile == nil) != (privateKeyFile == nil) {
            throw TLSError(.configuration, certificateFile == nil
                           ? "private key file \(privateKeyFile!) given without a certificate file"
                           : "certificate file \(certificateFile!) given without a private key file")
        }
        if role == .server && requireClientCertificate && trustedCAFile == nil {
            throw TLSError(.configuration, "requiring client certificates needs a CA file to check them against")
        }
        if minimumVersion == .tls13 && maximumVersion == .tls12 {
            throw TLSError(.configuration, "the minimum TLS version is above the maximum")
        }
    }

    private func setVersions(minimum: ProtocolVersion, maximum: ProtocolVersion) throws(TLSError) {
        guard RaftKV_SSL_CTX_set_min_proto_version(handle, minimum.openSSLValue) == 1,
              RaftKV_SSL_CTX_set_max_proto_version(handle, maximum.openSSLValue) == 1 else {
            throw TLSError(.configuration, "cannot set the TLS versions: \(OpenSSLErrorQueue.drain())")
        }
    }

    private func loadIdentity(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        if let reason = unreadableReason(certificateFile) {
            throw TLSError(.certificateFile, "certificate file \(certificateFile): \(reason)")
        }
        if let reason = unreadableReason(privateKeyFile) {
            throw TLSError(.privateKeyFile, "private key file \(privateKeyFile): \(reason)")
        }
        guard SSL_CTX_use_certificate_chain_file(handle, certificateFile) == 1 else {
            throw TLSError(.certificateFile,
                           "certificate file \(certificateFile) holds no usable PEM certificate: \(OpenSSLErrorQueue.drain())")
        }
        // OpenSSL checks the key against the certificate while loading it, and again here.
        guard SSL_CTX_use_PrivateKey_file(handle, privateKeyFile, SSL_FILETYPE_PEM) == 1,
              SSL_CTX_check_private_key(handle) == 1 else {
            let reason = OpenSSLErrorQueue.drain()
            throw TLSError(.privateKeyFile, reason.contains("values mismatch")
                           ? "private key file \(privateKeyFile) is not the key of certificate file \(certificateFile): \(reason)"
                           : "private key file \(privateKeyFile) holds no usable PEM private key: \(reason)")
        }
    }

    private func loadTrust(caFile: String?) throws(TLSError) {
        guard let caFile else {
            if role == .client { SSL_CTX_set_default_verify_paths(handle) }
            SSL_CTX_set_verify(handle, role == .client ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
            return
        }
        if let reason = unreadableReason(caFile) {
            throw TLSError(.caFile, "CA file \(caFile): \(reason)")
        }
        guard SSL_CTX_load_verify_locations(handle, caFile, nil) == 1 else {
            throw TLSError(.caFile, "CA file \(caFile) holds no usable PEM certificate: \(OpenSSLErrorQueue.drain())")
        }
        switch role {
        case .client:
            SSL_CTX_set_verify(handle, SSL_VERIFY_PEER, nil)
        case .server where requiresClientCertificate:
            // Tell clients which CA to present a certificate from (the list is owned by the context).
            if let names = SSL_load_client_CA_file(caFile) { SSL_CTX_set_client_CA_list(handle, names) }
            SSL_CTX_set_verify(handle, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        case .server:
            SSL_CTX_set_verify(handle, SSL_VERIFY_NONE, nil)
        }
    }
}
