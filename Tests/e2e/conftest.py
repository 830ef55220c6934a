"""End-to-end harness: the dev hub, nginx TLS in front, traffic relay, and the Tether agent.

Fixtures (all function-scoped, everything on 127.0.0.1, cleaned up at the end of the test):

* `make_hub(*args, env=None) -> HubProcess` — `python -m hub --port 0 *args`; `hub` is one with
  default (real-server) timers. HubProcess: `.url`, `.port`, `.status()`, `.devices()`,
  `.device(uid_or_name)`, `.wait_device(pred, timeout)`, `.port_map(uid_or_name) -> port`,
  `.api(method, path, body)`, `.log()`.
* `make_nginx(hub, read_timeout="60s") -> Nginx` — TLS front end; `nginx_tls` is one in front of
  `hub`. Nginx: `.url` (https://127.0.0.1:PORT), `.port`, `.ca` (CA file to trust),
  `.error_log()`.
* `make_relay(target_port) -> TrafficRelay` — counting TCP relay (see hub/testing.py for the
  method); `.port`, `.reset()`, `.snapshot() -> {"up": {payload, segments, ip_bytes},
  "down": {...}, "connections": n}`; link faults: `.blackhole(on=True)` (stop forwarding,
  nothing closed) and `.cut()` (RST every live connection on both sides).
* `tether_bin` — path from $TETHER_BIN; skips the test when unset, missing, or when
  `tether help` does not list a `run` command (the agent runtime has not landed).
* `device_key_file` — a pre-generated RSA-2048 PKCS#1 PEM (`RSA PRIVATE KEY`), as the Go
  agent's key file; saves key generation time under qemu.
* `start_agent(server_url, transport=2, ca=None, env=None, args=("run",)) -> AgentProcess`
  (also available as `agent`) —
  runs `$TETHER_BIN run` with SHELLHUB_SERVER_ADDRESS, SHELLHUB_PRIVATE_KEY, SHELLHUB_TENANT_ID,
  SHELLHUB_PREFERRED_HOSTNAME (`e2e-board`), SHELLHUB_TRANSPORT_VERSION, and, when `ca` is
  given, SSL_CERT_FILE and TETHER_CA_FILE pointing at it. Log in `.log_path`; `.log()`,
  `.wait_log(regex, timeout)`, `.stop()` (SIGTERM, then SIGKILL after 10 s), `.returncode`.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from hub.config import DEFAULT_TENANT  # noqa: E402
from hub.testing import (AgentProcess, HubProcess, Nginx, TrafficRelay,  # noqa: E402
                         agent_env, agent_supports_run, make_ca, write_device_key)

@pytest.fixture
def make_hub(tmp_path):
    hubs = []

    def start(*args: str, env: dict | None = None) -> HubProcess:
        h = HubProcess(str(tmp_path / f"hub{len(hubs)}"), *args, env=env).start()
        hubs.append(h)
        return h
    yield start
    for h in hubs:
        h.stop()


@pytest.fixture
def hub(make_hub) -> HubProcess:
    return make_hub()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp("e2e-tls")))


@pytest.fixture
def make_nginx(tmp_path, tls_files):
    started = []

    def start(hub: HubProcess, read_timeout: str = "60s") -> Nginx:
        n = Nginx(str(tmp_path / f"nginx{len(started)}"), hub.port, read_timeout,
                  tls=tls_files).start()
        started.append(n)
        return n
    yield start
    for n in started:
        n.stop()


@pytest.fixture
def nginx_tls(make_nginx, hub) -> Nginx:
    return make_nginx(hub)


@pytest.fixture
def make_relay():
    relays = []

    def start(target_port: int) -> TrafficRelay:
        r = TrafficRelay(target_port).start()
        relays.append(r)
        return r
    yield start
    for r in relays:
        r.stop()


@pytest.fixture(scope="session")
def tether_bin() -> str:
    path = os.environ.get("TETHER_BIN", "")
    if not path:
        pytest.skip("TETHER_BIN is not set")
    if not os.access(path, os.X_OK):
        pytest.skip(f"TETHER_BIN={path} is not an executable file")
    ok, why = agent_supports_run(path)
    if not ok:
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def device_key_file(tmp_path_factory) -> str:
    return write_device_key(str(tmp_path_factory.mktemp("device") / "device.key"))


@pytest.fixture
def start_agent(tether_bin, device_key_file, tmp_path):
    agents = []

    def start(server_url: str, transport: int = 2, ca: str | None = None,
              env: dict | None = None, args=("run",), command=None) -> AgentProcess:
        """`command` replaces the binary, e.g. ["qemu-aarch64-static", "dist/.../tether"]."""
        e = agent_env(server_url, device_key_file, tenant=DEFAULT_TENANT, transport=transport,
                      ca=ca, extra=env)
        argv = list(command) if command else [tether_bin]
        a = AgentProcess([*argv, *args], e, str(tmp_path / f"agent{len(agents)}.log"))
        agents.append(a)
        return a
    yield start
    for a in agents:
        a.stop()


@pytest.fixture
def agent(start_agent):
    """Alias of `start_agent`: `agent(server_url, transport=2, ca=None, env=None)`."""
    return start_agent
