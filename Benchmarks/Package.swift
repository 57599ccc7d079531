// swift-tools-version: 6.1
// Benchmarks of LongEmbed, kept out of the main package so users never build them.
// Run: cd Benchmarks && swift run -c release LongEmbedBenchmarks [suite ...]
import PackageDescription

let package = Package(
    name: "LongEmbedBenchmarks",
    dependencies: [
        .package(name: "LongEmbed", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "LongEmbedBenchmarks",
            dependencies: [.product(name: "LongEmbed", package: "LongEmbed")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
