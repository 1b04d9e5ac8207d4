import ClientEdge
import KVWire
import MemberNetwork
import NetworkIO
import SecureChannel

/// What the configuration's security settings become: who may send what (tokens), TLS for the
/// client and HTTP ports, and between members the peer secret and TLS. Built once, at start;
/// a TLS file that cannot be used stops the server with a message naming it.
struct ServerSecurity: Sendable {
    var authorizer: Authorizer
    var clientTLS: TLSContext?
    var peerTLS: PeerTLS?
    var peerSecret: String?

    /// `member`: whose certificate (`{id}` in the paths; 0 in one process).
    init(_ config: SecurityConfig, member: Int) throws(TLSError) {
        authorizer = Authorizer(tokens: config.tokens)
        peerSecret = config.peerSecret
        if let files = config.tls?.forMember(member) {
            clientTLS = try TLSContext(role: .server, certificateFile: files.cert, privateKeyFile: files.key, trustedCAFile: files.ca)
            peerTLS = try PeerTLS(certificateFile: files.cert, privateKeyFile: files.key, caFile: files.ca)
        }
    }

    /// No tokens, no TLS (what a server gets when its TLS files are unusable, until `start` says so).
    init() {
        authorizer = Authorizer(tokens: [])
    }

    /// A TLS session for each connection to the client and HTTP ports (nil: plain TCP).
    var connectionFactory: ConnectionSecurityFactory? {
        guard let clientTLS else { return nil }
        return { try TLSSession(context: clientTLS) }
    }
}
