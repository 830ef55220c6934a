"""Test-harness pieces shared by the hub's tests and Tests/e2e: the hub as a subprocess,
a self-signed CA, nginx as the TLS front end, and the traffic-measuring relay.

Everything binds to 127.0.0.1 and lives in a caller-given temporary directory.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


# ------------------------------------------------------------------------------ hub process


class HubProcess:
    """`python -m hub` in a subprocess; log in `<workdir>/hub.log`."""

    def __init__(self, workdir: str, *args: str, env: dict | None = None):
        self.workdir = workdir
        self.args = list(args)
        self.env = env
        self.log_path = os.path.join(workdir, "hub.log")
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.port = 0

    def start(self, timeout: float = 20.0) -> "HubProcess":
        os.makedirs(self.workdir, exist_ok=True)
        log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(self.env or {}))
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", "--port", "0", *self.args],
                                     cwd=TESTS_DIR, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.log_path, "rb") as f:
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("hub listening on "):
                        self.url = line.split()[-1]
                        self.port = int(self.url.rsplit(":", 1)[1])
                        return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("hub did not start; log:\n" + self.log())

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def status(self) -> dict:
        return self.api("GET", "/api/hub/status")

    def devices(self) -> list:
        return self.status()["devices"]

    def device(self, key: str) -> dict | None:
        for d in self.devices():
            if key in (d["uid"], d["name"]):
                return d
        return None

    def wait_device(self, pred=lambda d: d["connected"] and d["online"],
                    timeout: float = 30.0) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for d in self.devices():
                if pred(d):
                    return d
            time.sleep(0.1)
        raise TimeoutError("no device matched in time; hub log:\n" + self.log()[-4000:])

    def port_map(self, key: str, port: int = 0) -> int:
        return self.api("POST", f"/api/hub/devices/{key}/port-map", {"port": port})["port"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------- TLS CA


def make_ca(workdir: str, names=("localhost",), ips=("127.0.0.1",)) -> dict:
    """A self-signed CA and a server certificate for `names`/`ips`. Returns the file paths."""
    os.makedirs(workdir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tether test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    # IPs also as DNS-name SANs: mbedTLS 2.28 compares the host string against dNSName/CN
    # only (IP SANs arrived in 3.x); standard clients use the IP SAN.
    sans = ([x509.DNSName(n) for n in names] + [x509.DNSName(i) for i in ips]
            + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": os.path.join(workdir, "ca.pem"), "cert": os.path.join(workdir, "server.pem"),
             "key": os.path.join(workdir, "server.key")}
    with open(paths["ca"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return paths


# ------------------------------------------------------------------------------------ nginx

NGINX_MAIN = """\
{user}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections {connections}; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
{http}}}
"""


def start_nginx(workdir: str, http_block: str, connections: int = 256) -> subprocess.Popen:
    """Debian's nginx on `workdir/nginx.conf`: one worker in the foreground, logs and temp
    files in `workdir`, the WebSocket upgrade map, then `http_block` (upstreams, servers)."""
    os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_MAIN.format(user="user root;" if os.geteuid() == 0 else "", dir=workdir,
                                  connections=connections, http=http_block))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen([nginx, "-p", workdir, "-c", conf, "-e", os.path.join(workdir, "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)


NGINX_CONF = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_buffering off;
            proxy_read_timeout {read_timeout};
            proxy_send_timeout {read_timeout};
        }}
    }}
"""


