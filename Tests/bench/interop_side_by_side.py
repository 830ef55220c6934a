"""Tether beside ShellHub's own Go agent, both connected at once to the same real ShellHub
server (v0.27.0-rc.6, Tests/interop/shellhub.py: PostgreSQL, Redis, server, nginx gateway).

Cases: transport v2 and v1 x plain HTTP and TLS (nginx with a test CA) x 0, 1 and 10 idle
SSH sessions; one Tether and one Go agent per case, 24 agents in all, all in the same window.
Each agent dials the gateway through its own counting relay (Tests/hub/testing.py TrafficRelay:
kernel TCP_INFO counters of the agent-facing socket; IP bytes = payload + 52 per segment, pure
ACKs included). Idle sessions: `ssh -p 2222 root@lab.<device>@127.0.0.1 exec sleep` through
the real gateway, logged in with a namespace public key (legacy mode), so both agents serve
them the same way. After a warm-up the relays count `--minutes`; figures are scaled to 1 h.

Also measured: VmRSS of every agent at the end of the window (idle = 0-session case; per
session = (10-session - 0-session) / 10); then the server is stopped for `--outage` seconds:
HTTP requests per second each plain-HTTP agent sends meanwhile (request lines counted by a
second relay behind the counting one) and, after the server is back, the time until an SSH
session through the gateway works again, for every 0-session agent.

Usage (repository root; Tether's x86_64 board build, `make cross BOARD=generic-x86_64`):
    .venv/bin/python Tests/bench/interop_side_by_side.py --minutes 10
Needs ports 8080 and 2222 free (the server binds them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests"))
sys.path.insert(0, os.path.join(ROOT, "Tests", "interop"))

from hub.testing import (AgentProcess, TrafficRelay, agent_env, make_ca,  # noqa: E402
                         write_device_key)
from shellhub import SSH_PORT, ShellHub  # noqa: E402

REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|PATCH|DELETE|HEAD) (/[^ ]*) HTTP/1\.[01]\r\n")
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", "ServerAliveInterval=0", "-o", "ConnectTimeout=20"]


class RequestCounter:
    """Plain TCP relay that timestamps every HTTP request line going upstream."""

    def __init__(self, target_port: int, loop: asyncio.AbstractEventLoop):
        self.target = target_port
        self.loop = loop
        self.requests: list = []      # (monotonic, path)
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def _client(self, r, w):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.close()
            return

        async def up():
            carry = b""
            try:
                while True:
                    d = await r.read(65536)
                    if not d:
                        break
                    buf = carry + d
                    for m in REQUEST_LINE.finditer(buf):
                        self.requests.append((time.monotonic(), m.group(1).decode()))
                    nl = buf.rfind(b"\n")
                    carry = buf[nl + 1:][-256:]
                    uw.write(d)
                    await uw.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                uw.close()

        async def down():
            try:
                while True:
                    d = await ur.read(65536)
                    if not d:
                        break
                    w.write(d)
                    await w.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                w.close()
        await asyncio.gather(up(), down(), return_exceptions=True)


class Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tether", default=os.path.join(ROOT, "dist/generic-x86_64/tether"))
    p.add_argument("--go", default=os.path.join(ROOT, ".cache/peers/shellhub-agent"))
    p.add_argument("--server", default=os.environ.get(
        "SHELLHUB_SERVER_BIN", os.path.join(ROOT, ".cache/peers/shellhub-server")))
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--warmup", type=float, default=60)
    p.add_argument("--outage", type=float, default=60)
    p.add_argument("--sessions", default="0,1,10")
    p.add_argument("--json", default="")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs) in /tmp")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="tether-side-")
    os.chmod(work, 0o755)
    tls = make_ca(os.path.join(work, "tls"))
    sh = ShellHub(a.server, os.path.join(work, "shellhub"), tls).start()
    loop = Loop()
    cases, sessions_procs, relays = [], [], []
    counts = [int(x) for x in a.sessions.split(",")]
    try:
        sh.setup("legacy")
        key = os.path.join(work, "id_rsa")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key],
                       check=True)
        sh.api.add_public_key(open(key + ".pub").read().strip())
        n = 0
        for transport in (2, 1):
            for scheme in ("http", "https"):
                for sessions in counts:
                    for kind in ("tether", "go"):
                        n += 1
                        name = f"{kind}-v{transport}-{scheme}-{sessions}"
                        front = sh.gateway.http_port if scheme == "http" else sh.gateway.https_port
                        counter = None
                        target = front
                        if scheme == "http":
                            counter = RequestCounter(front, loop.loop)
                            target = loop.run(counter.start())
                        relay = TrafficRelay(target).start()
                        relays.append(relay)
                        keyfile = write_device_key(os.path.join(work, f"{name}.key"))
                        env = agent_env(f"{scheme}://127.0.0.1:{relay.port}", keyfile,
                                        tenant=sh.tenant, transport=transport, hostname=name,
                                        ca=tls["ca"] if scheme == "https" else None,
                                        extra={"SHELLHUB_PREFERRED_IDENTITY": name,
                                               "SHELLHUB_LOG_LEVEL": "info",
                                               "TETHER_SESSION_SLOTS": "16"})
                        argv = [a.tether, "run"] if kind == "tether" else [a.go]
                        agent = AgentProcess(argv, env, os.path.join(work, f"{name}.log"))
                        cases.append({"name": name, "kind": kind, "transport": transport,
                                      "scheme": scheme, "sessions": sessions, "agent": agent,
                                      "relay": relay, "counter": counter})
        # accept everything
        end = time.monotonic() + 120
        pending = {c["name"]: c for c in cases}
        while pending and time.monotonic() < end:
            for d in sh.api.devices("pending"):
                if d["name"] in pending:
                    sh.api.accept(d["uid"])
                    pending.pop(d["name"])["uid"] = d["uid"]
            time.sleep(0.5)
        if pending:
            raise RuntimeError(f"never registered: {sorted(pending)}")
        time.sleep(3)
        for c in cases:
            c["rss_0"] = rss_kib(c["agent"].proc.pid)

        def login(c, command, timeout=60):
            return subprocess.run(["ssh", "-p", str(SSH_PORT), "-i", key, *SSH_OPTS,
                                   f"root@lab.{c['name']}@127.0.0.1", command],
                                  capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)

        for c in cases:
            for _ in range(c["sessions"]):
                sessions_procs.append(subprocess.Popen(
                    ["ssh", "-p", str(SSH_PORT), "-i", key, *SSH_OPTS,
                     f"root@lab.{c['name']}@127.0.0.1", "exec sleep 86400"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=open(os.path.join(work, f"ssh-{c['name']}.err"), "ab")))
                time.sleep(0.3)
        time.sleep(a.warmup)
        alive = sum(1 for s in sessions_procs if s.poll() is None)
        for r in relays:
            r.reset()
        t0 = time.monotonic()
        time.sleep(a.minutes * 60)
        elapsed = time.monotonic() - t0
        scale = 3600.0 / elapsed
        for c in cases:
            snap = c["relay"].snapshot()
            c["up_kb_h"] = snap["up"]["ip_bytes"] * scale / 1000
            c["up_seg_h"] = snap["up"]["segments"] * scale
            c["down_kb_h"] = snap["down"]["ip_bytes"] * scale / 1000
            c["rss"] = rss_kib(c["agent"].proc.pid)
            c["online"] = sh.api.device(c["uid"]).get("online")
        alive_end = sum(1 for s in sessions_procs if s.poll() is None)
        for s in sessions_procs:
            s.terminate()
        for s in sessions_procs:
            s.wait(10)
        time.sleep(5)

        # --- server outage and return
        zero = [c for c in cases if c["sessions"] == 0]
        for c in cases:
            if c["counter"]:
                c["req_before"] = len(c["counter"].requests)
        sh.server.stop()
        t_down = time.monotonic()
        time.sleep(a.outage)
        for c in cases:
            if c["counter"]:
                reqs = c["counter"].requests[c["req_before"]:]
                during = [r for r in reqs if r[0] <= time.monotonic()]
                c["outage_reqs"] = len(during)
                c["outage_paths"] = sorted({r[1].split("?")[0] for r in during})
        outage = time.monotonic() - t_down
        sh.server.start()
        t_up = time.monotonic()
        results = {}

        def until_session(c):
            end = time.monotonic() + 600
            while time.monotonic() < end:
                r = login(c, "echo back", timeout=30)
                if r.stdout == "back\n":
                    results[c["name"]] = time.monotonic() - t_up
                    return
                time.sleep(0.5)
            results[c["name"]] = None
        threads = [threading.Thread(target=until_session, args=(c,)) for c in zero]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in zero:
            c["back_s"] = results.get(c["name"])
    finally:
        for s in sessions_procs:
            if s.poll() is None:
                s.kill()
        for c in cases:
            c["agent"].stop()
        for r in relays:
            r.stop()
        sh.stop()
        if a.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report = {"window_s": elapsed, "warmup_s": a.warmup, "outage_s": outage,
              "sessions_alive": [alive, alive_end, len(sessions_procs)], "cases": [
                  {k: v for k, v in c.items() if k not in ("agent", "relay", "counter")}
                  for c in cases]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    print_report(report, a)
    return 0


def print_report(rep: dict, a) -> None:
    by = {(c["kind"], c["transport"], c["scheme"], c["sessions"]): c for c in rep["cases"]}
    print(f"\nwindow {rep['window_s'] / 60:.1f} min (after {rep['warmup_s']:.0f} s warm-up), "
          f"scaled to 1 h; idle sessions alive at start/end/started: {rep['sessions_alive']}")
    print("\n| transport | front | idle sessions | Tether up KB/h (segments/h) | "
          "Go agent up KB/h (segments/h) | Go / Tether | Tether down KB/h | Go down KB/h |")
    print("|---|---|---|---|---|---|---|---|")
    for t in (2, 1):
        for s in ("http", "https"):
            for n in sorted({c["sessions"] for c in rep["cases"]}):
                te, go = by[("tether", t, s, n)], by[("go", t, s, n)]
                ratio = go["up_kb_h"] / te["up_kb_h"] if te["up_kb_h"] else float("inf")
                print(f"| v{t} | {'TLS' if s == 'https' else 'plain'} | {n} | "
                      f"{te['up_kb_h']:.1f} ({te['up_seg_h']:.0f}) | "
                      f"{go['up_kb_h']:.1f} ({go['up_seg_h']:.0f}) | {ratio:.1f} | "
                      f"{te['down_kb_h']:.1f} | {go['down_kb_h']:.1f} |")
    print("\n| RSS (VmRSS, KiB) | transport | front | Tether idle | Tether per session | "
          "Go idle | Go per session |")
    print("|---|---|---|---|---|---|---|")
    top = max(c["sessions"] for c in rep["cases"])
    for t in (2, 1):
        for s in ("http", "https"):
            row = []
            for kind in ("tether", "go"):
                idle = by[(kind, t, s, 0)]["rss"]
                per = (by[(kind, t, s, top)]["rss"] - idle) / top if top else 0
                row += [f"{idle}", f"{per:+.0f}"]
            print(f"| | v{t} | {'TLS' if s == 'https' else 'plain'} | " + " | ".join(row) + " |")
    print(f"\nserver stopped for {rep['outage_s']:.0f} s, then started:")
    print("\n| transport | front | agent | requests/s while down (paths) | "
          "s until an SSH session works again |")
    print("|---|---|---|---|---|")
    for t in (2, 1):
        for s in ("http", "https"):
            for kind in ("tether", "go"):
                c = by[(kind, t, s, 0)]
                rq = (f"{c['outage_reqs'] / rep['outage_s']:.2f} ({', '.join(c['outage_paths'])})"
                      if "outage_reqs" in c else "n/a (TLS)")
                back = c.get("back_s")
                print(f"| v{t} | {'TLS' if s == 'https' else 'plain'} | {kind} | {rq} | "
                      f"{'never' if back is None else f'{back:.1f}'} |")
    offline = [c["name"] for c in rep["cases"] if not c["online"]]
    print("\noffline at the end of the window: " + (", ".join(offline) or "none"))


if __name__ == "__main__":
    sys.exit(main())
