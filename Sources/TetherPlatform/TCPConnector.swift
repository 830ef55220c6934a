import CShims

/// Connects to the first reachable address of a list without blocking: each attempt is a
/// non-blocking connect watched for writability, bounded by `attemptTimeoutMilliseconds`;
/// a refused or timed-out address moves on to the next. The completion runs once, from the
/// loop, with the connected fd (caller owns it) or the last error.
public final class TCPConnector: IOHandler {
    public static let defaultAttemptTimeoutMilliseconds: UInt64 = 10_000

    private let loop: EventLoop
    private let addresses: [SocketAddress]
    private let attemptTimeout: UInt64
    private var completion: ((Result<Int32, SocketError>) -> Void)?
    private var index = 0
    private var fd: Int32 = -1
    private var timer = TimerToken.none
    private var lastError = SocketError.cancelled

    public init(loop: EventLoop, addresses: [SocketAddress],
                attemptTimeoutMilliseconds: UInt64 = TCPConnector.defaultAttemptTimeoutMilliseconds,
                completion: @escaping (Result<Int32, SocketError>) -> Void) {
        self.loop = loop
        self.addresses = addresses
        self.attemptTimeout = attemptTimeoutMilliseconds
        self.completion = completion
    }

    /// Starts the first attempt. The completion may run before this returns (loopback).
    public func start() {
        index = 0
        if addresses.isEmpty {
            finish(.failure(.noAddresses(host: "")))
            return
        }
        attempt()
    }

    /// Abandons the attempt; the completion is not called.
    public func cancel() {
        completion = nil
        teardown(closeFd: true)
    }

    public var isFinished: Bool { completion == nil }

    private func attempt() {
        while index < addresses.count {
            let address = addresses[index]
            do {
                let r = try Socket.startConnect(to: address)
                if r.connected {
                    let ok = r.fd
                    finish(.success(ok))
                    return
                }
                fd = r.fd
                do {
                    try loop.register(fd: fd, interest: .writable, handler: self)
                } catch {
                    teardown(closeFd: true)
                    lastError = .socketFailed(EMFILE)
                    index += 1
                    continue
                }
                do {
                    timer = try loop.schedule(afterMilliseconds: attemptTimeout) { [self] in
                        timedOut()
                    }
                } catch {
                    // No deadline for any attempt: give up rather than wait for ever.
                    teardown(closeFd: true)
                    lastError = .noTimer
                    break
                }
                return
            } catch {
                lastError = error
                index += 1
            }
        }
        finish(.failure(lastError))
    }

    private func timedOut() {
        timer = .none
        lastError = .connectTimedOut(address: addresses[index].text)
        teardown(closeFd: true)
        index += 1
        attempt()
    }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        guard fd == self.fd else { return }
        let e = Socket.connectResult(fd)
        if e == 0 {
            let ok = fd
            teardown(closeFd: false)
            finish(.success(ok))
            return
        }
        lastError = .connectFailed(address: addresses[index].text, errno: e)
        teardown(closeFd: true)
        index += 1
        attempt()
    }

    private func teardown(closeFd: Bool) {
        loop.cancel(timer)
        timer = .none
        if fd >= 0 {
            loop.unregister(fd: fd)
            if closeFd { Socket.close(fd) }
            fd = -1
        }
    }

    private func finish(_ result: Result<Int32, SocketError>) {
        guard let c = completion else {
            if case .success(let fd) = result { Socket.close(fd) }
            return
        }
        completion = nil
        c(result)
    }
}
