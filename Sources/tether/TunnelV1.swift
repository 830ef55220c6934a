import TetherAgent
import TetherPlatform

/// One v1 control connection: `GET /ssh/connection` with the bearer token; its lines go to
/// the `V1Service`. Closing it leaves the sessions running.
final class TunnelV1: TunnelConnection {
    private let service: V1Service

    init(service: V1Service, context: RuntimeContext, token: String, owner: TunnelOwner) {
        self.service = service
        super.init(context: context, owner: owner, label: "control")
        dial("/ssh/connection", token: token, queue: V1Service.controlQueueBytes)
    }

    override func closing() { service.controlClosed(self) }

    override func opened() { service.controlOpened(self) }

    func send(_ bytes: [UInt8]) -> Bool { link.send(bytes) }
    func ping() { link.sendPing() }

    func deadPeer() {
        fail(.noKeepalive)
    }

    func abandon(_ why: TunnelEnd) {
        if !closed { fail(why) }
    }

    override func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        if !service.controlReceived(bytes) { fail(.garbageOnControl) }
    }

    override func linkPinged(_ link: WebSocketLink) { service.controlPinged() }

    override func linkPonged(_ link: WebSocketLink) { service.controlPinged() }
}
