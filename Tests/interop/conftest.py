"""Interop harness: Tether against the real ShellHub server (issue 11).

Session fixture `shellhub`: PostgreSQL (as `postgres`, own data dir and port), Redis (own port),
the server binary from $SHELLHUB_SERVER_BIN on its fixed ports 8080/2222, and nginx in front
(plain HTTP and HTTPS with a test CA). `legacy` / `identity` give the namespace in that SSH
access mode (a mode switch is a fresh database: the community edition holds one namespace).

The agent under test: $TETHER_BIN (default .build/debug/tether), run through $TETHER_RUNNER
(e.g. `qemu-aarch64-static` for dist/raspberrypi4/tether). Cases marked `ssh` are the ones the
board run repeats (`-m ssh`). Device keys are pre-generated here (key generation under qemu is
slow), and every agent gets its own key, hostname and SHELLHUB_PREFERRED_IDENTITY so that the
server does not merge devices by MAC (all agents here share this machine's MAC; see
test_same_mac_merge for what happens without it).

Logins go to a dedicated account, not root (root's shell start-up runs pyenv here): a passwd
line `interop` with uid/gid 65534 and a home in the session's tmp dir (TETHER_PASSWD_FILE), and
a test shadow file (TETHER_SHADOW_FILE) with a SHA-512 crypt hash of PASSWORD.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from hub.testing import AgentProcess, agent_env, make_ca, write_device_key  # noqa: E402
from shellhub import API_PORT, SSH_PORT, ShellHub, port_taken  # noqa: E402

LINUX_USER = "interop"
PASSWORD = "Interop pw 7"
RUNNER = os.environ.get("TETHER_RUNNER", "").split()
SLOW = 3.0 if RUNNER else 1.0      # qemu-user: everything takes longer
GO_AGENT = os.environ.get("SHELLHUB_AGENT_BIN", str(ROOT / ".cache/peers/shellhub-agent"))
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=0"]


def pytest_configure(config):
    config.addinivalue_line("markers", "ssh: an SSH case, repeated for the board binary")
    config.addinivalue_line("markers", "identity: needs the namespace in identity mode")


def pytest_collection_modifyitems(config, items):
    # legacy-mode cases first, identity-mode ones last: one database switch per run.
    items.sort(key=lambda it: it.get_closest_marker("identity") is not None)


# ------------------------------------------------------------------------------ the server


@pytest.fixture(scope="session")
def server_bin() -> str:
    path = os.environ.get("SHELLHUB_SERVER_BIN", "")
    if not path:
        pytest.skip("SHELLHUB_SERVER_BIN is not set (make test-interop sets it to the "
                    "decompressed ../shared/peers/shellhub server)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"SHELLHUB_SERVER_BIN={path} is not an executable file", pytrace=False)
    return path


@pytest.fixture(scope="session")
def workdir():
    # Not pytest's tmp dir: that one is 0700 and the `postgres` user and uid 65534 need in.
    d = tempfile.mkdtemp(prefix="tether-interop-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    if os.environ.get("INTEROP_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tls(workdir) -> dict:
    return make_ca(str(workdir / "tls"))


@pytest.fixture(scope="session")
def shellhub(server_bin, workdir, tls):
    for port in (API_PORT, SSH_PORT):
        if port_taken(port):
            pytest.exit(f"interop: port {port} is already in use on this machine; the real "
                        f"ShellHub server needs 8080 and 2222 (stop whatever holds it)",
                        returncode=1)
    sh = ShellHub(server_bin, str(workdir / "shellhub"), tls)
    try:
        sh.start()
        yield sh
    finally:
        sh.stop()


@pytest.fixture
def legacy(shellhub) -> ShellHub:
    if shellhub.mode != "legacy":
        shellhub.setup("legacy")
    shellhub.ensure_running()
    return shellhub


@pytest.fixture
def identity(shellhub) -> ShellHub:
    if shellhub.mode != "identity":
        shellhub.setup("identity")
    shellhub.ensure_running()
    return shellhub


# ------------------------------------------------------------------------------- accounts


@pytest.fixture(scope="session")
def account(workdir) -> dict:
    home = workdir / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    hashed = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True,
                            text=True, check=True).stdout.strip()
    shadow = workdir / "shadow"
    shadow.write_text(f"{LINUX_USER}:{hashed}:19000:0:99999:7:::\n")
    passwd = workdir / "passwd"
    passwd.write_text(f"{LINUX_USER}:x:65534:65534:interop:{home}:/bin/sh\n")
    askpass = workdir / "askpass"
    askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{PASSWORD}'\n")
    askpass.chmod(0o755)
    wrong = workdir / "askpass-wrong"
    wrong.write_text("#!/bin/sh\necho not-the-password\n")
    wrong.chmod(0o755)
    return {"home": home, "shadow": str(shadow), "passwd": str(passwd),
            "askpass": str(askpass), "askpass_wrong": str(wrong)}


@pytest.fixture(scope="session")
def user_key(workdir) -> dict:
    path = workdir / "id_rsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(path)],
                   check=True)
    return {"path": str(path), "pub": (workdir / "id_rsa.pub").read_text().strip()}


@pytest.fixture
def ns_key(legacy, user_key) -> str:
    """user_key registered as a namespace public key (legacy mode); returns its path."""
    if getattr(legacy, "_pubkey_generation", None) != legacy.generation:
        legacy.api.add_public_key(user_key["pub"])
        legacy._pubkey_generation = legacy.generation
    return user_key["path"]


# -------------------------------------------------------------------------------- agents

_names = itertools.count(1)


@pytest.fixture(scope="session")
def key_pool(workdir):
    """Pre-generated RSA-2048 device keys (PKCS#1 PEM, as the Go agent writes them)."""
    d = workdir / "keys"
    d.mkdir()
    pool = [write_device_key(str(d / f"dev{i}.key")) for i in range(32)]
    return pool


def tether_command() -> list:
    path = os.environ.get("TETHER_BIN") or str(ROOT / ".build/debug/tether")
    if not os.access(path, os.X_OK):
        pytest.fail(f"TETHER_BIN={path} is not an executable file (swift build?)", pytrace=False)
    return [*RUNNER, path]


class Device:
    def __init__(self, hub: ShellHub, agent: AgentProcess, name: str, kind: str):
        self.hub = hub
        self.agent = agent
        self.name = name
        self.kind = kind
        self.uid = ""

    @property
    def target(self) -> str:
        return f"{self.hub.NAMESPACE}.{self.name}"

    def wait_registered(self, status="pending", timeout=30.0) -> dict:
        d = self.hub.api.wait_device(lambda d: d["name"] == self.name, timeout=timeout * SLOW,
                                     status=status)
        self.uid = d["uid"]
        return d

    def wait_online(self, timeout=30.0) -> dict:
        end = time.monotonic() + timeout * SLOW
        d = {}
        while time.monotonic() < end:
            d = self.hub.api.device(self.uid)
            if d.get("online") and d.get("status") == "accepted":
                return d
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} not online: {d}\nagent log:\n{self.agent.log()[-3000:]}")

    def accept(self) -> dict:
        self.wait_registered()
        self.hub.api.accept(self.uid)
        return self.wait_online()


