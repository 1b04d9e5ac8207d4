import RaftCore
import RaftWire
import SecureChannel

/// Members proving to each other that they know the peer secret, without ever sending it, and
/// authenticating every frame afterwards (HMAC-SHA-256 from the system's OpenSSL):
///
///     dialer → acceptor   hello      its id, a fresh nonce Nd
///     acceptor → dialer   challenge  a fresh nonce Na, HMAC(secret, "accept"|ids|Nd|Na)
///     dialer → acceptor   proof      HMAC(secret, "dial"|ids|Nd|Na)
///
/// Both then derive the connection's key, HMAC(secret, "session"|ids|Nd|Na), and every frame is
/// sent inside a `sealed` frame with HMAC(key, direction|sequence number|frame). A frame from an
/// old connection fails (another key), a repeated or reordered one too (the sequence number), and
/// a stranger without the secret never gets past the challenge.
///
/// @unchecked Sendable: one per connection, used on that connection's queue.
final class PeerGuard: @unchecked Sendable {
    static let nonceBytes = 16

    private let key: HMACSHA256
    private let sendDirection: UInt8
    private var sentCount: UInt64 = 0
    private var receivedCount: UInt64 = 0

    private init(secret: [UInt8], dialer: NodeID, acceptor: NodeID, dialerNonce: [UInt8], acceptorNonce: [UInt8], isDialer: Bool) {
        let sessionKey = Self.code(secret, "session", dialer, acceptor, dialerNonce, acceptorNonce)
        key = HMACSHA256(key: sessionKey)
        sendDirection = isDialer ? 0 : 1
    }

    static func code(_ secret: [UInt8], _ label: String, _ dialer: NodeID, _ acceptor: NodeID, _ dialerNonce: [UInt8],
                     _ acceptorNonce: [UInt8]) -> [UInt8] {
        var message = Array("raftkv-peer-\(label)|\(dialer)|\(acceptor)|".utf8)
        message.append(contentsOf: dialerNonce)
        message.append(contentsOf: acceptorNonce)
        return HMACSHA256.authenticationCode(key: secret, message: message)
    }

    // MARK: - The dialer's side

    /// The hello's payload: "ID" then, with a secret, a space and the nonce in hex.
    static func hello(id: NodeID, nonce: [UInt8]?) -> [UInt8] {
        var text = String(id)
        if let nonce { text += " " + nonce.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
        return Array(text.utf8)
    }

    /// Checks the acceptor's challenge; returns the proof to send and the connection's guard.
    static func answer(challenge payload: [UInt8], secret: [UInt8], dialer: NodeID, acceptor: NodeID,
                       dialerNonce: [UInt8]) -> (proof: [UInt8], guard: PeerGuard)? {
        guard payload.count == nonceBytes + HMACSHA256.byteCount else { return nil }
        let acceptorNonce = Array(payload[0..<nonceBytes])
        let claimed = Array(payload[nonceBytes...])
        let expected = code(secret, "accept", dialer, acceptor, dialerNonce, acceptorNonce)
        guard constantTimeEquals(claimed, expected) else { return nil }
        let proof = code(secret, "dial", dialer, acceptor, dialerNonce, acceptorNonce)
        return (proof, PeerGuard(secret: secret, dialer: dialer, acceptor: acceptor, dialerNonce: dialerNonce,
                                 acceptorNonce: acceptorNonce, isDialer: true))
    }

    // MARK: - The acceptor's side

    /// Reads a hello: the id it claims, and its nonce (nil when it sent none).
    static func parseHello(_ payload: [UInt8]) -> (id: NodeID, nonce: [UInt8]?)? {
        guard let text = String(validating: payload, as: UTF8.self) else { return nil }
        let parts = text.split(separator: " ")
        guard let first = parts.first, let id = Int(first), parts.count <= 2 else { return nil }
        guard parts.count == 2 else { return (id, nil) }
        let hex = Array(parts[1].utf8)
        guard hex.count == nonceBytes * 2 else { return nil }
        var nonce: [UInt8] = []
        for index in stride(from: 0, to: hex.count, by: 2) {
            guard let byte = UInt8(String(decoding: hex[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            nonce.append(byte)
        }
        return (id, nonce)
    }

    /// The challenge to send, and what the dialer's proof must be.
    static func challenge(secret: [UInt8], dialer: NodeID, acceptor: NodeID, dialerNonce: [UInt8])
        -> (payload: [UInt8], expectedProof: [UInt8], acceptorNonce: [UInt8]) {
        let acceptorNonce = SecureRandom.bytes(nonceBytes)
        let payload = acceptorNonce + code(secret, "accept", dialer, acceptor, dialerNonce, acceptorNonce)
        return (payload, code(secret, "dial", dialer, acceptor, dialerNonce, acceptorNonce), acceptorNonce)
    }

    static func acceptor(secret: [UInt8], dialer: NodeID, acceptor: NodeID, dialerNonce: [UInt8], acceptorNonce: [UInt8]) -> PeerGuard {
        PeerGuard(secret: secret, dialer: dialer, acceptor: acceptor, dialerNonce: dialerNonce, acceptorNonce: acceptorNonce,
                  isDialer: false)
    }

    // MARK: - Frames

    /// `frame` (encoded) inside a sealed frame, with its MAC.
    func seal(_ frame: [UInt8]) -> [UInt8] {
        var payload = frame
        payload.append(contentsOf: mac(direction: sendDirection, sequence: sentCount, frame))
        sentCount += 1
        return PeerFrame(kind: .sealed, payload: payload).encoded()
    }

    /// The frame inside a sealed one, if its MAC is right for the next sequence number.
    func open(_ sealed: PeerFrame) -> PeerFrame? {
        guard sealed.kind == .sealed, sealed.payload.count > HMACSHA256.byteCount else { return nil }
        let inner = Array(sealed.payload.dropLast(HMACSHA256.byteCount))
        let claimed = sealed.payload.suffix(HMACSHA256.byteCount)
        guard constantTimeEquals(claimed, mac(direction: 1 - sendDirection, sequence: receivedCount, inner)) else { return nil }
        receivedCount += 1
        var reader = PeerFrameReader(limit: Int.max)
        guard let frames = try? inner.withUnsafeBytes({ try reader.feed($0) }), frames.count == 1 else { return nil }
        return frames[0]
    }

    private func mac(direction: UInt8, sequence: UInt64, _ frame: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [direction]
        for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        key.update(header)
        key.update(frame)
        return key.finalize()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
