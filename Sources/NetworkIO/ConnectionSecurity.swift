/// What turns a connection's bytes into plaintext and back (TLS, in SecureChannel): the
/// connection reads ciphertext from the socket and hands it in, and hands plaintext out, and
/// sends what the layer says to send. The layer never touches the socket. Confined to the
/// connection's queue.
public protocol ConnectionSecurity: AnyObject {
    /// Bytes from the socket; the plaintext they held is appended to `plaintext`. Throws when
    /// the peer is refused or speaks nonsense; the connection then sends what `drain` gives
    /// (an alert) and closes.
    func receive(_ bytes: UnsafeRawBufferPointer, plaintext: inout [UInt8]) throws
    /// Plaintext to send (held until the handshake is done).
    func send(_ plaintext: UnsafeRawBufferPointer) throws
    /// Everything the layer has to write to the socket now.
    func drain(into output: inout OutputBuffer)
    /// The handshake finished: the peer is who it said it is.
    var isEstablished: Bool { get }
    /// The peer said it is done (TLS close_notify).
    var peerClosed: Bool { get }
    /// Says goodbye (TLS close_notify); `drain` then gives the bytes.
    func close()
}

/// Makes the security layer of each new connection (nil: plain TCP).
public typealias ConnectionSecurityFactory = @Sendable () throws -> ConnectionSecurity
