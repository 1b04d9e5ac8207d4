#if canImport(Glibc)
import Glibc
#endif

/// Writes the files a cluster needs for TLS in one step (`ServerMain --make-certs DIR`): a CA and,
/// for every member, a certificate signed by it. Owns nothing between calls.
public enum CertificateMaker {
    /// Where one member's files went.
    public struct MemberFiles: Equatable, Sendable {
        public let certificateFile: String
        public let privateKeyFile: String
    }

    /// Where everything went.
    public struct ClusterFiles: Equatable, Sendable {
        public let caCertificateFile: String
        public let caPrivateKeyFile: String
        /// In member order: `members[n]` is `memberN.pem`, `memberN-key.pem`.
        public let members: [MemberFiles]
    }

    /// Names every certificate carries besides the member's own hosts.
    public static let localHosts = ["localhost", "127.0.0.1"]

    /// Writes `directory/ca.pem`, `ca-key.pem` and, for each entry N of `memberHosts`,
    /// `memberN.pem` and `memberN-key.pem` (CN `memberN`), valid for that entry's hosts plus
    /// `localhost` and `127.0.0.1`. Creates `directory` (and missing parents) with mode 0755;
    /// key files get mode 0600. Replaces files of the same names.
    public static func writeCluster(directory: String, memberHosts: [[String]], memberValidityDays: Int = 365,
                                    caValidityDays: Int = 3650, keyAlgorithm: KeyAlgorithm = .ecP256) throws(TLSError) -> ClusterFiles {
        // Check every host first: a bad one writes nothing.
        for hosts in memberHosts { _ = try subjectAltNameList(hosts) }
        try makeDirectory(directory)
        let authority = try CertificateAuthority(validityDays: caValidityDays, keyAlgorithm: keyAlgorithm)
        let caFile = path(directory, "ca.pem"), caKeyFile = path(directory, "ca-key.pem")
        try authority.identity.write(certificateFile: caFile, privateKeyFile: caKeyFile)
        var members: [MemberFiles] = []
        for (index, hosts) in memberHosts.enumerated() {
            let member = try authority.issue(commonName: "member\(index)", hosts: hosts + localHosts,
                                             validityDays: memberValidityDays, keyAlgorithm: keyAlgorithm)
            let files = MemberFiles(certificateFile: path(directory, "member\(index).pem"),
                                    privateKeyFile: path(directory, "member\(index)-key.pem"))
            try member.write(certificateFile: files.certificateFile, privateKeyFile: files.privateKeyFile)
            members.append(files)
        }
        return ClusterFiles(caCertificateFile: caFile, caPrivateKeyFile: caKeyFile, members: members)
    }

    private static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `mkdir -p`.
    private static func makeDirectory(_ directory: String) throws(TLSError) {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw TLSError(.certificateGeneration, "cannot create the directory \(prefix): \(String(cString: strerror(errno)))")
            }
            prefix += "/"
        }
        var status = stat()
        guard stat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw TLSError(.certificateGeneration, "\(directory) is not a directory")
        }
    }
}
