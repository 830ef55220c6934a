import CShims
import TetherAgent

/// What this binary is: version, target and build mode, as `tether --version` prints them.
enum BuildInfo {
    static var arch: String {
        #if arch(arm64)
        return "aarch64"
        #elseif arch(arm)
        return "armv7hf"
        #elseif arch(x86_64)
        return "x86_64"
        #else
        return "unknown"
        #endif
    }

    static var mode: String {
        #if hasFeature(Embedded)
        return "embedded"
        #else
        return "host"
        #endif
    }

    static var board: String { String(cString: tether_build_board()) }
    static var libc: String { String(cString: tether_build_libc()) }

    /// `tether 0.10.0 (aarch64-linux-musl, embedded, board raspberrypi4)`
    static var versionLine: String {
        "tether " + String(AgentVersion.string) + " (" + String(arch) + "-linux-" + String(libc) + ", " + String(mode) + ", board " + String(board) + ")"
    }
}
