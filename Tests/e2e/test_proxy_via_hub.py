"""ShellHub's TCP proxy ("web endpoints", PROTOCOL.md 6) through the real agent: the hub's web
endpoint opens `/http/proxy/1.0.0` streams (v2) or `CONNECT /http/proxy/<host>:<port>`
dial-backs (v1) and relays bytes to a real HTTP server listening on 127.0.0.1 on the agent's
side. Cases: HTTP on one kept-alive connection by address and by name, a few MiB each way with
checksums, unreachable targets answered with the error form while the agent stays online."""

import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import threading
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected

BIG = 4 * 1024 * 1024 + 17


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"         # keep-alive: several requests on one proxied conn

    def log_message(self, *args):
        pass

    def _reply(self, body: bytes, ctype="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hello":
            self._reply(b"hello through the agent\n", "text/plain")
        elif self.path == "/blob":
            self._reply(self.server.blob)
        else:
            self.send_error(404)

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while n:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            h.update(chunk)
            n -= len(chunk)
        self._reply(json.dumps({"sha256": h.hexdigest(), "short": n}).encode(),
                    "application/json")


@pytest.fixture
def target():
    """A real HTTP server on the agent's side (same machine, 127.0.0.1 only)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.blob = os.urandom(BIG)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def device(make_hub, start_agent, request):
    transport = request.param
    hub = make_hub()
    agent = start_agent(hub.url, transport=transport)
    dev = connected(hub)
    return hub, agent, dev, transport


def web_endpoint(hub, host, port):
    return hub.api("POST", f"/api/hub/devices/{HOST}/web-endpoints",
                   {"host": host, "port": port})


def endpoint_state(hub, port):
    eps = hub.api("GET", f"/api/hub/devices/{HOST}/web-endpoints")["web_endpoints"]
    return next(e for e in eps if e["port"] == port)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_ok_answer(state, transport):
    if transport == 2:
        assert state["last_answer"] == '{"status":"ok"}\n'
    else:
        assert re.match(r"HTTP/1\.1 200 OK\r\n", state["last_answer"]), state["last_answer"]


both = pytest.mark.parametrize("device", [2, 1], indirect=True, ids=["v2", "v1"])


@both
def test_http_requests_through_the_proxy_by_address_and_by_name(device, target):
    """Several requests on one kept-alive connection (bytes relayed both ways, repeatedly);
    `localhost` goes through the agent's resolver, 127.0.0.1 straight to connect."""
    hub, agent, dev, transport = device
    for host in ("127.0.0.1", "localhost"):
        ep = web_endpoint(hub, host, target.server_port)
        c = http.client.HTTPConnection("127.0.0.1", ep["port"], timeout=20)
        for i in range(3):
            c.request("GET", "/hello")
            r = c.getresponse()
            assert (r.status, r.read()) == (200, b"hello through the agent\n"), (host, i)
            body = f"request {i} via {host}".encode()
            c.request("POST", "/sum", body=body)
            r = c.getresponse()
            assert json.loads(r.read())["sha256"] == hashlib.sha256(body).hexdigest()
        c.close()
        st = endpoint_state(hub, ep["port"])
        assert (st["connections"], st["ok"], st["refused"], st["failed"]) == (1, 1, 0, 0), st
        assert_ok_answer(st, transport)
    assert agent.returncode is None
    assert hub.device(HOST)["connects"] == 1


@both
def test_a_few_mib_each_way_keep_every_byte(device, target):
    hub, agent, dev, transport = device
    ep = web_endpoint(hub, "127.0.0.1", target.server_port)
    c = http.client.HTTPConnection("127.0.0.1", ep["port"], timeout=30)
    t0 = time.monotonic()
    c.request("GET", "/blob")
    r = c.getresponse()
    got = r.read()
    assert r.status == 200 and len(got) == BIG
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(target.blob).hexdigest()
    up = os.urandom(BIG)
    c.request("POST", "/sum", body=up)
    answer = json.loads(c.getresponse().read())
    assert answer == {"sha256": hashlib.sha256(up).hexdigest(), "short": 0}
    elapsed = time.monotonic() - t0
    c.close()
    assert elapsed < 20, f"{2 * BIG} bytes took {elapsed:.1f} s"
    assert endpoint_state(hub, ep["port"])["ok"] == 1
    assert agent.returncode is None


def _refused(ep_port) -> bytes:
    """The hub closes the client's connection without a byte when the agent refuses."""
    with socket.create_connection(("127.0.0.1", ep_port), timeout=20) as s:
        return s.recv(4096)


def assert_error_answer(answer: str, transport: int) -> str:
    """The agent's refusal in PROTOCOL.md 6 form; returns its text."""
    if transport == 2:
        assert re.fullmatch(r'\{"error":".+"\}\n', answer), answer
        return json.loads(answer)["error"]
    head, sep, body = answer.partition("\r\n\r\n")
    assert sep and head.startswith("HTTP/1.1 500 "), answer
    m = re.search(r"\r\nContent-Length: (\d+)", head, re.I)
    assert m is None or int(m.group(1)) == len(body.encode()), answer
    assert body.strip(), answer
    return body


FAILURES = 10    # more than the agent's 8 default slots: a failed dial must free its slot


@both
def test_unreachable_targets_get_the_error_answer_and_free_their_slot(device, target):
    hub, agent, dev, transport = device
    base_fds = open_fds(agent.proc.pid)
    dead = web_endpoint(hub, "127.0.0.1", closed_port())
    nowhere = web_endpoint(hub, "no-such-host.invalid", 80)
    for _ in range(FAILURES):
        assert _refused(dead["port"]) == b""
    assert _refused(nowhere["port"]) == b""
    st = endpoint_state(hub, dead["port"])
    assert (st["refused"], st["ok"], st["failed"]) == (FAILURES, 0, 0), st
    text = assert_error_answer(st["last_answer"], transport)
    assert "refused" in text.lower() and "slot" not in text
    st = endpoint_state(hub, nowhere["port"])
    assert st["refused"] == 1
    text = assert_error_answer(st["last_answer"], transport)
    assert "no-such-host.invalid" in text
    # Still online on the same tunnel, and the next good request gets a slot.
    dev = hub.device(HOST)
    assert dev["connected"] and dev["connects"] == 1
    assert agent.returncode is None
    ok = web_endpoint(hub, "127.0.0.1", target.server_port)
    c = http.client.HTTPConnection("127.0.0.1", ok["port"], timeout=20)
    c.request("GET", "/hello")
    assert c.getresponse().read() == b"hello through the agent\n"
    c.close()
    # Failed dials and the resolver's work leave no descriptor behind (nor does the good one
    # once both ends closed).
    deadline = time.monotonic() + 5
    while open_fds(agent.proc.pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(agent.proc.pid) <= base_fds, (base_fds, os.listdir(f"/proc/{agent.proc.pid}/fd"))
    assert not re.search(r"(fatal|panic|crash|Fatal error)", agent.log())


@both
def test_failed_proxy_dials_are_logged_once_per_target(device):
    """Bad input is logged once: three failed dials to one target are one line (the repeats are
    counted on the next line of that kind), a second target gets its own line."""
    hub, agent, dev, transport = device
    dead = web_endpoint(hub, "127.0.0.1", closed_port())
    other = web_endpoint(hub, "127.0.0.1", closed_port())
    agent.wait_log(r"online: ")            # the startup lines are in
    before = len(agent.log().splitlines())
    for _ in range(3):
        assert _refused(dead["port"]) == b""
    assert _refused(other["port"]) == b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(agent.log().splitlines()) - before < 2:
        time.sleep(0.1)
    time.sleep(0.5)
    new = [l for l in agent.log().splitlines()[before:] if "proxy to" in l]
    assert len(new) == 2, new
    assert f"proxy to 127.0.0.1:{dead['target_port']} failed: connect" in new[0]
    assert f"proxy to 127.0.0.1:{other['target_port']} failed: connect" in new[1]
