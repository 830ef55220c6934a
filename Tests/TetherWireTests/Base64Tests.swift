import Testing
@testable import TetherWire

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, coded: String) {
        #expect(String(decoding: Base64.encode(Array(plain.utf8)), as: UTF8.self) == coded)
        #expect(Base64.decode(Array(coded.utf8)) == Array(plain.utf8))
    }

    @Test func rejectsGarbage() {
        #expect(Base64.decode(Array("Zm9v!".utf8)) == nil)
        #expect(Base64.decode(Array("Zg==Zg".utf8)) == nil)
        #expect(Base64.decode(Array("Z".utf8)) == nil)
    }

    @Test func hexWithSeparator() {
        #expect(Hex.encode([0xde, 0xad, 0x01], separator: UInt8(ascii: ":")) == "de:ad:01")
    }
}
