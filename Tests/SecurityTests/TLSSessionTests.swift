import SecureChannel
import Testing

/// Client and server TLSSessions joined in memory: mutual verification, data both ways, the
/// handshake's failures, and close_notify.
@Suite struct TLSSessionTests {
    @Test func mutualHandshakeThenDataBothWays() throws {
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server())
        #expect(pair.client.pendingCiphertextCount > 0, "a client's ClientHello is ready at once")
        pair.pump()
        #expect(pair.clientError == nil && pair.serverError == nil)
        #expect(pair.client.handshakeState == .done && pair.server.handshakeState == .done)
        #expect(pair.client.peerCommonName == "member0" && pair.server.peerCommonName == "member1")
        #expect(pair.server.peerSubject == "CN=member1,O=RaftKV")
        #expect(pair.client.peerCertificateVerified && pair.server.peerCertificateVerified)
        #expect(pair.client.negotiatedProtocol == "TLSv1.3" && pair.client.cipherSuite != nil)

        try pair.client.send(Array("ping".utf8))
        try pair.server.send(Array("pong".utf8))
        pair.pump()
        #expect(pair.serverReceived == Array("ping".utf8) && pair.clientReceived == Array("pong".utf8))

        // Multi-megabyte payloads, one send each, both directions at once.
        let up = SecureRandom.bytes(5 << 20 + 7), down = SecureRandom.bytes(3 << 20 + 1)
        try pair.client.send(up)
        try pair.server.send(down)
        pair.pump()
        #expect(pair.serverReceived.count == 4 + up.count && pair.serverReceived.dropFirst(4).elementsEqual(up))
        #expect(pair.clientReceived.count == 4 + down.count && pair.clientReceived.dropFirst(4).elementsEqual(down))
    }

    @Test func plaintextSentBeforeTheHandshakeIsDeliveredAfterIt() throws {
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server())
        try pair.client.send(Array("early".utf8))
        #expect(pair.client.handshakeState == .inProgress && pair.client.heldPlaintextCount == 5)
        pair.pump()
        #expect(pair.serverReceived == Array("early".utf8) && pair.client.heldPlaintextCount == 0)
    }

    @Test(arguments: [1, 5, 1000]) func ciphertextInPiecesOfAnySize(pieceSize: Int) throws {
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server())
        pair.pieceSize = pieceSize
        pair.pump()
        #expect(pair.client.handshakeState == .done && pair.server.handshakeState == .done)
        let message = SecureRandom.bytes(40_000)
        try pair.client.send(message)
        pair.pump()
        #expect(pair.serverReceived == message)
    }

    @Test func tls12AndAnAddressAsServerName() throws {
        var pair = try SessionPair(client: Fixtures.client(maximumVersion: .tls12), server: Fixtures.server(), serverName: "10.1.2.3")
        pair.pump()
        #expect(pair.client.handshakeState == .done && pair.server.handshakeState == .done)
        #expect(pair.client.negotiatedProtocol == "TLSv1.2" && pair.server.peerCommonName == "member1")
        try pair.server.send(Array("over 1.2".utf8))
        pair.pump()
        #expect(pair.clientReceived == Array("over 1.2".utf8))
    }

    @Test(arguments: [TLSContext.ProtocolVersion.tls13, .tls12])
    func aClientCertificateFromAnotherCAIsRefused(version: TLSContext.ProtocolVersion) throws {
        var pair = try SessionPair(client: Fixtures.client(member: 0, of: Fixtures.stranger.files, maximumVersion: version),
                                   server: Fixtures.server())
        pair.pump()
        guard case .failed(let error) = pair.server.handshakeState else {
            Issue.record("the server accepted a stranger's certificate: \(pair.server.handshakeState)")
            return
        }
        #expect(error.kind == .handshake && error.message.contains("certificate verify failed"), "\(error)")
        #expect(pair.serverError == error)
        // The client learns from the server's alert; under TLS 1.3 after its own side had finished.
        guard case .failed(let clientError) = pair.client.handshakeState else {
            Issue.record("the client did not learn of the refusal: \(pair.client.handshakeState)")
            return
        }
        #expect(clientError.message.contains("alert"), "\(clientError)")
        #expect(throws: clientError) { try pair.client.send([1]) }
    }

    @Test func aServerRequiringCertificatesRefusesAClientWithout() throws {
        var pair = try SessionPair(client: Fixtures.client(member: nil), server: Fixtures.server())
        pair.pump()
        guard case .failed(let error) = pair.server.handshakeState else {
            Issue.record("accepted a client without a certificate")
            return
        }
        #expect(error.message.contains("peer did not return a certificate"), "\(error)")
        #expect(pair.clientError != nil)
    }

    @Test func aServerNotRequiringCertificatesAcceptsAClientWithout() throws {
        var pair = try SessionPair(client: Fixtures.client(member: nil), server: Fixtures.server(requireClientCertificate: false))
        pair.pump()
        #expect(pair.client.handshakeState == .done && pair.server.handshakeState == .done)
        #expect(pair.server.peerCommonName == nil && pair.client.peerCommonName == "member0")
    }

    @Test(arguments: ["node1.example", "10.9.9.9", "other.example"])
    func aClientExpectingAnotherHostRefuses(serverName: String) throws {
        // Member 0's certificate names node0.example, 10.1.2.3, localhost and 127.0.0.1 only.
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server(), serverName: serverName)
        pair.pump()
        guard case .failed(let error) = pair.client.handshakeState else {
            Issue.record("the client accepted a certificate for another host")
            return
        }
        #expect(error.kind == .handshake, "\(error)")
        #expect(error.message.contains("hostname mismatch") || error.message.contains("IP address mismatch"), "\(error)")
        #expect(error.message.contains(serverName))
        #expect(pair.server.handshakeState != .done)
    }

    @Test func garbageFailsTheHandshakeWithAnError() throws {
        let server = try TLSSession(context: Fixtures.server())
        let request = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        #expect(throws: TLSError.self) { try server.receive(request) }
        guard case .failed(let error) = server.handshakeState else {
            Issue.record("garbage did not fail the handshake")
            return
        }
        #expect(error.kind == .handshake && error.message.contains("http request"), "\(error)")
        // Failed for good: later bytes and sends throw the same error.
        #expect(throws: error) { try server.receive([22, 3, 1]) }
        #expect(throws: error) { try server.send([1, 2, 3]) }

        let client = try TLSSession(context: Fixtures.client(), serverName: "localhost")
        _ = client.takeCiphertext()
        #expect(throws: TLSError.self) { try client.receive(SecureRandom.bytes(4096)) }
        #expect(client.handshakeState != .done && client.handshakeState != .inProgress)
    }

    @Test func closeNotifyBothWays() throws {
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server())
        pair.pump()
        try pair.client.send(Array("last words".utf8))
        pair.client.close()
        #expect(pair.client.sentCloseNotify)
        #expect(throws: TLSError.self) { try pair.client.send([1]) }
        pair.pump()
        #expect(pair.serverReceived == Array("last words".utf8))
        #expect(pair.server.receivedCloseNotify && !pair.client.receivedCloseNotify)
        try pair.server.send(Array("goodbye".utf8))
        pair.server.close()
        pair.pump()
        #expect(pair.clientReceived == Array("goodbye".utf8) && pair.client.receivedCloseNotify)
        #expect(pair.clientError == nil && pair.serverError == nil)
    }

    @Test func drainingCiphertextInPieces() throws {
        var pair = try SessionPair(client: Fixtures.client(), server: Fixtures.server())
        pair.pump()
        try pair.client.send(SecureRandom.bytes(100_000))
        let pending = pair.client.pendingCiphertextCount
        var drained: [UInt8] = []
        var pieces = 0
        pair.client.drainCiphertext { drained.append(contentsOf: $0); pieces += 1 }
        #expect(drained.count == pending && pieces > 1 && pair.client.pendingCiphertextCount == 0)
        let plaintext = try pair.server.receive(drained)
        #expect(plaintext.count == 100_000)
        #expect(pair.client.takeCiphertext().isEmpty)
    }
}
