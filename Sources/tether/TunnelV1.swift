import TetherAgent
import TetherPlatform

/// One v1 control connection: `GET /ssh/connection` with the bearer token; its lines go to
/// the `V1Service`. Closing it leaves the sessions running.
final class TunnelV1: Tunnel, WebSocketLinkDelegate {
    private let service: V1Service
    private let ctx: RuntimeContext
    private unowned(unsafe) let owner: TunnelOwner
    private var link: WebSocketLink!
    private var up = false
    private var closed = false

    init(service: V1Service, context: RuntimeContext, token: String, owner: TunnelOwner) {
        self.service = service
        ctx = context
        self.owner = owner
        link = WebSocketLink(context: context, target: context.target("/ssh/connection"),
                             bearer: token, label: "control", queue: V1Service.controlQueueBytes, delegate: self)
        link.start()
    }

    func close() {
        guard !closed else { return }
        closed = true
        link.close()
        service.controlClosed(self)
    }

    func send(_ bytes: [UInt8]) -> Bool { link.send(bytes) }
    func ping() { link.sendPing() }

    func deadPeer() {
        fail(.noKeepalive)
    }

    func abandon(_ why: TunnelEnd) {
        if !closed { fail(why) }
    }

    private func fail(_ end: TunnelEnd) {
        let wasUp = up
        close()
        owner.tunnelDown(self, end, wasUp: wasUp)
    }

    func linkOpened(_ link: WebSocketLink) {
        up = true
        service.controlOpened(self)
        owner.tunnelUp(self)
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        if !service.controlReceived(bytes) { fail(.garbageOnControl) }
    }

    func linkPinged(_ link: WebSocketLink) { service.controlPinged() }

    func linkPonged(_ link: WebSocketLink) { service.controlPinged() }
    func linkDrained(_ link: WebSocketLink) {}

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) { fail(.link(end)) }

    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        ctx.log.info("control: redirected (" + String(status) + ") to " + location)
    }
}
