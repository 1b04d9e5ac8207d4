// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: executables → ClusterServer → (RaftCore, RaftStorage, KVStore, KVWire).
// RaftCore depends on nothing, not even Foundation.
let package = Package(
    name: "RaftKV",
    targets: [
        .target(name: "RaftCore"),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore"]),
        .testTarget(name: "RaftSimulationTests", dependencies: ["RaftCore"]),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    target.swiftSettings = settings
}
