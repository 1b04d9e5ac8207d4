import Foundation
import SecureChannel
import Testing

/// CertificateMaker's files, checked with the `openssl` command line, not only with SecureChannel.
@Suite struct CertificateMakerTests {
    let files = Fixtures.cluster.files

    @Test func writesTheNamedFilesWithPrivateKeysReadableOnlyByTheOwner() throws {
        let directory = Fixtures.cluster.directory
        #expect(files.caCertificateFile == directory.file("ca.pem") && files.caPrivateKeyFile == directory.file("ca-key.pem"))
        #expect(files.members.map(\.certificateFile) == [directory.file("member0.pem"), directory.file("member1.pem")])
        #expect(files.members.map(\.privateKeyFile) == [directory.file("member0-key.pem"), directory.file("member1-key.pem")])
        for key in [files.caPrivateKeyFile] + files.members.map(\.privateKeyFile) {
            #expect(try permissions(key) == 0o600, "\(key)")
        }
        for certificate in [files.caCertificateFile] + files.members.map(\.certificateFile) {
            #expect(try permissions(certificate) == 0o644, "\(certificate)")
        }
    }

    @Test func opensslVerifiesEachMemberAgainstTheCA() throws {
        for member in files.members {
            let result = try run(["openssl", "verify", "-CAfile", files.caCertificateFile, "-purpose", "sslserver", member.certificateFile])
            #expect(result.status == 0 && result.output.contains("\(member.certificateFile): OK"), "\(result.output)")
            let client = try run(["openssl", "verify", "-CAfile", files.caCertificateFile, "-purpose", "sslclient", member.certificateFile])
            #expect(client.status == 0, "\(client.output)")
        }
        // And refuses a member of another cluster.
        let stranger = try run(["openssl", "verify", "-CAfile", files.caCertificateFile, Fixtures.stranger.files.members[0].certificateFile])
        #expect(stranger.status != 0)
    }

    @Test func opensslShowsTheNamesUsesAndKeys() throws {
        let member = try run(["openssl", "x509", "-noout", "-text", "-in", files.members[0].certificateFile])
        #expect(member.status == 0)
        #expect(member.output.contains("DNS:node0.example, IP Address:10.1.2.3, DNS:localhost, IP Address:127.0.0.1"), "\(member.output)")
        #expect(member.output.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(member.output.contains("CA:FALSE") && member.output.contains("ASN1 OID: prime256v1"))
        #expect(member.output.contains("Subject: O = RaftKV, CN = member0") && member.output.contains("Issuer: O = RaftKV, CN = RaftKV cluster CA"))
        let other = try run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", files.members[1].certificateFile])
        #expect(other.output.contains("DNS:node1.example, DNS:localhost, IP Address:127.0.0.1"), "\(other.output)")

        let authority = try run(["openssl", "x509", "-noout", "-text", "-in", files.caCertificateFile])
        #expect(authority.output.contains("CA:TRUE") && authority.output.contains("Certificate Sign, CRL Sign"))
        // Validity: members a year, the CA ten (checkend counts seconds from now).
        #expect(try run(["openssl", "x509", "-checkend", "\(364 * 86400)", "-noout", "-in", files.members[0].certificateFile]).status == 0)
        #expect(try run(["openssl", "x509", "-checkend", "\(366 * 86400)", "-noout", "-in", files.members[0].certificateFile]).status != 0)
        #expect(try run(["openssl", "x509", "-checkend", "\(3649 * 86400)", "-noout", "-in", files.caCertificateFile]).status == 0)
        // The key files are keys that openssl reads and that match their certificates.
        let key = try run(["openssl", "pkey", "-in", files.members[0].privateKeyFile, "-pubout"])
        let certificateKey = try run(["openssl", "x509", "-noout", "-pubkey", "-in", files.members[0].certificateFile])
        #expect(key.status == 0 && key.output == certificateKey.output)
    }

    @Test func anExistingCAIssuesMoreMembers() throws {
        let authority = try CertificateAuthority(certificateFile: files.caCertificateFile, privateKeyFile: files.caPrivateKeyFile)
        let member = try authority.issue(commonName: "member7", hosts: ["[::1]", "0.0.0.0", "node7.example", "node7.example"],
                                         keyAlgorithm: .rsa2048)
        #expect(member.subject == "CN=member7,O=RaftKV")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try member.write(certificateFile: directory.file("member7.pem"), privateKeyFile: directory.file("member7-key.pem"))
        let verified = try run(["openssl", "verify", "-CAfile", files.caCertificateFile, directory.file("member7.pem")])
        #expect(verified.status == 0, "\(verified.output)")
        let names = try run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", directory.file("member7.pem")])
        #expect(names.output.contains("IP Address:0:0:0:0:0:0:0:1, DNS:node7.example\n"), "\(names.output)")
        // The files load as a TLS identity.
        _ = try TLSContext(role: .server, certificateFile: directory.file("member7.pem"),
                           privateKeyFile: directory.file("member7-key.pem"), trustedCAFile: files.caCertificateFile)
    }

    @Test func aHostThatIsNoNameWritesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let target = directory.file("certs/nested")
        #expect(throws: TLSError(.certificateGeneration, "node 1,CA:TRUE is neither an IP address nor a DNS name")) {
            try CertificateMaker.writeCluster(directory: target, memberHosts: [["node0"], ["node 1,CA:TRUE"]])
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        let made = try CertificateMaker.writeCluster(directory: target, memberHosts: [["node0"]])
        #expect(FileManager.default.fileExists(atPath: made.members[0].certificateFile))
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
