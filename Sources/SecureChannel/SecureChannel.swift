// SecureChannel: the security building blocks of issue 19, all from the system's OpenSSL (COpenSSL).
//
// - `HMACSHA256`, `SecureRandom`, `constantTimeEquals`: the peer secret's challenge–response and
//   per-frame MAC, and token comparison.
// - `TLSContext`, `TLSSession`: TLS 1.2+ for the client, HTTP and raft ports, mutual between members.
// - `CertificateAuthority`, `CertificateAndKey`, `CertificateMaker`: `ServerMain --make-certs`.
//
// Hooking a TLSSession into a non-blocking connection (everything on the connection's queue):
//
//     // accept / connect:
//     let session = try TLSSession(context: serverContext)                    // or clientContext, serverName: host
//     session.drainCiphertext { output.append($0) }                            // a client's ClientHello
//     // read handler (bytes = what recv returned; 0 bytes = the peer closed the socket):
//     do {
//         try session.receive(bytes, appendingPlaintextTo: &plaintext)        // plaintext → the line/HTTP/frame parser
//     } catch {
//         session.drainCiphertext { output.append($0) }                        // the alert, best effort
//         log(error.message); close after flushing
//     }
//     session.drainCiphertext { output.append($0) }                            // handshake replies, alerts
//     if session.receivedCloseNotify { session.close(); drain; close after flushing }
//     // sending an answer:
//     try session.send(answerBytes)                                            // held until the handshake is done
//     session.drainCiphertext { output.append($0) }; then output.send(to: fd) as for plain TCP
//
// After every `receive`, `send` and `close`, drain the ciphertext: the session never writes to the
// socket itself. `handshakeState` tells when the peer is authenticated (`.done`; `peerCommonName`
// is then e.g. "member1"); for a half-open handshake time-out, close connections still
// `.inProgress` after a deadline. All errors are `TLSError` (kind + message naming the file or
// peer and OpenSSL's reason); a failed session keeps throwing the same error.
//
// Threads: `TLSContext`, `CertificateAuthority` and `CertificateAndKey` are immutable and shared
// freely. A `TLSSession` and an `HMACSHA256` belong to one queue each; neither locks.
