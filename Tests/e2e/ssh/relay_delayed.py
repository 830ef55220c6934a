"""ProxyCommand for the late-start test: connects to the server at once, then waits DELAY
seconds before the client's first byte is relayed (ShellHub opens the stream early and starts
SSH only when the user authenticates)."""
import os
import select
import socket
import sys
import time

host, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port))
time.sleep(delay)
fds = [0, s.fileno()]
while True:
    r, _, _ = select.select(fds, [], [])
    if 0 in r:
        d = os.read(0, 65536)
        if not d:
            s.shutdown(socket.SHUT_WR)
            fds.remove(0)
        else:
            s.sendall(d)
    if s.fileno() in r:
        d = s.recv(65536)
        if not d:
            break
        os.write(1, d)
