import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// Builds the device's profile at start-up: the key (created when missing), the byte-exact
/// `public_key` string, `identity.mac` and the `info` object (PROTOCOL.md 2).
enum DeviceIdentityLoader {
    static func load(config: AgentConfig, log: Logger) -> Result<DeviceProfile, StartupError> {
        let key: DeviceKey
        let path = config.privateKeyPath
        do {
            if Files.exists(path) {
                key = try DeviceKey.load(path: path)
            } else {
                key = try DeviceKey.generate()
                keepUntilSaved(key, path: path, log: log)
                log.info("created device key " + path)
            }
        } catch {
            return .failure(StartupError("key " + path + ": " + error.message))
        }
        let pem: String
        do { pem = try key.publicKeyPEM() } catch { return .failure(StartupError("public key: " + String(error.message))) }
        guard let identity = DeviceIdentity.select(preferred: config.preferredIdentity) else {
            return .failure(StartupError("no network identity: set SHELLHUB_PREFERRED_IDENTITY"))
        }
        switch identity.source {
        case .machineID, .deviceTreeSerial:
            log.warning("no Ethernet-type interface: identity " + String(identity.value))
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

extension DeviceIdentityLoader {
    /// A new key is used only once it is saved: a key that is not kept would make the device a
    /// new one after every restart (and a supervisor that respawns an agent which exits on a
    /// full or read-only disk would have it generate a key, at seconds of CPU on a small board,
    /// each time). So the agent stays up, says so once, and tries again with backoff
    /// (1 s doubling to 60 s) until the path takes it; a signal ends the wait.
    static func keepUntilSaved(_ key: DeviceKey, path: String, log: Logger) {
        var delay: UInt32 = 1
        var said = false
        while true {
            do {
                try key.save(to: path)
                if said { log.info("device key saved at last: " + path) }
                return
            } catch {
                if !said {
                    // The reason (with the path) last: a long path is what the line limit cuts.
                    log.error("device key: cannot save it, retrying (offline until kept): " + error.message)
                    said = true
                }
            }
            _ = sleep(delay)
            delay = min(delay * 2, 60)
        }
    }
}

/// A reason the agent cannot start, as one log line.
struct StartupError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
