import Testing
@testable import TetherSSH

@Suite struct PasswordCheckTests {
    // Hashes of "secret" computed by libxcrypt (Python's crypt) once; the $1$/$5$/$6$ ones are
    // re-derived with OpenSSL at test time below, an independent implementation.
    static let vectors: [(String, String)] = [
        ("$1$", "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"),
        ("$5$", "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA"),
        ("$6$", "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"),
        ("$y$", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0"),
    ]

    @Test(arguments: vectors.map { $0.1 })
    func acceptsRightPasswordForEachMethod(hash: String) {
        #expect(PasswordCheck.verify(password: "secret", hash: hash, permitEmpty: false) == nil)
        #expect(PasswordCheck.verify(password: "Secret", hash: hash, permitEmpty: false) == .wrongPassword)
        #expect(PasswordCheck.verify(password: "", hash: hash, permitEmpty: true) == .wrongPassword)
    }

    @Test(arguments: ["-1", "-5", "-6"])
    func matchesOpenSSLHashes(method: String) {
        let hash = TestSupport.text(["openssl", "passwd", method, "-salt", "Zq8uX2", "pa:ss w0rd"])
        #expect(hash.hasPrefix("$"))
        #expect(PasswordCheck.verify(password: "pa:ss w0rd", hash: hash, permitEmpty: false) == nil)
        #expect(PasswordCheck.verify(password: "pa:ss w0rd ", hash: hash, permitEmpty: false) == .wrongPassword)
    }

    @Test func lockedAndEmptyHashes() {
        for locked in ["!", "!!", "*", "!$6$saltsalt$abc", "x"] {
            #expect(PasswordCheck.verify(password: "secret", hash: locked, permitEmpty: true) == .lockedAccount)
        }
        #expect(PasswordCheck.verify(password: "", hash: "", permitEmpty: false) == .emptyPasswordNotPermitted)
        #expect(PasswordCheck.verify(password: "", hash: "", permitEmpty: true) == nil)
        #expect(PasswordCheck.verify(password: "x", hash: "", permitEmpty: true) == .emptyPasswordNotPermitted)
    }

    @Test func unsupportedMethodIsRefused() {
        #expect(PasswordCheck.verify(password: "secret", hash: "$9$nope$nope", permitEmpty: false) == .unsupportedHash)
    }

    @Test func constantTimeCompare() {
        #expect(PasswordCheck.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!PasswordCheck.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!PasswordCheck.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!PasswordCheck.constantTimeEqual([], [0]))
        // Lengths differing by a multiple of 256 with a common prefix are not equal.
        let long = [UInt8](repeating: 0x61, count: 256)
        #expect(!PasswordCheck.constantTimeEqual(long, []))
        #expect(!PasswordCheck.constantTimeEqual([1] + long, [1]))
        #expect(!PasswordCheck.constantTimeEqual([UInt8](repeating: 0x61, count: 512), long))
    }

    /// The decoy an unknown user's refusal burns is a hash crypt really computes (a decoy crypt
    /// refuses at once would cost nothing and tell the account is missing).
    @Test func unknownUserRunsTheDecoy() {
        let fallback = PasswordCheck.fallbackDecoy
        #expect(fallback.hasPrefix("$y$"))
        #expect(PasswordCheck.crypt(password: "anything", setting: fallback)?.hasPrefix("$y$j9T$") == true)
        #expect(PasswordCheck.verify(password: "anything", hash: fallback, permitEmpty: false) == .wrongPassword)
        #expect(PasswordCheck.refuseUnknownUser(password: "secret", decoy: nil) == .unknownUser)
        #expect(PasswordCheck.refuseUnknownUser(password: "secret", decoy: Self.vectors[2].1) == .unknownUser)
    }
}
