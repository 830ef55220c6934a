import TetherAgent
import TetherPlatform
import TetherWire

/// One device auth as newer servers want it (docs/protocol-changes.md): a challenge from
/// `POST /api/devices/auth/challenge`, signed with the device key (rsa-sha2-256, mbedTLS
/// PKCS#1 v1.5 SHA-256), sent with `POST /api/devices/auth`. A server without the endpoint
/// (4xx on it: v0.27.0-rc.6 and older) gets the unsigned request, said once per process; an
/// unsigned request refused with 403 makes the next auth ask for a challenge again (the
/// server was upgraded, or requires the proof). The completion runs once, never after
/// `cancel()`.
final class DeviceAuthFlow {
    private let ctx: RuntimeContext
    private var challengeCall: DeviceAPICall?
    private var authCall: DeviceAuthCall?
    private var completion: ((DeviceAuthVerdict, DeviceAuthResponse?, String?) -> Void)?

    init(context: RuntimeContext, completion: @escaping (DeviceAuthVerdict, DeviceAuthResponse?, String?) -> Void) {
        ctx = context
        self.completion = completion
        guard ctx.proofOffered else {
            send(challenge: nil)
            return
        }
        challengeCall = DeviceAPICall(context: ctx, endpoint: .challenge) { [self] answer, failure in
            self.challengeCall = nil
            switch ChallengeOutcome(answer) {
            case .challenge(let c):
                self.send(challenge: c)
            case .notOffered(let status):
                self.ctx.proofOffered = false
                if !self.ctx.proofFallbackSaid {
                    self.ctx.proofFallbackSaid = true
                    self.ctx.log.info("auth: no device key proof on this server (" + String(status)
                                      + " on challenge); unsigned")
                }
                self.send(challenge: nil)
            case .failed(let verdict):
                self.finish(verdict, nil, failure)
            }
        }
        challengeCall?.start()
    }

    func cancel() {
        completion = nil
        challengeCall?.cancel()
        challengeCall = nil
        authCall?.cancel()
        authCall = nil
    }

    private func send(challenge: String?) {
        var request = ctx.deviceAuthRequest()
        if let challenge {
            do {
                let rsa = try ctx.identity.key.signSHA256(request.proofStatement(challenge: challenge))
                request.challenge = challenge
                request.signature = DeviceKeyProof.signatureField(rsaSignature: rsa)
            } catch {
                ctx.log.warning("auth: cannot sign the challenge (" + error.message + "); unsigned")
            }
        }
        let signed = !request.signature.isEmpty
        authCall = DeviceAuthCall(context: ctx, request: request) { [self] verdict, response, failure in
            self.authCall = nil
            if !signed, verdict == .retry(.refused(403), retryAfter: nil) { self.ctx.proofOffered = true }
            self.finish(verdict, response, failure)
        }
        authCall?.start()
    }

    private func finish(_ verdict: DeviceAuthVerdict, _ response: DeviceAuthResponse?, _ failure: String?) {
        guard let done = completion else { return }
        completion = nil
        done(verdict, response, failure)
    }
}

extension RuntimeContext {
    /// The unsigned `/api/devices/auth` body. The provisioning key goes out under both its
    /// names: `install_key` (v0.27.0-rc.6 and older) and `provisioning_key` (newer); each
    /// server reads its own and ignores the other. Without a tenant (provisioning key alone),
    /// `tenant_id` is omitted and the server resolves it from the key.
    func deviceAuthRequest() -> DeviceAuthRequest {
        let id = identity
        return DeviceAuthRequest(
            info: id.info, hostname: id.hostname, mac: id.mac, publicKey: id.publicKeyPEM,
            tenantID: tenant, installKey: config.provisioningKey, provisioningKey: config.provisioningKey)
    }
}
