import NetworkIO

/// A TLS session as the security layer of a `StreamConnection` (the line protocol's and HTTP's
/// connections): ciphertext in, plaintext out, and back.
extension TLSSession: ConnectionSecurity {
    public func receive(_ bytes: UnsafeRawBufferPointer, plaintext: inout [UInt8]) throws {
        try receive(bytes, appendingPlaintextTo: &plaintext)
    }

    public func drain(into output: inout OutputBuffer) {
        drainCiphertext { output.append($0) }
    }

    public var isEstablished: Bool { handshakeState == .done }

    public var peerClosed: Bool { receivedCloseNotify }
}
