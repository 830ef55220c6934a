import CShims
import TetherWire

/// The device's `identity.mac` (PROTOCOL.md 2.3) and where it came from.
///
/// Selection, as the Go agent does it: `PREFERRED_IDENTITY` verbatim when set; else, among the
/// interfaces of /sys/class/net (up or down), the non-loopback ones of type 1 (ARPHRD_ETHER:
/// Ethernet, Wi-Fi, bridges, USB gadgets), the one with the lowest ifindex, its MAC in
/// lowercase colon hex.
///
/// Fallback (where the Go agent refuses to start, e.g. cellular boards with only raw-IP
/// `wwan0` or `ppp0`): a stable, per-unit string derived from /etc/machine-id, else from the
/// device-tree serial number: "tether-mid-" or "tether-dts-" plus 24 hex characters of
/// SHA-256("tether-identity:" + value). Hashed because machine-id is meant to stay private;
/// prefixed so it can never equal a MAC (which has colons), and made of characters that are
/// valid in a ShellHub device name. A unit keeps it across reboots as long as machine-id (or
/// the serial) stays, which is the case on read-only and reflashed-with-same-image boards only
/// if the image does not ship a fixed machine-id: set PREFERRED_IDENTITY there.
public struct DeviceIdentity: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        case preferred
        case interface(String)
        case machineID
        case deviceTreeSerial
    }

    public let value: String
    public let source: Source

    public init(value: String, source: Source) {
        self.value = value
        self.source = source
    }

    public static let fallbackHexChars = 24
    public static let machineIDPaths = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
    public static let serialPaths = ["/sys/firmware/devicetree/base/serial-number",
                                     "/proc/device-tree/serial-number"]

    /// Picks the identity; nil when nothing at all is available.
    public static func select(preferred: String? = nil, sysClassNet: String = "/sys/class/net",
                              machineIDPaths: [String] = DeviceIdentity.machineIDPaths,
                              serialPaths: [String] = DeviceIdentity.serialPaths) -> DeviceIdentity? {
        if let p = preferred, !p.isEmpty { return DeviceIdentity(value: p, source: .preferred) }
        if let i = lowestEthernet(sysClassNet: sysClassNet) { return i }
        for path in machineIDPaths {
            if let id = Files.readTrimmed(path), !id.isEmpty {
                return DeviceIdentity(value: "tether-mid-" + digest(id), source: .machineID)
            }
        }
        for path in serialPaths {
            // The device-tree property is NUL-terminated.
            if let s = Files.readTrimmed(path), !s.isEmpty {
                let clean = String(decoding: s.utf8.filter { $0 != 0 }, as: UTF8.self)
                if !clean.isEmpty {
                    return DeviceIdentity(value: "tether-dts-" + digest(clean), source: .deviceTreeSerial)
                }
            }
        }
        return nil
    }

    static func digest(_ value: String) -> String {
        let h = Crypto.sha256(Array(("tether-identity:" + value).utf8))
        return Hex.encode(h[0..<(fallbackHexChars / 2)])
    }

    private static let arphrdEther = "1"
    private static let iffLoopback = 0x8

    /// The type-1, non-loopback interface with the lowest ifindex.
    static func lowestEthernet(sysClassNet: String) -> DeviceIdentity? {
        guard let names = Files.list(sysClassNet) else { return nil }
        var best: (index: Int, name: String, mac: String)? = nil
        for name in names {
            if name.hasPrefix(".") { continue }
            let base = sysClassNet + "/" + name + "/"
            guard Files.readTrimmed(base + "type") == arphrdEther,
                  let indexText = Files.readTrimmed(base + "ifindex"), let index = Int(indexText),
                  let mac = Files.readTrimmed(base + "address"), !mac.isEmpty else { continue }
            if let flags = Files.readTrimmed(base + "flags"), let f = parseHex(flags), f & iffLoopback != 0 {
                continue
            }
            if best == nil || index < best!.index { best = (index, name, lowercase(mac)) }
        }
        guard let b = best else { return nil }
        return DeviceIdentity(value: b.mac, source: .interface(b.name))
    }

    static func parseHex(_ s: String) -> Int? {
        var t = Substring(s)
        if t.hasPrefix("0x") { t = t.dropFirst(2) }
        return Int(t, radix: 16)
    }

    static func lowercase(_ s: String) -> String {
        String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