class Nginx:
    """Debian's nginx as a TLS front end for the hub (https:// and wss://)."""

    def __init__(self, workdir: str, upstream_port: int, read_timeout: str = "60s",
                 tls: dict | None = None):
        self.dir = workdir
        self.upstream_port = upstream_port
        self.read_timeout = read_timeout
        self.tls = tls or make_ca(os.path.join(workdir, "tls"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> str:
        return self.tls["ca"]

    def start(self) -> "Nginx":
        self.port = free_port()
        self.proc = start_nginx(self.dir, NGINX_CONF.format(
            port=self.port, cert=self.tls["cert"], key=self.tls["key"],
            upstream=self.upstream_port, read_timeout=self.read_timeout))
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError("nginx did not start: " + self.error_log())
        return self

    def error_log(self) -> str:
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------ traffic counting

IP_TCP_HEADER = 52   # IPv4 20 + TCP 20 + timestamps option 12 (loopback negotiates them)
_TCPI_BYTES_RECEIVED = 128
_TCPI_SEGS = 136
_TCPI_BYTES_SENT = 200


def tcp_counters(sock) -> dict:
    """Kernel per-socket counters (struct tcp_info): payload bytes and segments each way."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    received, = struct.unpack_from("<Q", raw, _TCPI_BYTES_RECEIVED)
    segs_out, segs_in = struct.unpack_from("<II", raw, _TCPI_SEGS)
    sent, = struct.unpack_from("<Q", raw, _TCPI_BYTES_SENT) if len(raw) >= 208 else (0,)
    return {"in_bytes": received, "in_segs": segs_in, "out_bytes": sent, "out_segs": segs_out}


class TrafficRelay:
    """A TCP relay on 127.0.0.1 that the agent dials instead of the server, and that bills its
    traffic as a carrier would.

    Method: on the relay's socket facing the agent, the kernel's TCP_INFO counters give the
    payload bytes (bytes_received / bytes_sent, retransmissions included) and the number of
    segments (segs_in / segs_out — every segment: SYN, data, pure ACKs, FIN, keepalive probes)
    in each direction. IP bytes = payload + 52 × segments (IPv4 20 + TCP 20 + timestamps 12;
    SYNs really carry 8 more bytes of options, not counted). `up` = agent → server,
    `down` = server → agent. Counters are read when a connection ends (after the agent's FIN
    has arrived) and live for open connections. Caveat: loopback's MTU is 64 KiB, so bulk
    transfers use fewer, larger segments than a 1500-byte link would; for small keepalive
    exchanges (the use case) segment counts match a real link, ACK timing follows this host's
    kernel (delayed/quick ACK).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None
        self._lock = threading.Lock()
        self._closed_totals = {"in_bytes": 0, "in_segs": 0, "out_bytes": 0, "out_segs": 0}
        self._live: dict[int, list] = {}      # id -> [socket, baseline, last sample]
        self._baseline_closed = dict(self._closed_totals)
        self.connections = 0
        self._flowing = None          # asyncio.Event in the relay loop; clear = black hole
        self._writers: dict = {}      # id -> (agent-side writer, server-side writer)

    def start(self) -> "TrafficRelay":
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = fut.result(10)
        return self

    async def _start(self) -> int:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _on_client(self, reader, writer):
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            writer.close()

    async def _relay(self, reader, writer):
        sock = writer.get_extra_info("socket")
        key = id(writer)
        zero = {k: 0 for k in self._closed_totals}
        with self._lock:
            self.connections += 1
            # socket, baseline, last good sample (the socket may be gone when we retire it)
            self._live[key] = [sock, zero, dict(zero)]
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            self._retire(key)
            return

        self._writers[key] = (writer, uw)

        async def pump(r, w):
            try:
                while True:
                    await self._flowing.wait()
                    d = await r.read(65536)
                    await self._flowing.wait()     # data read while going dark is held
                    self._sample(key)
                    if not d:
                        break
                    w.write(d)
                    await w.drain()
                    self._sample(key)
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    w.write_eof()
                except (OSError, RuntimeError):
                    pass

        await asyncio.gather(pump(reader, uw), pump(ur, writer))
        await asyncio.sleep(0.05)     # let the last ACK of our FIN arrive
        self._writers.pop(key, None)
        self._retire(key)
        writer.close()
        uw.close()

    def _sample(self, key) -> None:
        with self._lock:
            entry = self._live.get(key)
            if entry is None:
                return
            try:
                entry[2] = tcp_counters(entry[0])
            except OSError:
                pass

    def _retire(self, key) -> None:
        self._sample(key)
        with self._lock:
            entry = self._live.pop(key, None)
            if entry is None:
                return
            _, base, last = entry
            for k in self._closed_totals:
                self._closed_totals[k] += last[k] - base[k]

    def blackhole(self, on: bool = True) -> None:
        """Stop (or resume) forwarding in both directions without closing anything: a dead
        link or a silently dropped NAT mapping, as seen by both ends (no FIN, no RST)."""
        ev = self._flowing
        self._loop.call_soon_threadsafe(ev.clear if on else ev.set)

    def cut(self) -> None:
        """Reset (RST) every live connection on both sides, like a NAT box forgetting them."""
        async def _cut():
            for aw, uw in list(self._writers.values()):
                for w in (aw, uw):
                    sock = w.get_extra_info("socket")
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                    w.transport.abort()
        asyncio.run_coroutine_threadsafe(_cut(), self._loop).result(5)

    def reset(self) -> None:
        """Start a new measurement window (live connections keep counting from now)."""
        with self._lock:
            self._baseline_closed = dict(self._closed_totals)
            for entry in self._live.values():
                try:
                    entry[2] = tcp_counters(entry[0])
                except OSError:
                    pass
                entry[1] = dict(entry[2])

    def snapshot(self) -> dict:
        """{'up': {...}, 'down': {...}} with payload, segments and ip_bytes since reset()."""
        with self._lock:
            tot = {k: self._closed_totals[k] - self._baseline_closed[k]
                   for k in self._closed_totals}
            for entry in self._live.values():
                try:
                    entry[2] = tcp_counters(entry[0])
                except OSError:
                    pass
                for k in tot:
                    tot[k] += entry[2][k] - entry[1][k]
        up = {"payload": tot["in_bytes"], "segments": tot["in_segs"]}
        down = {"payload": tot["out_bytes"], "segments": tot["out_segs"]}
        for d in (up, down):
            d["ip_bytes"] = d["payload"] + IP_TCP_HEADER * d["segments"]
        return {"up": up, "down": down, "connections": self.connections}

    def stop(self) -> None:
        async def _stop():
            if self._server:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


# ------------------------------------------------------------------------------------ sshd

SSHD_CONF = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_ed25519
AuthorizedKeysFile {dir}/authorized_keys
PidFile {dir}/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""


class Sshd:
    """A throw-away OpenSSH server on loopback (an 'agent-side' SSH service for hub tests)."""

    def __init__(self, workdir: str):
        self.dir = workdir
        self.port = 0
        self.key_path = os.path.join(workdir, "id_ed25519")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Sshd":
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # privilege separation dir
        for path in (os.path.join(self.dir, "host_ed25519"), self.key_path):
            if not os.path.exists(path):
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path],
                               check=True)
        shutil.copy(self.key_path + ".pub", os.path.join(self.dir, "authorized_keys"))
        self.port = free_port()
        conf = os.path.join(self.dir, "sshd_config")
        with open(conf, "w") as f:
            f.write(SSHD_CONF.format(port=self.port, dir=self.dir))
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", conf],
                                     stdout=open(os.path.join(self.dir, "sshd.log"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port)
        return self

    def client_argv(self, port: int, *extra: str, user: str | None = None) -> list:
        import getpass
        return ["ssh", "-p", str(port), "-i", self.key_path, "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
                f"{user or getpass.getuser()}@127.0.0.1", *extra]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------ the agent

AGENT_HOSTNAME = "e2e-board"


def write_device_key(path: str) -> str:
    """An RSA-2048 key as the Go agent stores it: PEM `RSA PRIVATE KEY` (PKCS#1), mode 0600."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return path


def agent_supports_run(path: str) -> tuple:
    """(True, "") when `<path> help` lists a `run` command, else (False, reason)."""
    try:
        out = subprocess.run([path, "help"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return False, f"cannot execute {path}: {e}"
    if re.search(r"^\s*run\b", out.stdout + out.stderr, re.M):
        return True, ""
    return False, f"{path} has no 'run' command yet (tether help lists none)"


def agent_env(server_url: str, key_file: str, *, tenant: str, transport: int = 2,
              hostname: str = AGENT_HOSTNAME, ca: str | None = None,
              extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELLHUB_")}
    env.update({
        "SHELLHUB_SERVER_ADDRESS": server_url,
        "SHELLHUB_PRIVATE_KEY": key_file,
        "SHELLHUB_TENANT_ID": tenant,
        "SHELLHUB_PREFERRED_HOSTNAME": hostname,
        "SHELLHUB_TRANSPORT_VERSION": str(transport),
        "SHELLHUB_LOG_LEVEL": "debug",
    })
    if ca:
        env["SSL_CERT_FILE"] = ca
        env["TETHER_CA_FILE"] = ca
    env.update(extra or {})
    return env


class AgentProcess:
    """The agent binary in a subprocess, log captured to a file, stopped with SIGTERM."""

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

    def wait_log(self, pattern: str, timeout: float = 30.0):
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
