// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "sluice-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // List+decode and watch throughput of KubeAPI against the simulator, over loopback TLS.
        .executableTarget(
            name: "kubeapi-bench",
            dependencies: [
                .product(name: "KubeAPI", package: "sluice"),
                .product(name: "KubeAPITesting", package: "sluice"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
