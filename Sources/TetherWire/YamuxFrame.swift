/// yamux frame types (hashicorp/yamux v0, `const.go`; PROTOCOL.md 5.2).
public enum YamuxFrameType: UInt8, Equatable {
    case data = 0
    case windowUpdate = 1
    case ping = 2
    case goAway = 3
}

/// yamux header flags.
public struct YamuxFlags: OptionSet, Equatable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let syn = YamuxFlags(rawValue: 0x1)
    public static let ack = YamuxFlags(rawValue: 0x2)
    public static let fin = YamuxFlags(rawValue: 0x4)
    public static let rst = YamuxFlags(rawValue: 0x8)
}

/// GoAway codes carried in the length field.
public enum YamuxGoAwayCode: UInt32, Equatable {
    case normal = 0
    case protocolError = 1
    case internalError = 2
}

/// The 12-byte big-endian yamux header: version, type, flags, stream id, length (payload size for
/// Data, window delta for WindowUpdate, opaque id for Ping, code for GoAway).
public struct YamuxHeader: Equatable {
    public static let size = 12
    public static let version: UInt8 = 0

    public var type: YamuxFrameType
    public var flags: YamuxFlags
    public var streamID: UInt32
    public var length: UInt32

    public init(type: YamuxFrameType, flags: YamuxFlags = [], streamID: UInt32 = 0, length: UInt32 = 0) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    public func encode(into out: inout [UInt8]) {
        out.append(YamuxHeader.version)
        out.append(type.rawValue)
        out.append(UInt8(truncatingIfNeeded: flags.rawValue >> 8))
        out.append(UInt8(truncatingIfNeeded: flags.rawValue))
        YamuxHeader.appendBE(streamID, to: &out)
        YamuxHeader.appendBE(length, to: &out)
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(YamuxHeader.size)
        encode(into: &out)
        return out
    }

    /// Decodes the first 12 bytes of `b` (the caller provides at least 12).
    public static func decode(_ b: ByteBuffer) throws(YamuxError) -> YamuxHeader {
        guard b[0] == version else { throw .unsupportedVersion(b[0]) }
        guard let type = YamuxFrameType(rawValue: b[1]) else { throw .invalidFrameType(b[1]) }
        let flags = UInt16(b[2]) << 8 | UInt16(b[3])
        let id = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        let len = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
        return YamuxHeader(type: type, flags: YamuxFlags(rawValue: flags), streamID: id, length: len)
    }

    public static func decode(_ bytes: [UInt8]) throws(YamuxError) -> YamuxHeader {
        try decode(ByteBuffer(bytes.prefix(size)))
    }

    static func appendBE(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }
}
