import Foundation
import SecureChannel
import Testing

/// TLSContext's refusals: each names the file and gives the system's or OpenSSL's reason.
@Suite struct TLSContextTests {
    let member0 = Fixtures.cluster.files.members[0]
    let member1 = Fixtures.cluster.files.members[1]
    let ca = Fixtures.cluster.files.caCertificateFile

    func refusal(certificate: String?, key: String?, ca: String?, role: TLSContext.Role = .server,
                 requireClientCertificate: Bool = false) -> TLSError? {
        do {
            _ = try TLSContext(role: role, certificateFile: certificate, privateKeyFile: key, trustedCAFile: ca,
                               requireClientCertificate: requireClientCertificate)
            return nil
        } catch {
            return error
        }
    }

    @Test func missingFilesAreNamedWithTheSystemsReason() {
        let missing = "/nonexistent/raftkv/member0.pem"
        let cert = refusal(certificate: missing, key: member0.privateKeyFile, ca: ca)
        #expect(cert == TLSError(.certificateFile, "certificate file \(missing): No such file or directory"))
        let key = refusal(certificate: member0.certificateFile, key: missing, ca: ca)
        #expect(key == TLSError(.privateKeyFile, "private key file \(missing): No such file or directory"))
        let trust = refusal(certificate: member0.certificateFile, key: member0.privateKeyFile, ca: missing)
        #expect(trust == TLSError(.caFile, "CA file \(missing): No such file or directory"))
    }

    @Test func invalidFilesAreNamedWithOpenSSLsReason() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let junk = directory.file("junk.pem")
        try "not a certificate\n".write(toFile: junk, atomically: true, encoding: .utf8)

        let cert = refusal(certificate: junk, key: member0.privateKeyFile, ca: ca)
        #expect(cert?.kind == .certificateFile)
        #expect(cert?.message.hasPrefix("certificate file \(junk) holds no usable PEM certificate: ") == true)
        #expect(cert?.message.contains("no start line") == true, "\(String(describing: cert))")

        let key = refusal(certificate: member0.certificateFile, key: junk, ca: ca)
        #expect(key?.kind == .privateKeyFile && key?.message.contains(junk) == true, "\(String(describing: key))")

        let trust = refusal(certificate: member0.certificateFile, key: member0.privateKeyFile, ca: junk)
        #expect(trust?.kind == .caFile && trust?.message.contains(junk) == true, "\(String(describing: trust))")
        #expect(trust?.message.contains("no certificate or crl found") == true, "\(String(describing: trust))")
    }

    @Test func aKeyOfAnotherCertificateIsRefused() {
        let error = refusal(certificate: member0.certificateFile, key: member1.privateKeyFile, ca: ca)
        #expect(error?.kind == .privateKeyFile)
        #expect(error?.message.contains("is not the key of certificate file \(member0.certificateFile)") == true)
        #expect(error?.message.contains("key values mismatch") == true, "\(String(describing: error))")
    }

    @Test func impossibleOptionsAreRefused() {
        #expect(refusal(certificate: nil, key: nil, ca: ca)?.kind == .configuration, "a server without a certificate")
        #expect(refusal(certificate: member0.certificateFile, key: nil, ca: ca, role: .client)?.kind == .configuration)
        #expect(refusal(certificate: member0.certificateFile, key: member0.privateKeyFile, ca: nil,
                        requireClientCertificate: true)?.kind == .configuration)
        #expect(throws: TLSError.self) {
            // Verifying the host name needs the host name.
            _ = try TLSSession(context: TLSContext(role: .client, certificateFile: nil, privateKeyFile: nil, trustedCAFile: ca))
        }
    }

    @Test func aContextServesManySessions() throws {
        let server = try Fixtures.server(), client = try Fixtures.client()
        for _ in 0..<5 {
            var pair = try SessionPair(client: client, server: server)
            pair.pump()
            #expect(pair.client.handshakeState == .done && pair.server.handshakeState == .done)
        }
    }
}
