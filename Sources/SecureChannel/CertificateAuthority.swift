import COpenSSL

/// A certificate authority for one cluster: signs the certificates its members present to each
/// other and to clients.
///
/// Owns its certificate and key (a `CertificateAndKey`). Never changed after it is made.
public final class CertificateAuthority: @unchecked Sendable {
    public let identity: CertificateAndKey

    /// A new self-signed CA with a fresh key.
    public init(commonName: String = "RaftKV cluster CA", validityDays: Int = 3650,
                keyAlgorithm: KeyAlgorithm = .ecP256) throws(TLSError) {
        let key = try generateKey(keyAlgorithm)
        let certificate: OpaquePointer
        do {
            let draft = try CertificateDraft(commonName: commonName, publicKey: key, validityDays: validityDays)
            try draft.addExtensions(issuer: nil, [
                (NID_basic_constraints, "critical,CA:TRUE"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ])
            certificate = try draft.sign(issuerName: nil, issuerKey: key)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        identity = CertificateAndKey(certificate: certificate, key: key)
    }

    /// An existing CA, read from its PEM certificate and key (to add members later).
    public init(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        identity = try CertificateAndKey(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
    }

    /// A certificate with a fresh key, signed by this CA, for both TLS server and client use
    /// (extendedKeyUsage serverAuth, clientAuth), with `commonName` as subject CN and `hosts` as
    /// subjectAltNames: each is an IP address (`10.0.0.5`, `::1`, `[::1]`) or a DNS name.
    /// Empty entries and the wildcard addresses `0.0.0.0` and `::` are skipped; repeats are kept once.
    public func issue(commonName: String, hosts: [String], validityDays: Int = 365,
                      keyAlgorithm: KeyAlgorithm = .ecP256) throws(TLSError) -> CertificateAndKey {
        let subjectAltNames = try subjectAltNameList(hosts)
        let key = try generateKey(keyAlgorithm)
        let certificate: OpaquePointer
        do {
            let draft = try CertificateDraft(commonName: commonName, publicKey: key, validityDays: validityDays)
            var extensions = [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, keyAlgorithm == .rsa2048 ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth,clientAuth"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid,issuer"),
            ]
            if !subjectAltNames.isEmpty { extensions.append((NID_subject_alt_name, subjectAltNames)) }
            try draft.addExtensions(issuer: identity.certificate, extensions)
            certificate = try draft.sign(issuerName: X509_get_subject_name(identity.certificate), issuerKey: identity.key)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        return CertificateAndKey(certificate: certificate, key: key)
    }
}

/// `DNS:name,IP:address,…` for OpenSSL's extension syntax; refuses names that are not plain host names.
func subjectAltNameList(_ hosts: [String]) throws(TLSError) -> String {
    var entries: [String] = []
    for host in hosts {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.isEmpty || name == "0.0.0.0" || name == "::" { continue }
        let entry: String
        if isIPAddress(name) {
            entry = "IP:" + name
        } else if isHostName(name) {
            entry = "DNS:" + name
        } else {
            throw TLSError(.certificateGeneration, "\(host) is neither an IP address nor a DNS name")
        }
        if !entries.contains(entry) { entries.append(entry) }
    }
    return entries.joined(separator: ",")
}

/// Letters, digits, `-`, `.`, `_` and `*` (a wildcard), ASCII only.
private func isHostName(_ name: String) -> Bool {
    name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"): true
        default: false
        }
    }
}

private func generateKey(_ algorithm: KeyAlgorithm) throws(TLSError) -> OpaquePointer {
    OpenSSLErrorQueue.clear()
    let key = switch algorithm {
    case .ecP256: RaftKV_EVP_EC_gen("P-256")
    case .rsa2048: RaftKV_EVP_RSA_gen(2048)
    }
    guard let key else { throw TLSError(.certificateGeneration, "cannot generate a key: \(OpenSSLErrorQueue.drain())") }
    return key
}

/// An X.509 v3 certificate being put together: subject, random serial, validity, public key and
/// extensions, until `sign` hands it over. Owns the `X509` until then (freed in deinit if never signed).
private final class CertificateDraft {
    private var certificate: OpaquePointer?

    init(commonName: String, publicKey: OpaquePointer, validityDays: Int) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let certificate = X509_new() else { throw Self.error("cannot allocate a certificate") }
        self.certificate = certificate
        let serial = BN_new()
        defer { BN_free(serial) }
        let name = X509_get_subject_name(certificate)
        // notBefore an hour back: members whose clocks differ a little still accept new certificates.
        guard X509_set_version(certificate, 2) == 1, let serial,
              BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) != nil,
              X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,
              X509_time_adj_ex(X509_getm_notAfter(certificate), Int32(validityDays), 0, nil) != nil,
              X509_set_pubkey(certificate, publicKey) == 1,
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, "RaftKV", -1, -1, 0) == 1,
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1 else {
            throw Self.error("cannot fill in the certificate for \(commonName)")
        }
    }

    deinit {
        X509_free(certificate)
    }

    /// Adds extensions in OpenSSL's configuration syntax; `issuer` nil means self-signed.
    func addExtensions(issuer: OpaquePointer?, _ extensions: [(Int32, String)]) throws(TLSError) {
        var context = X509V3_CTX()
        RaftKV_X509V3_set_ctx_nodb(&context)
        X509V3_set_ctx(&context, issuer ?? certificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let item = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw Self.error("cannot make the extension \(value)")
            }
            defer { X509_EXTENSION_free(item) }
            guard X509_add_ext(certificate, item, -1) == 1 else { throw Self.error("cannot add the extension \(value)") }
        }
    }

    /// Sets the issuer (nil: self-signed), signs with SHA-256 and hands over the certificate.
    func sign(issuerName: OpaquePointer?, issuerKey: OpaquePointer) throws(TLSError) -> OpaquePointer {
        guard X509_set_issuer_name(certificate, issuerName ?? X509_get_subject_name(certificate)) == 1,
              X509_sign(certificate, issuerKey, EVP_sha256()) > 0, let signed = certificate else {
            throw Self.error("cannot sign the certificate")
        }
        certificate = nil
        return signed
    }

    private static func error(_ what: String) -> TLSError {
        TLSError(.certificateGeneration, "\(what): \(OpenSSLErrorQueue.drain())")
    }
}
