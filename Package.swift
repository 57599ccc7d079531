// swift-tools-version: 6.1
import PackageDescription

// MARK: - Traits
//
// `ReferenceKernels`: the plain-Swift reference kernels (the test oracles) become the default
//                     implementation instead of the C kernels.
// `OpenMP`:           the C kernels run multi-threaded with OpenMP (libomp). On by default.
//
// `swift build --traits A` replaces the default traits; write `--traits A,OpenMP` to keep OpenMP.

import Foundation

/// The folder holding libomp's `omp.h`. clang ships no `omp.h` of its own; Debian's `libomp-dev`
/// (what `make setup` installs) puts it in `/usr/lib/llvm-N/lib/clang/V/include`. Set
/// `LONGEMBED_OMP_INCLUDE` to use another libomp; otherwise the newest such folder is taken,
/// then `/usr/include` and `/usr/local/include`.
let openMPInclude: String = {
    let env = ProcessInfo.processInfo.environment
    if let dir = env["LONGEMBED_OMP_INCLUDE"], !dir.isEmpty { return dir }
    let fm = FileManager.default
    var candidates: [String] = []
    let llvmVersions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib")) ?? [])
        .filter { $0.hasPrefix("llvm-") }
        .sorted { (Int($0.dropFirst(5)) ?? 0) > (Int($1.dropFirst(5)) ?? 0) }
    for llvm in llvmVersions {
        let clang = "/usr/lib/\(llvm)/lib/clang"
        for version in ((try? fm.contentsOfDirectory(atPath: clang)) ?? []).sorted(by: >) {
            candidates.append("\(clang)/\(version)/include")
        }
        candidates.append("/usr/lib/\(llvm)/include")
    }
    candidates += ["/usr/include", "/usr/local/include"]
    return candidates.first { fm.fileExists(atPath: "\($0)/omp.h") } ?? "/usr/include"
}()

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
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        // PCRE2 (Debian libpcre2-dev): the tokenizer's Unicode-property regexes.
        .systemLibrary(
            name: "CPCRE2",
            path: "Sources/CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .target(
            name: "LongEmbed",
            dependencies: [
                "CKernels",
                "CPCRE2",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
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
