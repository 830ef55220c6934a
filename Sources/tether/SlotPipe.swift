import CShims
import TetherPlatform

/// What a `SlotPipe` tells its tunnel.
protocol SlotPipeOwner: AnyObject {
    /// How many bytes the tunnel can take from this slot now (0 = stop reading).
    func pipeSendRoom(_ slot: Int) -> Int
    /// Bytes read from the local end, to go to the server (never more than the room).
    func pipe(_ slot: Int, produced bytes: UnsafeRawBufferPointer)
    /// `count` bytes from the server reached the local end (window credit).
    func pipe(_ slot: Int, wrote count: Int)
    /// The local end finished (EOF, error, or the local program ended); called once.
    func pipeEnded(_ slot: Int, reason: String)
}

/// The local end of a session slot: a non-blocking fd (one end of a socketpair whose other
/// end is the slot's SSH server session, or the TCP socket of a proxied connection) pumped by
/// the event loop. Reads stop while the tunnel has no room (window, queue); writes are queued
/// and bounded by what the server may send (the yamux window of 256 KiB per stream).
final class SlotPipe: IOHandler {
    static let readChunk = 16 * 1024

    let slot: Int
    private let loop: EventLoop
    private(set) var fd: Int32
    private unowned(unsafe) let owner: SlotPipeOwner
    private var outgoing: [UInt8] = []
    private var outgoingStart = 0
    private var readPaused = false
    private var remoteFinished = false
    private var ended = false

    init?(loop: EventLoop, fd: Int32, slot: Int, owner: SlotPipeOwner) {
        self.loop = loop
        self.fd = fd
        self.slot = slot
        self.owner = owner
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            return nil
        }
    }

    /// Bytes from the server for the local end.
    func deliver(_ bytes: [UInt8]) {
        guard !ended else { return }
        outgoing.append(contentsOf: bytes)
        flush()
    }

    /// The server will send no more (FIN): shut down our write side once the queue drains.
    func remoteClosed() {
        remoteFinished = true
        if pendingOut == 0, fd >= 0 { _ = shutdown(fd, Int32(SHUT_WR)) }
    }

    /// The tunnel has room again: resume reading.
    func resume() {
        guard readPaused, !ended else { return }
        readPaused = false
        updateInterest()
        readAvailable()
    }

    /// Tears down without telling the owner (the tunnel already knows).
    func terminate() {
        guard !ended else { return }
        ended = true
        release()
    }

    /// Bytes from the server not yet written to the local end.
    var pendingOut: Int { outgoing.count - outgoingStart }

    private func release() {
        if fd >= 0 {
            loop.unregister(fd: fd)
            Socket.close(fd)
            fd = -1
        }
        outgoing = []
        outgoingStart = 0
    }

    private func end(_ reason: String) {
        guard !ended else { return }
        ended = true
        release()
        owner.pipeEnded(slot, reason: reason)
    }

    private func updateInterest() {
        guard fd >= 0 else { return }
        var interest: IOEvents = readPaused ? [] : .readable
        if pendingOut > 0 { interest.insert(.writable) }
        // Fails only for an fd that is not registered; this one is from start to release.
        try? loop.setInterest(fd: fd, interest)
    }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        if events.contains(.writable) { flush() }
        if !ended && (events.contains(.readable) || events.contains(.hangup)) { readAvailable() }
    }

    private func flush() {
        var wrote = 0
        while !ended && pendingOut > 0 {
            let r = outgoing.withUnsafeBytes { all in
                Socket.write(fd, from: UnsafeRawBufferPointer(rebasing: all[outgoingStart...]))
            }
            switch r {
            case .bytes(let n):
                outgoingStart += n
                wrote += n
            case .wouldBlock:
                break
            case .closed:
                end("local end closed")
                return
            case .failed(let e):
                end(Errno.text(e))
                return
            }
            if case .wouldBlock = r { break }
        }
        if pendingOut == 0 {
            outgoing.removeAll(keepingCapacity: outgoing.capacity <= 64 * 1024)
            outgoingStart = 0
            if remoteFinished, fd >= 0 { _ = shutdown(fd, Int32(SHUT_WR)) }
        } else if outgoingStart > 64 * 1024 {
            outgoing.removeFirst(outgoingStart)
            outgoingStart = 0
        }
        updateInterest()
        if wrote > 0 { owner.pipe(slot, wrote: wrote) }
    }

    private func readAvailable() {
        let buffer = SlotPipe.scratch
        while !ended {
            let room = owner.pipeSendRoom(slot)
            if room <= 0 {
                readPaused = true
                updateInterest()
                return
            }
            let want = min(room, buffer.count)
            switch Socket.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])) {
            case .bytes(let n):
                owner.pipe(slot, produced: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            case .wouldBlock:
                return
            case .closed:
                end("local end finished")
                return
            case .failed(let e):
                end(Errno.text(e))
                return
            }
        }
    }

    nonisolated(unsafe) private static let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: SlotPipe.readChunk, alignment: 8)
}

