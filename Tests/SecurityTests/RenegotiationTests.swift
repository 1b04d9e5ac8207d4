import COpenSSL
import SecureChannel
import Testing

/// A TLS 1.2 peer that asks for renegotiation, which SecureChannel refuses (it is a source of
/// attacks and nothing here needs it). The peer is plain OpenSSL, since SecureChannel itself
/// offers no way to renegotiate.
@Suite struct RenegotiationTests {
    // OpenSSL 3 servers refuse client-initiated renegotiation by default; SSL_OP_NO_RENEGOTIATION
    // keeps it so whatever the system's OpenSSL configuration says.
    @Test func aClientAskingToRenegotiateIsRefused() throws {
        let peer = try #require(RawTLS12Peer(server: false))
        let server = try TLSSession(context: Fixtures.server(requireClientCertificate: false))
        try exchange(peer, server)
        #expect(peer.handshakeDone && server.handshakeState == .done)
        try server.send(Array("before".utf8))
        try exchange(peer, server)
        #expect(peer.received == Array("before".utf8))

        peer.renegotiate()
        _ = try? exchange(peer, server)
        // The server answered the new ClientHello with a no_renegotiation alert; the peer gave up.
        #expect(peer.lastError.contains("no renegotiation"), "\(peer.lastError)")
        #expect(server.handshakeState == .done, "the refusal is not a failed handshake")
    }

    // Without SSL_OP_NO_RENEGOTIATION a client follows a HelloRequest: this test fails then.
    @Test func aServerAskingToRenegotiateIsRefused() throws {
        let peer = try #require(RawTLS12Peer(server: true))
        let client = try TLSSession(context: Fixtures.client(member: nil), serverName: "localhost")
        try exchange(peer, client)
        #expect(peer.handshakeDone && client.handshakeState == .done)

        peer.renegotiate()
        _ = try? exchange(peer, client)
        #expect(peer.lastError.contains("no renegotiation"), "\(peer.lastError)")
        #expect(client.handshakeState == .done)
    }

    /// Carries bytes both ways until neither side has any.
    private func exchange(_ peer: RawTLS12Peer, _ session: TLSSession) throws {
        while true {
            peer.step()
            let fromPeer = peer.takeOutput(), fromSession = session.takeCiphertext()
            if fromPeer.isEmpty && fromSession.isEmpty { return }
            peer.feed(fromSession)
            try session.receive(fromPeer)
        }
    }
}

/// Plain OpenSSL over memory BIOs, TLS 1.2 only, not verifying its peer. Owns its SSL_CTX and SSL.
private final class RawTLS12Peer {
    let context: OpaquePointer
    let ssl: OpaquePointer
    let input: OpaquePointer
    let output: OpaquePointer
    var lastError = ""
    var received: [UInt8] = []

    init?(server: Bool) {
        guard let context = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else { return nil }
        self.context = context
        _ = RaftKV_SSL_CTX_set_max_proto_version(context, RaftKV_TLS1_2_VERSION())
        let member = Fixtures.cluster.files.members[0]
        if server {
            guard SSL_CTX_use_certificate_chain_file(context, member.certificateFile) == 1,
                  SSL_CTX_use_PrivateKey_file(context, member.privateKeyFile, SSL_FILETYPE_PEM) == 1 else { return nil }
        }
        guard let ssl = SSL_new(context), let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else { return nil }
        SSL_set_bio(ssl, input, output)
        server ? SSL_set_accept_state(ssl) : SSL_set_connect_state(ssl)
        (self.ssl, self.input, self.output) = (ssl, input, output)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Drives the handshake, or once it is done reads what arrived into `received`.
    func step() {
        if SSL_is_init_finished(ssl) == 0 {
            if SSL_do_handshake(ssl) != 1 { noteError() }
            if SSL_is_init_finished(ssl) == 0 { return }
        }
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = SSL_read(ssl, &buffer, Int32(buffer.count))
            guard count > 0 else { break }
            received += buffer.prefix(Int(count))
        }
        noteError()
    }

    var handshakeDone: Bool { SSL_is_init_finished(ssl) == 1 }

    func renegotiate() {
        _ = SSL_renegotiate(ssl)
        _ = SSL_do_handshake(ssl)
    }

    func feed(_ bytes: [UInt8]) {
        if !bytes.isEmpty { _ = BIO_write(input, bytes, Int32(bytes.count)) }
    }

    func takeOutput() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(RaftKV_BIO_ctrl_pending(output)))
        if !bytes.isEmpty { _ = BIO_read(output, &bytes, Int32(bytes.count)) }
        return bytes
    }

    private func noteError() {
        let code = ERR_get_error()
        if code != 0, let reason = ERR_reason_error_string(code) { lastError = String(cString: reason) }
        ERR_clear_error()
    }
}
