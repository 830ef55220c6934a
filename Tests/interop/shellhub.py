"""The real ShellHub server as a test peer: PostgreSQL, Redis, the `server` binary and nginx in
front of it (ShellHub's gateway role), each its own process, stopped by pid.

Facts this follows: ../../../shared/peers/shellhub/README.md. The server binds 8080 (HTTP API)
and 2222 (SSH gateway) on every interface, fixed in its code: one instance per machine.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from hub.testing import free_port, start_nginx, wait_port

API_PORT = 8080
SSH_PORT = 2222
VERSION = "v0.27.0-rc.6"
PG_BIN = "/usr/lib/postgresql/15/bin"


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Postgres:
    """Debian's PostgreSQL 15 as the `postgres` user, own data dir and port, trust auth on
    127.0.0.1 (the server's password is ignored)."""

    def __init__(self, workdir: str):
        self.dir = workdir
        self.data = os.path.join(workdir, "data")
        self.port = free_port()
        self.proc = None

    def _as_postgres(self):
        import pwd
        pw = pwd.getpwnam("postgres")
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def start(self) -> "Postgres":
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        ids = self._as_postgres()
        os.chown(self.dir, ids["user"], ids["group"])
        if not os.path.exists(self.data):
            subprocess.run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                            "-E", "UTF8", "--no-sync"], check=True, capture_output=True,
                           cwd=self.dir, **ids)
        log = open(os.path.join(self.dir, "postgres.log"), "ab")
        self.proc = subprocess.Popen(
            [f"{PG_BIN}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True, **ids)
        wait_port(self.port, 30)
        for _ in range(100):   # the port opens before recovery ends
            if self.psql("SELECT 1", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not come up: " + self.log())

    def psql(self, sql: str, db: str = "postgres", check=True):
        return subprocess.run([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                              capture_output=True, text=True, check=check)

    def create_db(self, name: str) -> str:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "postgres.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)    # fast shutdown


class Redis:
    def __init__(self, workdir: str):
        self.dir = workdir
        self.port = free_port()
        self.proc = None

    def start(self) -> "Redis":
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=open(os.path.join(self.dir, "redis.log"), "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_port(self.port)
        return self

    def flush(self) -> None:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "FLUSHALL"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        _stop(self.proc)


def _rsa_pair(workdir: str, name: str) -> tuple:
    key = os.path.join(workdir, f"{name}.pem")
    pub = os.path.join(workdir, f"{name}.pub.pem")
    if not os.path.exists(key):
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out", pub], check=True,
                       capture_output=True)
    return key, pub


class ApiError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Server:
    """`server server` on :8080/:2222; `.admin(...)` runs the operator CLI on its database."""

    def __init__(self, binary: str, workdir: str, pg: Postgres, redis: Redis, db: str):
        self.bin = binary
        self.dir = workdir
        self.pg = pg
        self.redis = redis
        self.db = db
        self.proc = None
        self.starts = 0
        os.makedirs(workdir, exist_ok=True)
        self.api_key, self.api_pub = _rsa_pair(workdir, "api")
        self.host_key, _ = _rsa_pair(workdir, "ssh_host")
        self.log_path = os.path.join(workdir, "server.log")

    def env(self) -> dict:
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "TZ") if k in os.environ}
        return dict(keep, SHELLHUB_VERSION=VERSION, SHELLHUB_EDITION="community",
                    SHELLHUB_SSH_PORT=str(SSH_PORT), DATABASE="postgres",
                    POSTGRES_HOST="127.0.0.1", POSTGRES_PORT=str(self.pg.port),
                    POSTGRES_USERNAME="postgres", POSTGRES_PASSWORD="unused",
                    POSTGRES_DATABASE=self.db, REDIS_URI=f"redis://127.0.0.1:{self.redis.port}",
                    PRIVATE_KEY=self.api_key, PUBLIC_KEY=self.api_pub,
                    SSH_HOST_KEY_FILE=self.host_key, METRICS="false")

    def start(self, timeout: float = 60) -> "Server":
        for port in (API_PORT, SSH_PORT):
            if port_taken(port):
                raise RuntimeError(f"port {port} is already in use on this machine: the real "
                                   f"ShellHub server needs 8080 and 2222 (fixed in its code)")
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen([self.bin, "server"], env=self.env(), cwd=self.dir,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("shellhub server exited: " + self.log()[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{API_PORT}/info", timeout=2) as r:
                    if r.status == 200:
                        wait_port(SSH_PORT, max(1, end - time.monotonic()))
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("shellhub server did not answer /info: " + self.log()[-3000:])

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def admin(self, *args: str) -> str:
        r = subprocess.run([self.bin, "admin", *args], env=self.env(), cwd=self.dir,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"server admin {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout


class Api:
    """The ShellHub HTTP API (through any front) with a user's JWT."""

    def __init__(self, base: str = f"http://127.0.0.1:{API_PORT}"):
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body=None, token=True, ok=(200,)):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token and self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read().decode(errors="replace")
        if status not in ok:
            raise ApiError(status, f"{method} {path}: {raw}")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def login(self, username: str, password: str) -> dict:
        r = self.call("POST", "/api/login", {"username": username, "password": password},
                      token=False)
        self.token = r["token"]
        return r

    def namespace(self) -> dict:
        return self.call("GET", "/api/namespaces")[0]

    def devices(self, status: str | None = None) -> list:
        path = "/api/devices?per_page=100"
        if status:
            path += "&status=" + status
        return self.call("GET", path) or []

    def device(self, uid: str) -> dict:
        return self.call("GET", f"/api/devices/{uid}")

    def accept(self, uid: str) -> None:
        self.call("PATCH", f"/api/devices/{uid}/accept", ok=(200, 204))

    def remove(self, uid: str) -> None:
        self.call("DELETE", f"/api/devices/{uid}", ok=(200, 204))

    def wait_device(self, pred, timeout: float = 30, status: str | None = None) -> dict:
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            for st in ([status] if status else ["pending", "accepted"]):
                try:
                    seen = self.devices(st)
                except (ApiError, OSError):
                    seen = []
                for d in seen:
                    if pred(d):
                        return d
            time.sleep(0.25)
        raise TimeoutError(f"no device matched within {timeout}s; last list: {seen}")

    def add_public_key(self, pub_line: str, name: str = "interop") -> None:
        self.call("POST", "/api/sshkeys/public-keys",
                  {"name": name, "data": base64.b64encode(pub_line.encode()).decode(),
                   "username": ".*", "filter": {"hostname": ".*"}})

    def add_identity_key(self, pub_line: str, name: str = "interop") -> None:
        self.call("POST", "/api/ssh-identities", {"name": name, "data": pub_line},
                  ok=(200, 201, 204))


NGINX_CONF = """\
    upstream shellhub {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location ~ ^/(api|ssh|agent|ws|info|healthcheck)(/|$) {{
            proxy_pass http://shellhub;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
        }}
        location / {{ return 404; }}
    }}
"""


class Gateway:
    """nginx in the role of ShellHub's gateway (production: Caddy): one plain-HTTP and one
    HTTPS listener (test CA) in front of the server's :8080."""

    def __init__(self, workdir: str, tls: dict):
        self.dir = workdir
        self.tls = tls
        self.http_port = free_port()
        self.https_port = free_port()
        self.proc = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def start(self) -> "Gateway":
        self.proc = start_nginx(self.dir, NGINX_CONF.format(
            http_port=self.http_port, https_port=self.https_port, cert=self.tls["cert"],
            key=self.tls["key"], upstream=API_PORT), connections=512)
        wait_port(self.http_port)
        wait_port(self.https_port)
        return self

    def stop(self) -> None:
        _stop(self.proc)


class ShellHub:
    """Everything together. `setup(mode)` gives a fresh database with one user and namespace:
    mode "legacy" through the operator CLI, "identity" through first-boot /api/setup."""

    USER, PASSWORD, EMAIL, NAMESPACE = "interop", "interop-pass-1", "interop@example.com", "lab"

    def __init__(self, binary: str, workdir: str, tls: dict):
        self.bin = binary
        self.dir = workdir
        self.pg = Postgres(os.path.join(workdir, "pg"))
        self.redis = Redis(os.path.join(workdir, "redis"))
        self.gateway = Gateway(os.path.join(workdir, "nginx"), tls)
        self.server: Server | None = None
        self.api = Api()
        self.mode = ""
        self.tenant = ""
        self.generation = 0

    def start(self) -> "ShellHub":
        for port in (API_PORT, SSH_PORT):
            if port_taken(port):
                raise RuntimeError(f"port {port} is already in use on this machine: the real "
                                   f"ShellHub server needs 8080 and 2222 (fixed in its code)")
        self.pg.start()
        self.redis.start()
        self.gateway.start()
        return self

    def setup(self, mode: str) -> "ShellHub":
        """A fresh database (the community edition holds one namespace) in `mode`."""
        if self.server:
            self.server.stop()
        self.generation += 1
        db = self.pg.create_db(f"shellhub{self.generation}")
        self.redis.flush()
        self.server = Server(self.bin, os.path.join(self.dir, "server"), self.pg, self.redis, db)
        self.server.start()
        self.api = Api()
        if mode == "legacy":
            self.server.admin("user", "create", self.USER, self.PASSWORD, self.EMAIL)
            self.server.admin("namespace", "create", self.NAMESPACE, self.USER,
                              "--ssh-access-mode=legacy")
            self.server.stop()       # the CLI wrote the database behind the server's cache
            self.redis.flush()
            self.server.start()
        elif mode == "identity":
            self.api.call("POST", "/api/setup", {"email": self.EMAIL, "name": self.USER,
                                                 "username": self.USER,
                                                 "password": self.PASSWORD,
                                                 "namespace": self.NAMESPACE},
                          token=False, ok=(200, 201, 204))
        else:
            raise ValueError(mode)
        self.api.login(self.USER, self.PASSWORD)
        self.tenant = self.api.namespace()["tenant_id"]
        self.mode = mode
        return self

    def ensure_running(self) -> None:
        """After a case that stopped or killed the server."""
        if self.server and (self.server.proc is None or self.server.proc.poll() is not None):
            self.server.start()

    def stop(self) -> None:
        for p in (self.server, self.gateway, self.redis, self.pg):
            if p is not None:
                try:
                    p.stop()
                except Exception:   # noqa: BLE001 — stop the rest regardless
                    pass
