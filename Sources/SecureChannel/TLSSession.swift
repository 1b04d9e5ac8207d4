#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// One TLS connection's protocol state, as a byte transformer: it never touches a socket.
///
/// Ciphertext read from the socket goes in through `receive`, which returns the plaintext it
/// completes; plaintext goes in through `send`; after either call (and after `init`, for a client,
/// and `close`) the ciphertext to write to the socket waits in `takeCiphertext()` /
/// `drainCiphertext(_:)`. OpenSSL runs over a pair of memory BIOs: `networkIn` holds received
/// ciphertext until OpenSSL reads it, `networkOut` holds what OpenSSL wrote until the owner takes it.
///
/// Owns the `SSL` object, which owns both BIOs (one `SSL_free` in deinit frees all three), a
/// 16 KiB read buffer, and plaintext handed in before OpenSSL could take it (during the handshake).
///
/// Confined to one queue: the queue of the connection that owns it (the DispatchSource read and
/// write handlers' queue). `@unchecked Sendable` only so it can be created elsewhere and moved there.
public final class TLSSession: @unchecked Sendable {
    public enum HandshakeState: Equatable, Sendable {
        case inProgress
        case done
        case failed(TLSError)
    }

    public let context: TLSContext
    /// Clients: the name the server's certificate must carry (DNS name or IP address), also sent
    /// as SNI when it is a DNS name.
    public let serverName: String?
    public private(set) var handshakeState: HandshakeState = .inProgress
    /// The error that ended the session, in the handshake or after; every later call throws it.
    public private(set) var failure: TLSError?
    /// The peer sent close_notify: it will send nothing more. Answer with `close()`.
    public private(set) var receivedCloseNotify = false
    /// `close()` was called: this side sends nothing more.
    public private(set) var sentCloseNotify = false

    let ssl: OpaquePointer
    private let networkIn: OpaquePointer
    private let networkOut: OpaquePointer
    private let scratch: UnsafeMutableRawBufferPointer
    private var heldPlaintext: [UInt8] = []
    private var heldStart = 0
    private var receivedPlaintext = false

    /// Plaintext per `SSL_write`: four full records, so a multi-megabyte send neither passes
    /// OpenSSL an `Int32`-sized length nor builds one huge call.
    static let writeChunk = 4 * 16_384

