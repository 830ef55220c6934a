import Testing
@testable import TetherWire

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct ShellHubAPITests {
    static let pem = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA+/x=\n-----END RSA PUBLIC KEY-----\n"

    @Test func deviceAuthRequestFull() {
        let req = DeviceAuthRequest(
            info: DeviceInfo(id: "debian", prettyName: "Debian GNU/Linux 12 (bookworm)",
                             version: "v0.27.0", arch: "arm64"),
            hostname: "board-17", mac: "aa:bb:cc:dd:ee:ff", publicKey: Self.pem,
            tenantID: "3f0f1b1e-0000-4000-8000-000000000001", installKey: "ik")
        let expected = #"{"info":{"id":"debian","pretty_name":"Debian GNU/Linux 12 (bookworm)","version":"v0.27.0","arch":"arm64","platform":"native"},"hostname":"board-17","identity":{"mac":"aa:bb:cc:dd:ee:ff"},"public_key":"-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA+/x=\n-----END RSA PUBLIC KEY-----\n","tenant_id":"3f0f1b1e-0000-4000-8000-000000000001","install_key":"ik"}"#
        #expect(text(req.encode()) == expected)
    }

    @Test func deviceAuthRequestOmitsEmpty() throws {
        let req = DeviceAuthRequest(
            info: DeviceInfo(id: "", prettyName: "", version: "1.0.0", arch: "arm"),
            mac: "", publicKey: Self.pem, tenantID: "t", sessions: ["s1", "s2"])
        let v = try JSONReader.parse(req.encode())
        #expect(v["hostname"] == nil)
        #expect(v["install_key"] == nil)
        #expect(v["identity"]?["mac"]?.string == "")  // identity always present
        #expect(v["info"]?["id"]?.string == "")
        #expect(v["sessions"]?[1]?.string == "s2")
        #expect(v["public_key"]?.string == Self.pem)
    }

    @Test func deviceAuthRequestWithProofAndProvisioningKey() throws {
        var req = DeviceAuthRequest(
            info: DeviceInfo(id: "debian", prettyName: "Debian", version: "1.0.0", arch: "arm64"),
            mac: "m", publicKey: Self.pem, tenantID: "", installKey: "pk", provisioningKey: "pk",
            challenge: "K3VZ", signature: "c2ln")
        let v = try JSONReader.parse(req.encode())
        // A provisioning key without a tenant: tenant_id omitted, the server resolves it.
        #expect(v["tenant_id"] == nil)
        #expect(v["provisioning_key"]?.string == "pk")
        #expect(v["install_key"]?.string == "pk")
        #expect(v["challenge"]?.string == "K3VZ")
        #expect(v["signature"]?.string == "c2ln")
        // Without a key, tenant_id is always sent (the server requires it).
        req.provisioningKey = ""
        req.installKey = ""
        let w = try JSONReader.parse(req.encode())
        #expect(w["tenant_id"]?.string == "")
        #expect(w["provisioning_key"] == nil)
    }

    @Test func deviceKeyProofEncoding() throws {
        // SSH strings: uint32 big-endian length, then the bytes; a member omitted is empty.
        let m = DeviceKeyProof.statement(challenge: "C", tenantID: "", provisioningKey: "é", publicKey: "P")
        let expected: [UInt8] = [0, 0, 0, 23] + Array("shellhub-device-auth-v1".utf8)
            + [0, 0, 0, 1, 0x43] + [0, 0, 0, 0] + [0, 0, 0, 2, 0xC3, 0xA9] + [0, 0, 0, 1, 0x50]
        #expect(m == expected)
        let field = DeviceKeyProof.signatureField(rsaSignature: [1, 2, 3])
        let blob = Base64.decode(Array(field.utf8))!
        #expect(blob == [0, 0, 0, 12] + Array("rsa-sha2-256".utf8) + [0, 0, 0, 3, 1, 2, 3])
        #expect(try DeviceAuthChallenge.parse(bytes(#"{"challenge":"K3","expires_in":60}"#))
                == DeviceAuthChallenge(challenge: "K3", expiresIn: 60))
        #expect(throws: ShellHubAPIError.missingField("challenge")) {
            try DeviceAuthChallenge.parse(bytes(#"{"expires_in":60}"#))
        }
    }

    @Test func deviceAuthResponse() throws {
        let body = #"{"uid":"ab12","token":"eyJ.x.y","name":"board-17","namespace":"acme","status":"accepted","config":{"yamux_enable_keep_alive":true},"extra":[1,2]}"#
        let r = try DeviceAuthResponse.parse(bytes(body))
        #expect(r == DeviceAuthResponse(uid: "ab12", token: "eyJ.x.y", name: "board-17",
                                        namespace: "acme", status: "accepted"))
        // Cache hit: no status; newer server: tenant_id.
        let r2 = try DeviceAuthResponse.parse(bytes(#"{"uid":"u","token":"t","name":"n","namespace":"ns","tenant_id":"x"}"#))
        #expect(r2.status == nil)
        #expect(r2.tenantID == "x")
        #expect(throws: ShellHubAPIError.missingField("token")) {
            try DeviceAuthResponse.parse(bytes(#"{"uid":"u"}"#))
        }
        #expect(throws: ShellHubAPIError.missingField("uid")) {
            try DeviceAuthResponse.parse(bytes(#"{"uid":null,"token":"t"}"#))
        }
        #expect(throws: ShellHubAPIError.wrongType("uid")) {
            try DeviceAuthResponse.parse(bytes(#"{"uid":5,"token":"t"}"#))
        }
        #expect(throws: ShellHubAPIError.notAnObject) { try DeviceAuthResponse.parse(bytes("[]")) }
        #expect(throws: ShellHubAPIError.json(.unexpectedEnd)) { try DeviceAuthResponse.parse(bytes("{")) }
    }

    @Test func serverInfo() throws {
        let body = #"{"version":"v0.27.0-rc.6","endpoints":{"api":"hub.example.com:8080","ssh":"hub.example.com:22"},"setup":true,"authentication":{"local":true}}"#
        let i = try ServerInfo.parse(bytes(body))
        #expect(i == ServerInfo(version: "v0.27.0-rc.6", apiEndpoint: "hub.example.com:8080",
                                sshEndpoint: "hub.example.com:22"))
        #expect(try ServerInfo.parse(bytes("{}")) == ServerInfo())
        #expect(throws: ShellHubAPIError.wrongType("endpoints")) {
            try ServerInfo.parse(bytes(#"{"endpoints":"x"}"#))
        }
    }

    @Test func sshAuth() throws {
        let req = SSHAuthRequest(fingerprint: "de:ad:be:ef", data: PublicKeyAuthData(username: "root", deviceName: "board-17").text)
        #expect(text(req.encode()) == #"{"fingerprint":"de:ad:be:ef","data":"{\"Username\":\"root\",\"Namespace\":\"board-17\"}"}"#)
        #expect(try SSHAuthResponse.parse(bytes(#"{"signature":"AQID"}"#)).signature == [1, 2, 3])
        #expect(throws: ShellHubAPIError.invalidValue("signature")) {
            try SSHAuthResponse.parse(bytes(#"{"signature":"!!"}"#))
        }
    }

    @Test func publicKeyAuthData() {
        #expect(PublicKeyAuthData(username: "pi", deviceName: "dev").text == #"{"Username":"pi","Namespace":"dev"}"#)
        #expect(PublicKeyAuthData(username: "a\"<b", deviceName: "d").text == #"{"Username":"a\"\u003cb","Namespace":"d"}"#)
    }

    @Test func streamHeaders() throws {
        let uid = String(repeating: "ab", count: 32)
        let open = try StreamHeader.parse(bytes("{\"id\":\"\(uid)\"}\n"))
        #expect(open == StreamHeader(id: uid))
        #expect(open.encode() == bytes("{\"id\":\"\(uid)\"}\n"))
        #expect(open.encode().count == 74)  // PROTOCOL.md Appendix A: Data/0/1/74
        let proxy = try StreamHeader.parse(bytes(#"{"id":"r1","host":"127.0.0.1","port":"8080"}"#))
        #expect(proxy.host == "127.0.0.1")
        #expect(proxy.portNumber == 8080)
        #expect(StreamHeader(id: "x", port: "0").portNumber == nil)
        #expect(StreamHeader(id: "x", port: "65536").portNumber == nil)
        #expect(StreamHeader(id: "x", port: "80a").portNumber == nil)
        #expect(throws: ShellHubAPIError.missingField("id")) { try StreamHeader.parse(bytes("{}")) }
    }

    @Test func proxyReplies() {
        #expect(text(ProxyReply.ok.encode()) == "{\"status\":\"ok\"}\n")
        #expect(text(ProxyReply.error("dial tcp: refused").encode()) == "{\"error\":\"dial tcp: refused\"}\n")
    }
}
