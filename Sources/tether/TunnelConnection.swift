import TetherPlatform

/// What the v1 control connection and the v2 tunnel share: one WebSocket to the server with
/// the bearer token, whether it came up, and its end told to the runtime once. Subclasses
/// handle the bytes and say what rides on the connection (`opened`, `closing`).
class TunnelConnection: Tunnel, WebSocketLinkDelegate {
    let ctx: RuntimeContext
    private unowned(unsafe) let owner: TunnelOwner
    /// Names the connection in its log lines (and its link's).
    private let label: String
    private(set) var link: WebSocketLink!
    private var up = false
    private(set) var closed = false

    init(context: RuntimeContext, owner: TunnelOwner, label: String) {
        ctx = context
        self.owner = owner
        self.label = label
    }

    /// Dials `path`; a subclass calls it last in its init, as the link may end at once.
    final func dial(_ path: String, token: String, queue: Int) {
        link = WebSocketLink(context: ctx, target: ctx.target(path), bearer: token, label: label,
                             queue: queue, delegate: self)
        link.start()
    }

    final func close() {
        guard !closed else { return }
        closed = true
        closing()
        link?.close()
    }

    final func fail(_ end: TunnelEnd) {
        let wasUp = up
        close()
        owner.tunnelDown(self, end, wasUp: wasUp)
    }

    /// The upgrade succeeded (before the runtime hears it).
    func opened() {}
    /// The connection is being closed: end what rides on it.
    func closing() {}

    // MARK: WebSocketLinkDelegate

    final func linkOpened(_ link: WebSocketLink) {
        up = true
        opened()
        owner.tunnelUp(self)
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {}
    func linkPinged(_ link: WebSocketLink) {}
    func linkPonged(_ link: WebSocketLink) {}
    func linkDrained(_ link: WebSocketLink) {}

    final func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) { fail(.link(end)) }

    final func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        ctx.log.info(label + ": redirected (" + String(status) + ") to " + location)
    }
}
