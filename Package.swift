// swift-tools-version: 6.1
import PackageDescription

// MARK: - Traits
//
// `ReferenceKernels`: the plain-Swift reference kernels (the test oracles) become the default
//                     implementation instead of the C kernels.
// `OpenMP`:           the C kernels run multi-threaded with OpenMP (libomp). On by default.
//
// `swift build --traits A` replaces the default traits; write `--traits A,OpenMP` to keep OpenMP.

let openMPInclude = "/usr/lib/llvm-14/lib/clang/14.0.6/include"

let package = Package(
    name: "LongEmbed",
    products: [
        // MARK: - Public API
        .library(name: "LongEmbed", targets: ["LongEmbed"]),
        .executable(name: "longembed", targets: ["longembed"]),
    ],
    traits: [
        .trait(name: "ReferenceKernels",
               description: "Make the plain-Swift reference kernels the default implementation."),
        .trait(name: "OpenMP",
               description: "Build the C kernels with OpenMP (libomp) for multi-core execution."),
        .default(enabledTraits: ["OpenMP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Implementation details
        .target(
            name: "CKernels",
            path: "CKernels",
            exclude: [],
            cSettings: [
                .unsafeFlags(["-O3", "-ffp-contract=off"]),
                .define("CK_USE_OPENMP", .when(traits: ["OpenMP"])),
                .unsafeFlags(["-fopenmp", "-I\(openMPInclude)"], .when(traits: ["OpenMP"])),
            ],
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("numa"),
                .linkedLibrary("m"),
                .linkedLibrary("omp5", .when(traits: ["OpenMP"])),
            ]
        ),
        .target(
            name: "LongEmbed",
            dependencies: ["CKernels"],
            swiftSettings: [
                .define("LONGEMBED_REFERENCE_KERNELS", .when(traits: ["ReferenceKernels"])),
            ]
        ),
        .executableTarget(
            name: "longembed",
            dependencies: [
                "LongEmbed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // MARK: - Tests
        .testTarget(
            name: "LongEmbedTests",
            dependencies: ["LongEmbed", "CKernels"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
