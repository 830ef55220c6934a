import Testing
@testable import TetherAgent

@Suite struct AgentVersionTests {
    /// ShellHub refuses public-key logins below 0.6.0 and force-closes exec channels below
    /// 0.9.3 (PROTOCOL.md section 10): the reported version must stay at or above 0.9.3.
    @Test func versionIsSemverAtLeast093() {
        let parts = AgentVersion.string.split(separator: ".").map { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.allSatisfy { $0 != nil })
        let v = parts.compactMap { $0 }
        #expect((v[0], v[1], v[2]) >= (0, 9, 3))
    }
}