@pytest.fixture
def start_device(key_pool, account):
    """start_device(hub, transport=2, url=None, kind="tether", env=None, identity=True,
    accept=True) -> Device. kind "go" runs ShellHub's Go agent instead of Tether."""
    started = []

    def start(hub: ShellHub, transport: int = 2, url: str | None = None, kind: str = "tether",
              env: dict | None = None, identity: bool = True, accept: bool = True,
              ca: str | None = None, name: str | None = None, key: str | None = None) -> Device:
        n = next(_names)
        name = name or f"it{n}-{kind}"
        if key is None:
            assert key_pool, "the pre-generated device keys ran out: enlarge key_pool"
            key = key_pool.pop()
        extra = {"TETHER_SHADOW_FILE": account["shadow"], "TETHER_PASSWD_FILE": account["passwd"],
                 "SHELLHUB_LOG_LEVEL": "info"}
        if identity:
            extra["SHELLHUB_PREFERRED_IDENTITY"] = name
        extra.update(env or {})
        e = agent_env(url or hub.gateway.http_url, key, tenant=hub.tenant, transport=transport,
                      hostname=name, ca=ca, extra=extra)
        if kind == "go":
            if not os.access(GO_AGENT, os.X_OK):
                pytest.fail(f"the Go agent {GO_AGENT} is not executable", pytrace=False)
            argv = [GO_AGENT]
        else:
            argv = [*tether_command(), "run"]
        log = str(pathlib.Path(hub.dir) / f"agent-{name}-{n}.log")
        agent = AgentProcess(argv, e, log)
        dev = Device(hub, agent, name, kind)
        dev.agent_env = e
        started.append(dev)
        if accept:
            dev.accept()
        return dev

    yield start
    for d in started:
        d.agent.stop()


# ----------------------------------------------------------------------------- ssh helpers


def askpass_env(path: str) -> dict:
    return dict(os.environ, SSH_ASKPASS=path, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")


def password_opts() -> list:
    return ["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
            "-o", "NumberOfPasswordPrompts=1"]


def key_opts(key: str) -> list:
    return ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey",
            "-o", "BatchMode=yes"]


@pytest.fixture
def ssh(account):
    """ssh(device, command, key=None, password=True, extra=(), timeout=60) -> CompletedProcess
    through the real gateway: `ssh -p 2222 interop@<namespace>.<device>@127.0.0.1`."""
    def run(dev: Device, *command: str, key: str | None = None, wrong_password=False,
            extra=(), timeout=60.0, user=LINUX_USER, text=True):
        auth = key_opts(key) if key else password_opts()
        env = askpass_env(account["askpass_wrong" if wrong_password else "askpass"])
        return subprocess.run(["ssh", "-p", str(SSH_PORT), *SSH_OPTS, *auth, *extra,
                               f"{user}@{dev.target}@127.0.0.1", *command],
                              capture_output=True, text=text, timeout=timeout * SLOW, env=env,
                              stdin=subprocess.DEVNULL)
    return run
