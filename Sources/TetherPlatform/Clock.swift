import CShims

/// The agent's one monotonic clock (CLOCK_MONOTONIC). Timers, deadlines and keepalive
/// schedules use it; it never jumps when NTP sets the wall clock.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary point (boot).
    @inline(__always)
    public static func nowNanoseconds() -> UInt64 { tether_clock_monotonic_ns() }

    /// Milliseconds since an arbitrary point (boot).
    @inline(__always)
    public static func nowMilliseconds() -> UInt64 { tether_clock_monotonic_ns() / 1_000_000 }
}

/// Calendar date and time in UTC, for log stamps and clock-sanity messages.
public struct CivilTime: Equatable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// Splits Unix seconds into UTC calendar fields.
    public init(unixSeconds: Int64) {
        var y: Int32 = 1970, mo: Int32 = 1, d: Int32 = 1, h: Int32 = 0, mi: Int32 = 0, s: Int32 = 0
        _ = tether_gmtime(unixSeconds, &y, &mo, &d, &h, &mi, &s)
        year = Int(y); month = Int(mo); day = Int(d)
        hour = Int(h); minute = Int(mi); second = Int(s)
    }

    /// "2026-11-28".
    public var dateString: String {
        pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// "08:41:07".
    public var timeString: String {
        pad(hour, 2) + ":" + pad(minute, 2) + ":" + pad(second, 2)
    }

    private func pad(_ v: Int, _ width: Int) -> String {
        var s = String(v)
        while s.utf8.count < width { s = "0" + s }
        return s
    }
}

/// The wall clock (CLOCK_REALTIME): only for log stamps, TLS validity and sanity checks.
/// On boards without an RTC it reads 1970 until NTP runs.
public enum WallClock {
    /// Seconds since the Unix epoch.
    public static func nowSeconds() -> Int64 { tether_clock_realtime_ns() / 1_000_000_000 }

    /// Milliseconds since the Unix epoch.
    public static func nowMilliseconds() -> Int64 { tether_clock_realtime_ns() / 1_000_000 }

    /// Current UTC calendar time.
    public static func now() -> CivilTime { CivilTime(unixSeconds: nowSeconds()) }

    /// A warning line when the wall clock is before `notBefore` (e.g. the build date): such a
    /// clock makes every certificate "not yet valid". Nil when the clock looks sane.
    public static func sanityWarning(now: Int64 = WallClock.nowSeconds(), notBefore: Int64) -> String? {
        if now >= notBefore { return nil }
        return "clock is " + CivilTime(unixSeconds: now).dateString
            + ", before build date " + CivilTime(unixSeconds: notBefore).dateString
            + ": set the time (NTP)"
    }
}
