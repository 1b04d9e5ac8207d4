import COpenSSL
import Foundation
import SecureChannel
import Testing

/// Figures for docs and the integrator (issue 19): per-frame MAC cost, TLS throughput through two
/// in-memory sessions, handshakes per second. Run in release: `RAFTKV_BENCH=1 swift test -c release
/// --filter SecurityBenchmarks`. Each also checks that the work it timed was done right.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RAFTKV_BENCH"] == "1"))
struct SecurityBenchmarks {
    @Test func hmacOfA200ByteFrame() {
        let frames = 1_000_000
        let mac = HMACSHA256(key: SecureRandom.bytes(32))
        let frame = SecureRandom.bytes(200)
        var code = [UInt8](repeating: 0, count: 32)
        var fold: UInt8 = 0
        let intoBuffer = seconds {
            frame.withUnsafeBytes { message in
                code.withUnsafeMutableBytes { output in
                    for _ in 0..<frames {
                        mac.authenticationCode(for: message, into: output)
                        fold ^= output[0]
                    }
                }
            }
        }
        let allocating = seconds {
            for _ in 0..<frames { fold ^= mac.authenticationCode(for: frame)[0] }
        }
        let freshKey = seconds {
            for _ in 0..<frames / 10 { fold ^= HMACSHA256.authenticationCode(key: frame.prefix(32), message: frame)[0] }
        }
        let (copied, copiedCode) = copyingAKeyedContextPerFrame(key: Array(frame.prefix(32)), frame: frame, frames: frames)
        #expect(copiedCode == HMACSHA256.authenticationCode(key: frame.prefix(32), message: frame))
        #expect(mac.authenticationCode(for: frame) == code)
        print("HMAC-SHA-256, 200-byte frame, reused key, into a buffer: \(rate(frames, intoBuffer)) frames/s "
              + "(\(nanoseconds(intoBuffer, frames)) ns each)")
        print("HMAC-SHA-256, 200-byte frame, reused key, returning [UInt8]: \(rate(frames, allocating)) frames/s")
        print("HMAC-SHA-256, 200-byte frame, EVP_MAC_CTX_dup of a keyed context per frame (the road not taken): "
              + "\(rate(frames, copied)) frames/s")
        print("HMAC-SHA-256, 200-byte frame, new key each time: \(rate(frames / 10, freshKey)) frames/s (fold \(fold))")
    }

    @Test func tlsThroughputThroughTwoSessions() throws {
        for version in [TLSContext.ProtocolVersion.tls13, .tls12] {
            var pair = try SessionPair(client: Fixtures.client(maximumVersion: version), server: Fixtures.server())
            pair.pump()
            try #require(pair.server.handshakeState == .done)
            let chunk = SecureRandom.bytes(64 << 10), total = 512 << 20
            var received: [UInt8] = []
            received.reserveCapacity(128 << 10)
            var receivedCount = 0
            let elapsed = try seconds {
                for _ in 0..<(total / chunk.count) {
                    try pair.client.send(chunk)
                    var failure: TLSError?
                    pair.client.drainCiphertext { ciphertext in
                        do throws(TLSError) { try pair.server.receive(ciphertext, appendingPlaintextTo: &received) } catch { failure = error }
                    }
                    if let failure { throw failure }
                    receivedCount += received.count
                    received.removeAll(keepingCapacity: true)
                }
            }
            #expect(receivedCount == total)
            print("TLS \(pair.client.negotiatedProtocol ?? "?") \(pair.client.cipherSuite ?? "?"), one direction, 64 KiB sends: "
                  + "\(Int(Double(total) / 1_048_576 / elapsed)) MB/s (encrypt + decrypt on one core)")
        }
    }

    @Test func handshakesPerSecond() throws {
        let client = try Fixtures.client(), server = try Fixtures.server()
        let count = 500
        var done = 0
        let elapsed = try seconds {
            for _ in 0..<count {
                var pair = try SessionPair(client: client, server: server)
                pair.pump()
                if pair.client.handshakeState == .done && pair.server.handshakeState == .done { done += 1 }
            }
        }
        #expect(done == count)
        print("TLS 1.3 mutual handshakes, P-256 certificates, both ends on one core: \(rate(count, elapsed))/s "
              + "(\(String(format: "%.2f", elapsed * 1000 / Double(count))) ms each)")
    }

    /// The other way to reuse a key: copy a keyed context for every frame. Returns the time and the last code.
    private func copyingAKeyedContextPerFrame(key: [UInt8], frame: [UInt8], frames: Int) -> (Double, [UInt8]) {
        let template = EVP_MAC_CTX_new(EVP_MAC_fetch(nil, "HMAC", nil))
        defer { EVP_MAC_CTX_free(template) }
        _ = key.withUnsafeBufferPointer { RaftKV_EVP_MAC_init_sha256(template, $0.baseAddress, $0.count) }
        var code = [UInt8](repeating: 0, count: 32)
        let elapsed = seconds {
            for _ in 0..<frames {
                let context = EVP_MAC_CTX_dup(template)
                var written = 0
                _ = EVP_MAC_update(context, frame, frame.count)
                _ = EVP_MAC_final(context, &code, &written, code.count)
                EVP_MAC_CTX_free(context)
            }
        }
        return (elapsed, code)
    }

    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func rate(_ count: Int, _ seconds: Double) -> Int { Int(Double(count) / seconds) }
    private func nanoseconds(_ seconds: Double, _ count: Int) -> Int { Int(seconds * 1e9 / Double(count)) }
}
