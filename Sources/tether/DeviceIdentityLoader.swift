import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// Builds the device's profile at start-up: the key (created when missing), the byte-exact
/// `public_key` string, `identity.mac` and the `info` object (PROTOCOL.md 2).
enum DeviceIdentityLoader {
    static func load(config: AgentConfig, log: Logger) -> Result<DeviceProfile, StartupError> {
        let key: DeviceKey
        do {
            let r = try DeviceKey.loadOrCreate(path: config.privateKeyPath)
            key = r.key
            if r.created { log.info("created device key \(config.privateKeyPath)") }
        } catch {
            return .failure(StartupError("key \(config.privateKeyPath): \(error.message)"))
        }
        let pem: String
        do { pem = try key.publicKeyPEM() } catch { return .failure(StartupError("public key: \(error.message)")) }
        guard let identity = DeviceIdentity.select(preferred: config.preferredIdentity) else {
            return .failure(StartupError("no network identity: set SHELLHUB_PREFERRED_IDENTITY"))
        }
        switch identity.source {
        case .machineID, .deviceTreeSerial:
            log.warning("no Ethernet-type interface: identity \(identity.value)")
        case .preferred, .interface:
            break
        }
        let system = SystemInfo.current()
        let info = DeviceInfo(id: system.id, prettyName: system.prettyName, version: AgentVersion.string,
                              arch: system.arch, platform: system.platform)
        return .success(DeviceProfile(publicKeyPEM: pem, mac: identity.value,
                                      hostname: config.preferredHostname, info: info, key: key))
    }
}

/// A reason the agent cannot start, as one log line.
struct StartupError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
