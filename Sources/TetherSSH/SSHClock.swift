import CShims

/// Monotonic milliseconds, for the rare places that learn the time outside a `service(now:)`
/// call (an oracle answer arrives from the runtime).
enum SSHClock {
    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