    /// A new connection's session. A client's first handshake message is ready in
    /// `takeCiphertext()` when this returns; a server waits for the client's.
    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.handle) else {
            throw TLSError(.configuration, "cannot create a TLS session: \(OpenSSLErrorQueue.drain())")
        }
        let input = BIO_new(BIO_s_mem()), output = BIO_new(BIO_s_mem())
        guard let networkIn = input, let networkOut = output else {
            BIO_free(input)
            BIO_free(output)
            SSL_free(ssl)
            throw TLSError(.configuration, "cannot create memory BIOs: \(OpenSSLErrorQueue.drain())")
        }
        // An empty input BIO means "wait for more", never end of stream.
        _ = RaftKV_BIO_set_mem_eof_return(networkIn, -1)
        SSL_set_bio(ssl, networkIn, networkOut)
        self.ssl = ssl
        self.networkIn = networkIn
        self.networkOut = networkOut
        self.context = context
        self.serverName = serverName
        self.scratch = .allocate(byteCount: 16_384, alignment: 16)
        if context.role == .client {
            SSL_set_connect_state(ssl)
            try configurePeerName()
            try advanceHandshake()
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
        scratch.deallocate()
    }

    // MARK: Bytes in and out

    /// Takes ciphertext read from the socket (any amount: part of a record, many records) and
    /// appends the plaintext it completes to `plaintext`. Then check `takeCiphertext()`: the
    /// handshake, alerts and close_notify answers produce bytes for the peer. Throws the failure
    /// (and keeps throwing it) when the handshake fails or the peer's bytes are not valid TLS;
    /// the alert for the peer is then still in `takeCiphertext()`.
    public func receive(_ ciphertext: UnsafeRawBufferPointer, appendingPlaintextTo plaintext: inout [UInt8]) throws(TLSError) {
        if let failure { throw failure }
        feed(ciphertext)
        if handshakeState == .inProgress {
            try advanceHandshake()
            if handshakeState != .done { return }
        }
        if !receivedCloseNotify { try readPlaintext(into: &plaintext) }
        try flushHeldPlaintext()
    }

    /// `receive(_:appendingPlaintextTo:)` returning the plaintext.
    @discardableResult
    public func receive(_ ciphertext: some Sequence<UInt8>) throws(TLSError) -> [UInt8] {
        var plaintext: [UInt8] = []
        var outcome: Result<Void, TLSError> = .success(())
        withContiguousBytes(ciphertext) { bytes in
            do throws(TLSError) { try receive(bytes, appendingPlaintextTo: &plaintext) } catch { outcome = .failure(error) }
        }
        try outcome.get()
        return plaintext
    }

    /// Encrypts plaintext for the peer (any size; sent as records of at most 16 KiB). Before the
    /// handshake is done it is held and encrypted as soon as it is. Throws the session's failure,
    /// or `.closed` after `close()`.
    public func send(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) {
        if let failure { throw failure }
        if sentCloseNotify { throw TLSError(.closed, "plaintext sent on a TLS session after close_notify") }
        if handshakeState != .done || heldStart < heldPlaintext.count {
            heldPlaintext.append(contentsOf: plaintext)
            try flushHeldPlaintext()
            return
        }
        let written = try write(plaintext)
        if written < plaintext.count {
            heldPlaintext.append(contentsOf: UnsafeRawBufferPointer(rebasing: plaintext[written...]))
        }
    }

    /// `send(_:)` for any byte sequence.
    public func send(_ plaintext: some Sequence<UInt8>) throws(TLSError) {
        var outcome: Result<Void, TLSError> = .success(())
        withContiguousBytes(plaintext) { bytes in
            do throws(TLSError) { try send(bytes) } catch { outcome = .failure(error) }
        }
        try outcome.get()
    }

    /// Plaintext handed to `send` that OpenSSL has not taken yet (while the handshake runs): a
    /// connection that stops reading requests past a limit keeps this bounded.
    public var heldPlaintextCount: Int { heldPlaintext.count - heldStart }

    /// Ciphertext bytes waiting to be written to the socket.
    public var pendingCiphertextCount: Int { Int(RaftKV_BIO_ctrl_pending(networkOut)) }

    /// Takes (up to `maxBytes` of) the ciphertext waiting for the socket.
    public func takeCiphertext(maxBytes: Int = .max) -> [UInt8] {
        let count = min(pendingCiphertextCount, maxBytes)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var read = 0
            if count > 0 { _ = BIO_read_ex(networkOut, buffer.baseAddress, count, &read) }
            initialized = read
        }
    }

    /// Hands all waiting ciphertext to `body`, in pieces of at most 16 KiB, without allocating
    /// (e.g. straight into a connection's output buffer). The bytes are gone from the session once
    /// `body` returns each piece.
    public func drainCiphertext(_ body: (UnsafeRawBufferPointer) -> Void) {
        while true {
            var read = 0
            guard pendingCiphertextCount > 0,
                  BIO_read_ex(networkOut, scratch.baseAddress, scratch.count, &read) == 1, read > 0 else { return }
            body(UnsafeRawBufferPointer(rebasing: scratch[..<read]))
        }
    }

    /// Sends close_notify (in `takeCiphertext()`): this side will send nothing more. Plaintext
    /// still held for an unfinished handshake is dropped. Does nothing after a failure.
    public func close() {
        guard !sentCloseNotify, failure == nil else { return }
        sentCloseNotify = true
        guard handshakeState == .done else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    // MARK: Driving OpenSSL

    private func configurePeerName() throws(TLSError) {
        guard let serverName, !serverName.isEmpty else {
            if context.verifiesHostname {
                throw TLSError(.configuration, "a TLS client that verifies hostnames needs the server's name")
            }
            return
        }
        if isIPAddress(serverName) {
            // No SNI for addresses (RFC 6066); verify the iPAddress subjectAltName instead.
            if context.verifiesHostname && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) != 1 {
                throw TLSError(.configuration, "cannot verify the address \(serverName): \(OpenSSLErrorQueue.drain())")
            }
            return
        }
        guard RaftKV_SSL_set_tlsext_host_name(ssl, serverName) == 1 else {
            throw TLSError(.configuration, "cannot send the server name \(serverName): \(OpenSSLErrorQueue.drain())")
        }
        if context.verifiesHostname {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard SSL_set1_host(ssl, serverName) == 1 else {
                throw TLSError(.configuration, "cannot verify the name \(serverName): \(OpenSSLErrorQueue.drain())")
            }
        }
    }

    private func feed(_ ciphertext: UnsafeRawBufferPointer) {
        guard let base = ciphertext.baseAddress, ciphertext.count > 0 else { return }
        var written = 0
        // A memory BIO grows to take everything; it only fails when memory does.
        guard BIO_write_ex(networkIn, base, ciphertext.count, &written) == 1, written == ciphertext.count else {
            fatalError("OpenSSL memory BIO refused \(ciphertext.count) bytes: \(OpenSSLErrorQueue.drain())")
        }
    }

    private func advanceHandshake() throws(TLSError) {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            handshakeState = .done
            return
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
        throw fail(.handshake, code)
    }

    private func readPlaintext(into plaintext: inout [UInt8]) throws(TLSError) {
        while true {
            OpenSSLErrorQueue.clear()
            var read = 0
            if SSL_read_ex(ssl, scratch.baseAddress, scratch.count, &read) == 1 {
                plaintext.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<read]))
                receivedPlaintext = true
                continue
            }
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                return
            case let code:
                throw fail(.connection, code)
            }
        }
    }

    /// Encrypts as much of `bytes` as OpenSSL takes now (all of it, unless the protocol needs to
    /// read first); returns how much.
    private func write(_ bytes: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        var offset = 0
        while offset < bytes.count {
            OpenSSLErrorQueue.clear()
            var written = 0
            let chunk = min(bytes.count - offset, Self.writeChunk)
            if SSL_write_ex(ssl, bytes.baseAddress! + offset, chunk, &written) == 1 {
                offset += written
                continue
            }
            let code = SSL_get_error(ssl, 0)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return offset }
            throw fail(.connection, code)
        }
        return offset
    }

    private func flushHeldPlaintext() throws(TLSError) {
        guard handshakeState == .done, heldStart < heldPlaintext.count, !sentCloseNotify else { return }
        let outcome = heldPlaintext.withUnsafeBytes { bytes in
            Result { () throws(TLSError) in try write(UnsafeRawBufferPointer(rebasing: bytes[heldStart...])) }
        }
        heldStart += try outcome.get()
        if heldStart == heldPlaintext.count {
            heldPlaintext.removeAll(keepingCapacity: heldPlaintext.capacity <= 1 << 16)
            heldStart = 0
        }
    }

    /// Records the failure behind OpenSSL error `code` and returns it to throw.
    private func fail(_ kind: TLSError.Kind, _ code: Int32) -> TLSError {
        // A TLS 1.3 client finishes its handshake before the server has checked the client's
        // certificate: a refusal arrives as the first thing read. That is a handshake failure.
        let refusedAfterFinishing = kind == .connection && context.role == .client && !receivedPlaintext
            && SSL_version(ssl) == RaftKV_TLS1_3_VERSION()
        let reason = failureReason(code)
        let error: TLSError
        if kind == .handshake || refusedAfterFinishing {
            error = TLSError(.handshake, "TLS handshake with \(peerDescription) failed: \(reason)")
            handshakeState = .failed(error)
        } else {
            error = TLSError(.connection, "TLS connection with \(peerDescription) failed: \(reason)")
        }
        failure = error
        return error
    }

    private func failureReason(_ code: Int32) -> String {
        var reason = OpenSSLErrorQueue.drain(fallback: code == SSL_ERROR_SYSCALL ? "the byte stream ended" : "OpenSSL error \(code)")
        let verification = SSL_get_verify_result(ssl)
        if verification != X509_V_OK, let text = X509_verify_cert_error_string(verification) {
            reason += " (certificate check: \(String(cString: text)))"
        }
        return reason
    }

    private var peerDescription: String {
        switch context.role {
        case .client: "server \(serverName ?? "(unnamed)")"
        case .server: "a client"
        }
    }
}

/// Whether `text` is an IPv4 or IPv6 address literal.
func isIPAddress(_ text: String) -> Bool {
    var address = in6_addr()
    return inet_pton(AF_INET, text, &address) == 1 || inet_pton(AF_INET6, text, &address) == 1
}
