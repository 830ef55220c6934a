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

    /// The whole check as the connection runs it: the plan, then crypt in a child.
    static func verify(password: String, hash: String, permitEmpty: Bool) -> SSHAuthRefusal? {
        switch PasswordCheck.plan(password: password, hash: hash, permitEmpty: permitEmpty) {
        case .accept: return nil
        case .refuse(let why): return why
        case .crypt:
            switch PasswordChildTests.run(password: password, hash: hash) {
            case .match: return nil
            case .mismatch: return .wrongPassword
            case .unsupported: return .unsupportedHash
            default: return .passwordCheckFailed
            }
        }
    }

    @Test(arguments: vectors.map { $0.1 })
    func acceptsRightPasswordForEachMethod(hash: String) {
        #expect(Self.verify(password: "secret", hash: hash, permitEmpty: false) == nil)
        #expect(Self.verify(password: "Secret", hash: hash, permitEmpty: false) == .wrongPassword)
        #expect(Self.verify(password: "", hash: hash, permitEmpty: true) == .wrongPassword)
    }

    @Test(arguments: ["-1", "-5", "-6"])
    func matchesOpenSSLHashes(method: String) {
        let hash = TestSupport.text(["openssl", "passwd", method, "-salt", "Zq8uX2", "pa:ss w0rd"])
        #expect(hash.hasPrefix("$"))
        #expect(Self.verify(password: "pa:ss w0rd", hash: hash, permitEmpty: false) == nil)
        #expect(Self.verify(password: "pa:ss w0rd ", hash: hash, permitEmpty: false) == .wrongPassword)
    }

    @Test func lockedAndEmptyHashesNeedNoCrypt() {
        for locked in ["!", "!!", "*", "!$6$saltsalt$abc", "x"] {
            #expect(PasswordCheck.plan(password: "secret", hash: locked, permitEmpty: true) == .refuse(.lockedAccount))
        }
        #expect(PasswordCheck.plan(password: "", hash: "", permitEmpty: false) == .refuse(.emptyPasswordNotPermitted))
        #expect(PasswordCheck.plan(password: "", hash: "", permitEmpty: true) == .accept)
        #expect(PasswordCheck.plan(password: "x", hash: "", permitEmpty: true) == .refuse(.emptyPasswordNotPermitted))
    }

    @Test func unsupportedMethodIsRefusedWithoutCrypt() {
        #expect(PasswordCheck.plan(password: "secret", hash: "$9$nope$nope", permitEmpty: false) == .refuse(.unsupportedHash))
        #expect(PasswordCheck.plan(password: "secret", hash: Self.vectors[2].1, permitEmpty: false) == .crypt)
    }

    /// The decoy an unknown user's refusal burns is a hash crypt really computes (a decoy crypt
    /// refuses at once would cost nothing and tell the account is missing).
    @Test func unknownUserRunsTheDecoy() {
        let fallback = PasswordCheck.fallbackDecoy
        #expect(fallback.hasPrefix("$y$"))
        #expect(PasswordCheck.crypt(password: "anything", setting: fallback)?.hasPrefix("$y$j9T$") == true)
        #expect(PasswordCheck.plan(password: "anything", hash: fallback, permitEmpty: false) == .crypt)
        // A decoy's child never matches, even the hash's own password.
        #expect(PasswordChildTests.run(password: "secret", hash: Self.vectors[2].1, decoy: true) == .mismatch)
    }
}
