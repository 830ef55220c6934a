"""Key exchanges the server agrees to (issue 13 item 11): curve25519 and ECDH, group14 for old
clients; the costly DH groups 16 and 18 are not offered (Tests/bench/kex_cost.py measures why),
so a client that insists on one gets no common algorithm instead of a login that holds the one
loop thread for seconds."""
import time

import pytest


@pytest.mark.parametrize("kex", ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"])
def test_offered(server, kex):
    r = server.ssh("echo ok", extra=["-o", f"KexAlgorithms={kex}"])
    assert r.stdout == b"ok\n", r.stderr


@pytest.mark.parametrize("kex", ["diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"])
def test_not_offered(server, kex):
    r = server.ssh("echo ok", extra=["-v", "-o", f"KexAlgorithms={kex}"])
    assert r.returncode != 0 and r.stdout == b""
    # Normally the client names the refusal itself. When the client's banner and KEXINIT reach
    # libssh in one read (through the hub, or under load), libssh fails the negotiation before
    # its own KEXINIT left its output buffer and closes the socket with it unsent (server.c, the
    # connection callback's error path): the client then only sees the connection closed, and
    # libssh's own error text may be overwritten by the close ("Socket error: Success"). What
    # holds either way: the connection ended in key exchange and never reached authentication.
    if b"no matching key exchange method" not in r.stderr:
        assert b"Connection closed" in r.stderr, r.stderr[-2000:]
        deadline = time.monotonic() + 10
        while ": key exchange: " not in server.logtext() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.logtext()
        assert ": key exchange: " in log and "auth " not in log, log[-2000:]
