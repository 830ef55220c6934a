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
  "down": {...}, "connections": n}`.
* `tether_bin` — path from $TETHER_BIN; skips the test when unset, missing, or when
  `tether help` does not list a `run` command (the agent runtime has not landed).
* `device_key_file` — a pre-generated RSA-2048 PKCS#1 PEM (`RSA PRIVATE KEY`), as the Go
  agent's key file; saves key generation time under qemu.
* `start_agent(server_url, transport=2, ca=None, env=None, args=("run",)) -> AgentProcess` —
  runs `$TETHER_BIN run` with SHELLHUB_SERVER_ADDRESS, SHELLHUB_PRIVATE_KEY, SHELLHUB_TENANT_ID,
  SHELLHUB_PREFERRED_HOSTNAME (`e2e-board`), SHELLHUB_TRANSPORT_VERSION, and, when `ca` is
  given, SSL_CERT_FILE and TETHER_CA_FILE pointing at it. Log in `.log_path`; `.log()`,
  `.wait_log(regex, timeout)`, `.stop()` (SIGTERM, then SIGKILL after 10 s), `.returncode`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from hub.config import DEFAULT_TENANT  # noqa: E402
from hub.testing import HubProcess, Nginx, TrafficRelay, make_ca  # noqa: E402

E2E_HOSTNAME = "e2e-board"


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


def _supports_run(path: str) -> tuple[bool, str]:
    try:
        out = subprocess.run([path, "help"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return False, f"cannot execute {path}: {e}"
    text = out.stdout + out.stderr
    if re.search(r"^\s*run\b", text, re.M):
        return True, ""
    return False, f"{path} has no 'run' command yet (tether help lists none)"


@pytest.fixture(scope="session")
def tether_bin() -> str:
    path = os.environ.get("TETHER_BIN", "")
    if not path:
        pytest.skip("TETHER_BIN is not set")
    if not os.access(path, os.X_OK):
        pytest.skip(f"TETHER_BIN={path} is not an executable file")
    ok, why = _supports_run(path)
    if not ok:
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def device_key_file(tmp_path_factory) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("device") / "device.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return str(path)


class AgentProcess:
    def __init__(self, argv, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def returncode(self):
        return self.proc.poll()

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern: str, timeout: float = 30.0) -> re.Match:
        end = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        while time.monotonic() < end:
            m = rx.search(self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise TimeoutError(f"agent log has no /{pattern}/; log:\n{self.log()[-4000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_agent(tether_bin, device_key_file, tmp_path):
    agents = []

    def start(server_url: str, transport: int = 2, ca: str | None = None,
              env: dict | None = None, args=("run",)) -> AgentProcess:
        e = {k: v for k, v in os.environ.items() if not k.startswith("SHELLHUB_")}
        e.update({
            "SHELLHUB_SERVER_ADDRESS": server_url,
            "SHELLHUB_PRIVATE_KEY": device_key_file,
            "SHELLHUB_TENANT_ID": DEFAULT_TENANT,
            "SHELLHUB_PREFERRED_HOSTNAME": E2E_HOSTNAME,
            "SHELLHUB_TRANSPORT_VERSION": str(transport),
            "SHELLHUB_LOG_LEVEL": "debug",
        })
        if ca:
            e["SSL_CERT_FILE"] = ca
            e["TETHER_CA_FILE"] = ca
        e.update(env or {})
        a = AgentProcess([tether_bin, *args], e, str(tmp_path / f"agent{len(agents)}.log"))
        agents.append(a)
        return a
    yield start
    for a in agents:
        a.stop()
