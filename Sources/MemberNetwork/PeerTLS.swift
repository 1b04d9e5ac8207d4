import RaftCore
import SecureChannel

/// TLS between members: each presents its member certificate (`memberN`, signed by the
/// cluster's CA) and checks the other's — mutual verification; the dialer also checks the
/// certificate names the address it dialled.
public final class PeerTLS: Sendable {
    let server: TLSContext
    let client: TLSContext

    public init(certificateFile: String, privateKeyFile: String, caFile: String) throws(TLSError) {
        server = try TLSContext(role: .server, certificateFile: certificateFile, privateKeyFile: privateKeyFile,
                                trustedCAFile: caFile, requireClientCertificate: true)
        client = try TLSContext(role: .client, certificateFile: certificateFile, privateKeyFile: privateKeyFile,
                                trustedCAFile: caFile, verifyHostname: true)
    }

    func accepting() throws(TLSError) -> TLSSession {
        try TLSSession(context: server)
    }

    func dialing(_ peer: NodeID, host: String) throws(TLSError) -> TLSSession {
        try TLSSession(context: client, serverName: host)
    }

    /// Why the session's peer is not member `expected` (nil: it is).
    func checkIdentity(_ session: TLSSession, expected: NodeID) -> String? {
        guard session.isEstablished else { return "frames before the TLS handshake ended" }
        guard let name = session.peerCommonName, name == "member\(expected)" else {
            return "a certificate for \(session.peerCommonName ?? "nobody") while it claims to be node \(expected) (member\(expected))"
        }
        return nil
    }
}
