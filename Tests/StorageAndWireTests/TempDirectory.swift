#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp for one test.
func makeTempDirectory(_ name: String = "raftkv") -> String {
    var template = Array("/tmp/\(name)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer in
        String(cString: mkdtemp(buffer.baseAddress!)!)
    }
    return path
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeText(_ path: String, _ text: String) {
    let file = fopen(path, "w")!
    _ = text.withCString { fputs($0, file) }
    fclose(file)
}
