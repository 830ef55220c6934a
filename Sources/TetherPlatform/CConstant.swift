/// Some libc constants import differently per libc: glibc declares `SOCK_STREAM` & co. as a C
/// enum (a Swift struct with `rawValue`), musl as plain macros (`Int32`). `cInt` takes either,
/// so one source compiles for the host (glibc) and the boards (musl).
@inline(__always) func cInt(_ value: Int32) -> Int32 { value }

@inline(__always) func cInt<T: RawRepresentable>(_ value: T) -> Int32 where T.RawValue: BinaryInteger {
    Int32(truncatingIfNeeded: value.rawValue)
}
