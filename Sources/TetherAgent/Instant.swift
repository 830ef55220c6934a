/// A point on the agent's monotonic clock, in milliseconds since an arbitrary origin.
///
/// TetherAgent never reads a clock: the runtime converts its `CLOCK_MONOTONIC` reading into an
/// `Instant` and passes it in as "now". Durations are plain `Millis`.
public struct Instant: Comparable, Hashable, Sendable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The origin of the clock; handy in tests.
    public static let zero = Instant(milliseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: Instant, d: Millis) -> Instant { Instant(milliseconds: a.milliseconds + d) }
    public static func - (a: Instant, d: Millis) -> Instant { Instant(milliseconds: a.milliseconds - d) }
    /// The time elapsed from `b` to `a` (negative if `a` is earlier).
    public static func - (a: Instant, b: Instant) -> Millis { a.milliseconds - b.milliseconds }
}

/// A duration in milliseconds.
public typealias Millis = Int64

extension Int64 {
    /// `n` seconds as `Millis`.
    @inlinable public static func seconds(_ n: Int64) -> Millis { n * 1000 }
}

/// The earlier of two optional deadlines (nil = no deadline).
@inlinable public func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
    guard let a else { return b }
    guard let b else { return a }
    return a < b ? a : b
}
