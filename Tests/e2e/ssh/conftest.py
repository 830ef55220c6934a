"""Fixtures for the SSH server e2e tests, driven by the real OpenSSH client (ssh, sftp, scp).

Two kinds of server, chosen by $TETHER_SSH_VIA (same interface: `.port`, `.user`, `.opts()`,
`.env()`, `.ssh()`, `.set_password()`, `.logtext()`, `.stop()`, `.proc`, `.utmp`, `.wtmp`):

* `serve` (default): `tether ssh-serve` on a free port with a temp host key and shadow file (a
  debug TCP listener; `extra` are its options). Login records go to the test's `.utmp`/`.wtmp`
  (`--utmp`/`--wtmp`).
* `agent`: the product path. The dev hub (`python -m hub --port-map e2e-device=0`) and
  `tether run` connected to it; `.port` is the hub's port map, so every TCP connection becomes a
  tunnel stream, a session slot and an SSH server connection on the agent's EventLoop
  (SSHSessions, SSHConnectionDriver). The host key PEM is the device key; the shadow/passwd
  files reach the agent as TETHER_SHADOW_FILE / TETHER_PASSWD_FILE; each ssh-serve option in
  `extra` is mapped to the agent's setting (see AGENT_OPTIONS), `--oracle-key K` registers K
  with the hub's /api/auth/ssh oracle. `.logtext()` is the agent's log since the device came
  online. Tests needing a setting the agent does not have are skipped (AGENT_SKIPS,
  AGENT_UNSUPPORTED); when not root, all but the single-user case (the agent then insists on
  single-user mode). $TETHER_SSH_TRANSPORT picks the tunnel: 2 (default, yamux streams) or 1
  (a revdial dial-back WebSocket per session).
  As root the agent runs in a private mount namespace (AgentServer._namespace) where its
  login records go to the test's `.utmp`/`.wtmp`, and, for --builtin-sftp, the host's
  sftp-server is hidden so that the agent serves its built-in one.

$TETHER_BIN is the binary, $TETHER_RUNNER an optional prefix (e.g. qemu-aarch64-static) in both
modes; $TETHER_SSH_SERVE_EXTRA adds ssh-serve options to every server (mapped in agent mode).
"""
import math
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "Tests"))

TETHER = os.environ.get("TETHER_BIN", str(REPO / ".build-ssh/debug/tether"))
# e.g. TETHER_RUNNER=qemu-aarch64-static with TETHER_BIN=dist/raspberrypi4/tether
RUNNER = os.environ.get("TETHER_RUNNER", "").split()
# e.g. TETHER_SSH_SERVE_EXTRA=--socketpair: serve every case through a socketpair, as a slot.
SERVE_EXTRA = os.environ.get("TETHER_SSH_SERVE_EXTRA", "").split()
VIA = os.environ.get("TETHER_SSH_VIA", "serve")
if VIA not in ("serve", "agent"):
    raise RuntimeError(f"TETHER_SSH_VIA={VIA!r}: must be serve or agent")
# Agent mode: the tunnel, 2 (yamux streams) or 1 (a revdial dial-back WebSocket per session).
TRANSPORT = int(os.environ.get("TETHER_SSH_TRANSPORT", "2"))
PASSWORD = "s3cret pass"
DEVICE = "e2e-device"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl_hash(password, method="-6"):
    return subprocess.run(["openssl", "passwd", method, password], check=True,
                          capture_output=True, text=True).stdout.strip()


