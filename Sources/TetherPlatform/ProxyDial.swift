/// Why a `ProxyDial` gave up, in words for the server.
public struct ProxyDialError: Error {
    public let message: String
    public init(message: String) { self.message = message }
}

/// The TCP connection of a proxied session slot (`/http/proxy/1.0.0`, v1 `CONNECT`): resolve,
/// dial without blocking, then hand the connected socket to an `FdPump` with `initial` already
/// delivered. `completion` runs once, from the loop, with the pump or the error; never after
/// `cancel()`.
public final class ProxyDial {
    private var connector: TCPConnector?
    private var completion: ((Result<FdPump, ProxyDialError>) -> Void)?

    public init(loop: EventLoop, resolver: Resolver, tag: Int, host: String, port: UInt16,
                initial: [UInt8], owner: FdPumpOwner,
                completion: @escaping (Result<FdPump, ProxyDialError>) -> Void) {
        self.completion = completion
        resolver.resolve(host: host, port: port) { [self] result in
            guard self.completion != nil else { return }
            switch result {
            case .failure(let e):
                finish(.failure(ProxyDialError(message: e.message)))
            case .success(let addresses):
                let c = TCPConnector(loop: loop, addresses: addresses) { [self] r in
                    connector = nil
                    switch r {
                    case .failure(let e):
                        finish(.failure(ProxyDialError(message: e.message)))
                    case .success(let fd):
                        connected(fd, loop: loop, tag: tag, initial: initial, owner: owner)
                    }
                }
                connector = c
                c.start()
            }
        }
    }

    public func cancel() {
        completion = nil
        connector?.cancel()
        connector = nil
    }

    private func connected(_ fd: Int32, loop: EventLoop, tag: Int, initial: [UInt8], owner: FdPumpOwner) {
        guard completion != nil else {  // cancelled meanwhile
            Socket.close(fd)
            return
        }
        guard let pump = FdPump(loop: loop, fd: fd, tag: tag, owner: owner) else {
            Socket.close(fd)
            return finish(.failure(ProxyDialError(message: "agent busy")))
        }
        if !initial.isEmpty { pump.deliver(initial) }
        finish(.success(pump))
    }

    private func finish(_ r: Result<FdPump, ProxyDialError>) {
        guard let done = completion else { return }
        completion = nil
        done(r)
    }
}
