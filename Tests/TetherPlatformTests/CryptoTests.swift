import Testing
import TetherWire
@testable import TetherPlatform

@Suite struct CryptoTests {
    @Test func sha256Abc() {
        #expect(Hex.encode(Crypto.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func mbedTLSIs228() {
        #expect(Crypto.mbedTLSVersion.hasPrefix("2.28."))
    }
}