/// Starting a slot's local end, the same for both transports.
enum SlotStart {
    /// An SSH session: a bounded socketpair whose one end the session server takes and whose
    /// other end becomes the slot's pipe. nil (logged) when it cannot start.
    static func ssh(_ ctx: RuntimeContext, sessions: SessionServer?, slot: Int, sessionID: String,
                    initial: [UInt8], owner: SlotPipeOwner) -> SlotPipe? {
        var pair: [Int32] = [-1, -1]
        let rc = sessions == nil ? 0 : pair.withUnsafeMutableBufferPointer { tether_socketpair_nonblock($0.baseAddress) }
        guard let sessions, rc == 0 else {
            ctx.log.error("session " + String(sessionID.prefix(12)) + ": cannot start SSH"
                          + (rc < 0 ? ": socketpair: " + Errno.text(-rc) : ""))
            return nil
        }
        guard let pipe = SlotPipe(loop: ctx.loop, fd: pair[0], slot: slot, owner: owner),
              sessions.startSession(fd: pair[1], sessionID: sessionID)
        else {
            Socket.close(pair[0])
            Socket.close(pair[1])
            ctx.log.error("session " + String(sessionID.prefix(12)) + ": cannot start SSH")
            return nil
        }
        ctx.log.info("session " + String(sessionID.prefix(12)) + " opened in slot " + String(slot))
        if !initial.isEmpty { pipe.deliver(initial) }
        return pipe
    }
}

/// The TCP connection of a proxied slot (`/http/proxy/1.0.0`, v1 `CONNECT`): resolve, dial
/// without blocking, then hand the connected socket to a `SlotPipe`. `completion` runs once
/// with the pipe or the error text for the server; never after `cancel()`.
final class ProxyDial {
    private var connector: TCPConnector?
    private var completion: ((Result<SlotPipe, ProxyDialError>) -> Void)?

    init(_ ctx: RuntimeContext, slot: Int, host: String, port: UInt16, initial: [UInt8],
         owner: SlotPipeOwner, completion: @escaping (Result<SlotPipe, ProxyDialError>) -> Void) {
        self.completion = completion
        ctx.resolver.resolve(host: host, port: port) { [self] result in
            guard self.completion != nil else { return }
            switch result {
            case .failure(let e):
                finish(.failure(ProxyDialError(message: e.message)))
            case .success(let addresses):
                let c = TCPConnector(loop: ctx.loop, addresses: addresses) { [self] r in
                    connector = nil
                    switch r {
                    case .failure(let e):
                        finish(.failure(ProxyDialError(message: e.message)))
                    case .success(let fd):
                        guard self.completion != nil else {  // cancelled meanwhile
                            Socket.close(fd)
                            return
                        }
                        if let pipe = SlotPipe(loop: ctx.loop, fd: fd, slot: slot, owner: owner) {
                            if !initial.isEmpty { pipe.deliver(initial) }
                            finish(.success(pipe))
                        } else {
                            Socket.close(fd)
                            finish(.failure(ProxyDialError(message: "agent busy")))
                        }
                    }
                }
                connector = c
                c.start()
            }
        }
    }

    func cancel() {
        completion = nil
        connector?.cancel()
        connector = nil
    }

    private func finish(_ r: Result<SlotPipe, ProxyDialError>) {
        guard let done = completion else { return }
        completion = nil
        done(r)
    }
}

struct ProxyDialError: Error { let message: String }
