// swift-tools-version:6.0
// Tether: a ShellHub device agent for ARM Linux boards.
//
// Two build modes from one tree (see README.md and cross/):
//  - host: `swift build` / `swift test` on x86_64 with Debian's libssh-dev and libmbedtls-dev;
//  - embedded: `make cross BOARD=...` compiles the same agent targets with Embedded Swift for
//    aarch64 / armv7hf / x86_64 and links them statically with musl, libssh and mbedTLS.
// The agent targets use no package dependencies and no Foundation.
import PackageDescription

let package = Package(
    name: "Tether",
    products: [
        .executable(name: "tether", targets: ["tether"]),
    ],
    targets: [
        // C modules: module maps over system (host) or cross-built (board) libraries, plus shims.
        .systemLibrary(name: "CLibSSH", path: "Sources/CLibSSH"),
        .systemLibrary(name: "CMbedTLS", path: "Sources/CMbedTLS"),
        // crypt(3): glibc's libcrypt (libxcrypt) on the host; a static libxcrypt on boards, so
        // that yescrypt ($y$) hashes of current Debian/Raspberry Pi OS verify (musl lacks it).
        .target(name: "CShims", path: "Sources/CShims", linkerSettings: [.linkedLibrary("crypt")]),

        // Swift layers; arrows point down only (see ARCHITECTURE in README).
        .target(name: "TetherWire", path: "Sources/TetherWire"),
        .target(name: "TetherAgent", dependencies: ["TetherWire"], path: "Sources/TetherAgent"),
        .target(
            name: "TetherPlatform",
            dependencies: ["TetherWire", "CShims", "CMbedTLS"],
            path: "Sources/TetherPlatform"),
        .target(
            name: "TetherSSH",
            dependencies: ["TetherPlatform", "CShims", "CLibSSH", "CMbedTLS"],
            path: "Sources/TetherSSH"),
        .executableTarget(
            name: "tether",
            dependencies: ["TetherWire", "TetherAgent", "TetherPlatform", "TetherSSH", "CShims"],
            path: "Sources/tether"),

        // Host-only tests.
        .testTarget(name: "TetherWireTests", dependencies: ["TetherWire"], path: "Tests/TetherWireTests"),
        .testTarget(
            name: "TetherAgentTests", dependencies: ["TetherAgent", "TetherWire"],
            path: "Tests/TetherAgentTests"),
        .testTarget(
            name: "TetherPlatformTests", dependencies: ["TetherPlatform", "TetherSSH", "TetherWire", "CShims"],
            path: "Tests/TetherPlatformTests"),
        .testTarget(
            name: "TetherSSHTests", dependencies: ["TetherSSH", "TetherPlatform", "CShims"],
            path: "Tests/TetherSSHTests"),
    ]
)
