import TetherAgent
import TetherPlatform

/// Keeps refusals from flooding the log when a server (or an attacker behind it) opens
/// hundreds of streams at once: the first line of a kind is written, the repeats within
/// `window` are only counted, and the count rides on the next line of that kind.
struct BurstLog {
    static let window: Millis = 60_000
    static let kinds = 8

    private var entries: [(key: String, loggedAt: Instant, held: Int)] = []

    /// nil: hold this line back. Otherwise write it, noting how many were held back before it.
    mutating func admit(_ key: String, now: Instant) -> Int? {
        if let i = entries.firstIndex(where: { $0.key == key }) {
            if now - entries[i].loggedAt < BurstLog.window {
                entries[i].held += 1
                return nil
            }
            let held = entries[i].held
            entries[i] = (key, now, 0)
            return held
        }
        if entries.count >= BurstLog.kinds { entries.removeFirst() }
        entries.append((key, now, 0))
        return 0
    }

    /// The line with its held-back count, if any.
    static func line(_ text: String, held: Int) -> String {
        held > 0 ? text + " (+" + String(held) + " held back)" : text
    }
}

extension RuntimeContext {
    /// Writes a warning unless it repeats a recent one of the same `kind` (see `BurstLog`).
    func warnBurst(_ burst: inout BurstLog, kind: String, _ text: String) {
        if let held = burst.admit(kind, now: now) { log.warning(BurstLog.line(text, held: held)) }
    }
}
