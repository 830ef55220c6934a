import Testing
@testable import TetherAgent

@Suite struct TenantFileTests {
    let t = "00000000-0000-4000-0000-000000000000"

    @Test func roundTrip() {
        #expect(TenantFile.path(forKey: "/etc/shellhub.key") == "/etc/shellhub.key.tenant")
        #expect(TenantFile.encode(t) == Array((t + "\n").utf8))
        #expect(TenantFile.parse(t + "\n") == t)
        #expect(TenantFile.parse("  \(t)\r\n") == t)
        #expect(TenantFile.parse("\n") == nil)
        #expect(TenantFile.parse("") == nil)
    }

    @Test func configurationWins() {
        #expect(TenantFile.resolve(configured: t, persisted: nil)
            == TenantFile.Choice(tenant: t, source: .configuration, conflict: false))
        #expect(TenantFile.resolve(configured: t, persisted: "other")
            == TenantFile.Choice(tenant: t, source: .configuration, conflict: true))
        #expect(TenantFile.resolve(configured: "", persisted: "p")
            == TenantFile.Choice(tenant: "p", source: .pairing, conflict: false))
        #expect(TenantFile.resolve(configured: "", persisted: nil).source == .none)
        #expect(TenantFile.forgetOnRemoval(.pairing))
        #expect(!TenantFile.forgetOnRemoval(.configuration))
    }
}