class ClientSide:
    """What both server kinds share: host key, shadow file, askpass, and the client side."""

    def prepare(self, tmp, shadow_lines):
        self.tmp = tmp
        self.host_key = tmp / "host.pem"
        if not self.host_key.exists():
            subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(self.host_key), "2048"],
                           check=True, capture_output=True)
        user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.user = user
        self.shadow = tmp / "shadow"
        lines = shadow_lines if shadow_lines is not None else [
            f"{user}:{openssl_hash(PASSWORD)}:19000:0:99999:7:::"]
        self.shadow.write_text("\n".join(lines) + "\n")
        self.askpass = tmp / "askpass.sh"
        self.set_password(PASSWORD)

    def set_password(self, password):
        self.askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n")
        self.askpass.chmod(0o755)

    def opts(self, password=True, connect_timeout=10):
        o = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}"]
        if password:
            o += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                  "-o", "NumberOfPasswordPrompts=1"]
        return o

    def env(self):
        e = dict(os.environ)
        e.update(SSH_ASKPASS=str(self.askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return e

    def ssh(self, *cmd, user=None, extra=(), password=True, timeout=30, input=None, env=None,
            connect_timeout=10, **kw):
        args = ["ssh", "-p", str(self.port), *self.opts(password, connect_timeout), *extra,
                f"{user or self.user}@127.0.0.1", *cmd]
        return subprocess.run(args, env=env or self.env(), capture_output=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              **kw)


class Server(ClientSide):
    """`tether ssh-serve` on a free port."""

    def __init__(self, tmp, extra=(), shadow_lines=None, passwd=None):
        self.prepare(tmp, shadow_lines)
        self.port = free_port()
        args = [*RUNNER, TETHER, "ssh-serve", "--port", str(self.port), "--host-key", str(self.host_key),
                "--shadow", str(self.shadow), "--device-name", DEVICE]
        # Login records go to files of the test, never the host's.
        self.utmp = tmp / f"utmp-{self.port}"
        self.wtmp = tmp / f"wtmp-{self.port}"
        self.utmp.write_bytes(b"")
        self.wtmp.write_bytes(b"")
        args += ["--utmp", str(self.utmp), "--wtmp", str(self.wtmp)]
        if passwd is not None:
            args += ["--passwd", str(passwd)]
        if RUNNER:
            args += ["--builtin-sftp-runner", shutil.which(RUNNER[0])]
        args += SERVE_EXTRA + list(extra)
        self.log = open(tmp / f"serve-{self.port}.log", "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("ssh-serve did not start: " + self.logtext())

    def logtext(self):
        self.log.flush()
        return (self.tmp / f"serve-{self.port}.log").read_text()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _seconds(ms):
    return str(max(1, math.ceil(int(ms) / 1000)))


# ssh-serve option -> (takes a value, agent setting). A setting is an env name (its value is
# the option's, through the converter) or None: an option the agent needs no setting for.
AGENT_OPTIONS = {
    # ssh-serve's --keepalive is in ms; SHELLHUB_KEEPALIVE_INTERVAL in s, and set explicitly it
    # also turns per-session SSH keepalives on (ConfigLoader: sshSessionKeepalive).
    "--keepalive": (True, "SHELLHUB_KEEPALIVE_INTERVAL", _seconds),
    "--login-grace-ms": (True, "TETHER_LOGIN_GRACE", _seconds),
    "--single-user-hash": (True, "SHELLHUB_SINGLE_USER_PASSWORD", str),
    "--permit-empty": (False, "SHELLHUB_PERMIT_EMPTY_PASSWORDS", lambda: "true"),
    # The agent always serves each stream on a socketpair end (its session slot): what
    # ssh-serve's --socketpair selects, the agent does anyway.
    "--socketpair": (False, None, None),
    # Diagnostics only: the agent's log level is debug (agent_env) and has no libssh log knob.
    "--verbose": (False, None, None),
    "--libssh-log": (True, None, None),
}

# ssh-serve options with no agent setting, whose tests are skipped in agent mode.
AGENT_UNSUPPORTED = {
    opt: "agent mode: the agent sizes its event loop's tables from TETHER_SESSION_SLOTS "
         "(RuntimeLimits, each slot reserving its connection's most), so one connection cannot "
         f"fill them; it has no setting like ssh-serve's {opt} (Tests/e2e/test_slot_tables.py "
         "covers the agent's tables)"
    for opt in ("--loop-descriptors", "--loop-timers")
}

# SSHServerConfig.sftpServerPaths: the sftp-server programs the agent looks for.
SFTP_SERVER_PATHS = ["/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server",
                     "/usr/lib/sftp-server", "/usr/libexec/openssh/sftp-server"]

# Tests that need an agent setting that does not exist; skipped in agent mode only.
AGENT_SKIPS = {
    "test_ed25519_host_key_instead_of_rsa":
        "agent mode: the host key is the device key (SHELLHUB_PRIVATE_KEY), which must be RSA "
        "(DeviceKey: the protocol needs it); the agent has no separate host-key setting",
}


class AgentServer(ClientSide):
    """The dev hub with a port map and `tether run` connected to it (see the module doc)."""

    _count = 0

    def __init__(self, tmp, extra=(), shadow_lines=None, passwd=None):
        from hub.config import DEFAULT_TENANT
        from hub.testing import AgentProcess, HubProcess, agent_env
        # The agent's user mode (AgentConfig.checkUserMode, PROTOCOL.md 7.3, as the Go agent):
        # single-user mode is forbidden as root and required otherwise.
        for opt in SERVE_EXTRA + list(extra):
            if opt in AGENT_UNSUPPORTED:
                pytest.skip(AGENT_UNSUPPORTED[opt])
        single = "--single-user-hash" in SERVE_EXTRA + list(extra)
        if os.geteuid() == 0 and single:
            pytest.skip("agent mode: SHELLHUB_SINGLE_USER_PASSWORD is refused when the agent "
                        "runs as root (AgentConfig.checkUserMode), and this run is root")
        if os.geteuid() != 0 and not single:
            pytest.skip("agent mode: not root, the agent runs only in single-user mode "
                        "(SHELLHUB_SINGLE_USER_PASSWORD required)")
        self.prepare(tmp, shadow_lines)
        AgentServer._count += 1
        n = AgentServer._count
        # Only owner-writable regular files are honoured as account files (SSHSessions).
        self.shadow.chmod(0o600)
        self.host_key.chmod(0o600)
        self.hub = HubProcess(str(tmp / f"hub-{n}"), "--port-map", f"{DEVICE}=0").start()
        self.agent = None
        try:
            settings = {"TETHER_SHADOW_FILE": str(self.shadow)}
            if passwd is not None:
                os.chmod(passwd, 0o644)
                settings["TETHER_PASSWD_FILE"] = str(passwd)
            args = SERVE_EXTRA + list(extra)
            argv = self._namespace(tmp, n, "--builtin-sftp" in args) + [*RUNNER, TETHER, "run"]
            i = 0
            while i < len(args):
                opt = args[i]
                if opt == "--oracle-key":
                    # The hub's own key oracle (/api/auth/ssh) knows the key: ssh-serve's
                    # --oracle-key stands in for exactly that.
                    pem = pathlib.Path(args[i + 1]).read_text()
                    self.hub.api("POST", "/api/hub/ssh-keys", {"private_key": pem})
                    i += 2
                    continue
                if opt == "--builtin-sftp":  # see _namespace
                    i += 1
                    continue
                if opt not in AGENT_OPTIONS:
                    raise RuntimeError(f"agent mode: no mapping for ssh-serve option {opt}")
                takes, name, conv = AGENT_OPTIONS[opt]
                value = args[i + 1] if takes else None
                if name:
                    settings[name] = conv(value) if takes else conv()
                i += 2 if takes else 1
            env = agent_env(self.hub.url, str(self.host_key), tenant=DEFAULT_TENANT,
                            hostname=DEVICE, transport=TRANSPORT, extra=settings)
            # Under qemu-user there is no --builtin-sftp-runner to pass: the agent serves SFTP
            # with the host's sftp-server (a host binary, exec'd natively), as the sftp/scp
            # cases need (for the built-in server, see _namespace).
            self.agent = AgentProcess(argv, env, str(tmp / f"agent-{n}.log"))
            self.proc = self.agent.proc
            dev = self._wait_connected(120 if RUNNER else 60)
            self.port = self.hub.port_map(dev["uid"])
            self.log_start = len(self.agent.log())
        except BaseException:
            self.stop()
            raise

    def _namespace(self, tmp, n, builtin_sftp):
        """The agent has no setting for its login record files (/var/run/utmp, /var/log/wtmp)
        nor one that prefers its built-in SFTP server (used when no sftp-server program is
        installed, SSHServerConfig.sftpServerPaths, as on most boards). So, as root, it runs
        unchanged in a private mount namespace where the record files are the test's
        `.utmp`/`.wtmp` (bound over the host's, or, where one is missing, an overlay of its
        directory holding it), and for ssh-serve's --builtin-sftp each installed sftp-server is
        /dev/null (not executable): the host's records stay untouched, the board's situation
        is reproduced. Returns the argv prefix."""
        if os.geteuid() != 0 or not shutil.which("unshare"):
            # Not root: the agent cannot write the host's records anyway.
            self.utmp = self.wtmp = None
            if builtin_sftp:
                pytest.skip("agent mode: hiding the host's sftp-server from the agent needs "
                            "root and unshare (a private mount namespace)")
            return []
        if builtin_sftp and RUNNER:
            pytest.skip(f"agent mode under {RUNNER[0]}: the built-in SFTP server is the agent "
                        "re-executing itself (/proc/self/exe), which needs binfmt_misc to run "
                        "the ARM binary (ssh-serve's --builtin-sftp-runner has no agent "
                        "equivalent): the subsystem exits 127")
        mounts = []
        for name, target in (("utmp", "/var/run/utmp"), ("wtmp", "/var/log/wtmp")):
            real = os.path.realpath(target)
            if os.path.exists(real):
                f = tmp / f"{name}-agent-{n}"
                mounts.append(f"mount --bind {f} {real}")
            else:
                d = tmp / f"{name}-overlay-{n}"
                (d / "upper").mkdir(parents=True)
                (d / "work").mkdir()
                f = d / "upper" / os.path.basename(real)
                mounts.append(f"mount -t overlay overlay -o lowerdir={os.path.dirname(real)},"
                              f"upperdir={d / 'upper'},workdir={d / 'work'} "
                              f"{os.path.dirname(real)}")
            f.write_bytes(b"")
            setattr(self, name, f)
        if builtin_sftp:
            hide = sorted({os.path.realpath(p) for p in SFTP_SERVER_PATHS if os.path.exists(p)})
            mounts += [f"mount --bind /dev/null {p}" for p in hide]
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                " && ".join(mounts + ['exec "$@"']), "sh"]

    def _wait_connected(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self.hub.devices():
                if d["name"] == DEVICE and d["connected"]:
                    return d
            if self.agent.returncode is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"agent did not connect (exit {self.agent.returncode}); agent log:\n"
                           + self.agent.log()[-4000:] + "\nhub log:\n" + self.hub.log()[-2000:])

    def logtext(self):
        # The SSH service's part: the agent's log since the device came online.
        return self.agent.log()[self.log_start:]

    def stop(self):
        if self.agent is not None:
            self.agent.stop()
        self.hub.stop()


@pytest.fixture
def make_server(tmp_path, request):
    if VIA == "agent" and request.node.originalname in AGENT_SKIPS:
        pytest.skip(AGENT_SKIPS[request.node.originalname])
    kind = AgentServer if VIA == "agent" else Server
    servers = []

    def make(**kw):
        s = kind(tmp_path, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server(make_server):
    return make_server()
