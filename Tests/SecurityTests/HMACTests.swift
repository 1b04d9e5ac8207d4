import SecureChannel
import Testing

/// HMAC-SHA-256 against every test case of RFC 4231 (section 4), the incremental and reused
/// paths, constant-time comparison and random bytes.
@Suite struct HMACTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let number: Int
        let key: [UInt8]
        let data: [UInt8]
        /// The published HMAC-SHA-256 output (case 5 publishes only the first 128 bits).
        let expected: String
        var testDescription: String { "RFC 4231 test case \(number)" }
    }

    static let rfc4231: [Vector] = [
        Vector(number: 1, key: repeated(0x0b, 20), data: ascii("Hi There"),
               expected: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(number: 2, key: ascii("Jefe"), data: ascii("what do ya want for nothing?"),
               expected: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Vector(number: 3, key: repeated(0xaa, 20), data: repeated(0xdd, 50),
               expected: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(number: 4, key: Array(1...25), data: repeated(0xcd, 50),
               expected: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Vector(number: 5, key: repeated(0x0c, 20), data: ascii("Test With Truncation"),
               expected: "a3b6167473100ee06e0c796c2955552b"),
        Vector(number: 6, key: repeated(0xaa, 131), data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
               expected: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(number: 7, key: repeated(0xaa, 131),
               data: ascii("This is a test using a larger than block-size key and a larger than block-size data. "
                           + "The key needs to be hashed before being used by the HMAC algorithm."),
               expected: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: rfc4231) func oneShotMatchesRFC4231(_ vector: Vector) {
        let code = HMACSHA256.authenticationCode(key: vector.key, message: vector.data)
        #expect(code.count == 32)
        // Case 5 is published truncated to 128 bits: compare that many leading bytes.
        #expect(hex(code.prefix(vector.expected.count / 2)) == vector.expected)
    }

    @Test(arguments: rfc4231) func incrementalMatchesRFC4231(_ vector: Vector) {
        let mac = HMACSHA256(key: vector.key)
        // Byte by byte, then in two uneven pieces, on the same keyed instance.
        for byte in vector.data { mac.update([byte]) }
        let first = mac.finalize()
        mac.update(vector.data.prefix(3))
        mac.update(vector.data.dropFirst(3))
        let second = mac.finalize()
        #expect(hex(first.prefix(vector.expected.count / 2)) == vector.expected)
        #expect(first == second)
    }

    @Test func aReusedKeyGivesEachMessageItsOwnCode() {
        let mac = HMACSHA256(key: Self.ascii("Jefe"))
        let messages = (0..<50).map { Self.ascii("frame \($0)") } + [Self.ascii("what do ya want for nothing?")]
        for message in messages {
            #expect(mac.authenticationCode(for: message) == HMACSHA256.authenticationCode(key: Self.ascii("Jefe"), message: message))
        }
        #expect(hex(mac.authenticationCode(for: messages.last!))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // An unfinished incremental message does not leak into the next one-shot code.
        mac.update(Self.ascii("abandoned"))
        #expect(mac.authenticationCode(for: messages[0]) == HMACSHA256.authenticationCode(key: Self.ascii("Jefe"), message: messages[0]))
    }

    @Test func writingIntoABufferAndVerifying() {
        let mac = HMACSHA256(key: Self.repeated(0x0b, 20))
        var code = [UInt8](repeating: 0, count: 40)
        Self.ascii("Hi There").withUnsafeBytes { message in
            code.withUnsafeMutableBytes { mac.authenticationCode(for: message, into: $0) }
        }
        #expect(hex(code.prefix(32)) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(code.suffix(8) == Self.repeated(0, 8))
        #expect(mac.isValid(code: code.prefix(32), for: Self.ascii("Hi There")))
        var forged = Array(code.prefix(32))
        forged[31] ^= 1
        #expect(!mac.isValid(code: forged, for: Self.ascii("Hi There")))
        #expect(!mac.isValid(code: code.prefix(16), for: Self.ascii("Hi There")))
    }

    @Test func emptyKeyAndEmptyMessage() {
        // Checked with: openssl mac -digest SHA256 -macopt hexkey: HMAC </dev/null
        let code = HMACSHA256.authenticationCode(key: [UInt8](), message: [UInt8]())
        #expect(hex(code) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!constantTimeEquals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!constantTimeEquals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
        #expect(constantTimeEquals("token-é".utf8, Array("token-é".utf8)))
        #expect(!constantTimeEquals("token-a".utf8, "token-b".utf8))
    }

    @Test func randomBytesHaveTheLengthAskedForAndDiffer() {
        #expect(SecureRandom.bytes(0).isEmpty)
        let draws = (0..<100).map { _ in SecureRandom.bytes(32) }
        #expect(draws.allSatisfy { $0.count == 32 })
        #expect(Set(draws.map { hex($0) }).count == 100)
        // 3,200 bytes show nearly all 256 values (a stuck or zeroed generator would not).
        #expect(Set(draws.joined()).count > 200)
    }

    static func repeated(_ byte: UInt8, _ count: Int) -> [UInt8] { [UInt8](repeating: byte, count: count) }
    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}
