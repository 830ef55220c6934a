"""Idle upstream traffic of the agent, as a carrier bills it, with the server's real timers.

For each transport (v2, v1) and each number of idle SSH sessions (0, 1, 10): the dev hub with
its default (ShellHub) timers, nginx TLS in front, a counting relay between the agent and nginx
(IP bytes = payload + 52 bytes per segment, pure ACKs included; see Tests/hub/testing.py), the
agent, and N idle `ssh -N` sessions through the hub's port map. After a warm-up, the relay
counts everything the agent sends for `--minutes`; the figure is scaled to one hour. All runs
go in parallel, so the whole benchmark takes `--minutes` plus about a minute.

Also reported: the agent's voluntary context switches (wake-ups) and RSS from /proc, scaled
to one hour, and the periodic re-auth cost (one device auth over a fresh TLS connection,
measured on the relay at start-up) amortised over the default 4 h interval.

Usage (from the repository root, after `make deps` and `swift build -c release`):
    .venv/bin/python Tests/bench/idle_traffic.py --tether .build/release/tether --minutes 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from hub.config import DEFAULT_TENANT  # noqa: E402
from hub.testing import (AgentProcess, HubProcess, Nginx, TrafficRelay, agent_env,  # noqa: E402
                         make_ca, write_device_key)

GO_AGENT = {  # KB/h upstream, TLS, defaults: measured against the real server beside the Go
    # agent (interop_side_by_side.py, BENCHMARKS.md 2026-12-03; PROTOCOL.md 8.4 computed
    # 56/85/377 and 50/78/333)
    (2, 0): 57.1, (2, 1): 88.0, (2, 10): 395.8, (1, 0): 59.6, (1, 1): 89.6, (1, 10): 347.6}
FLOOR_V2 = 9.5  # PROTOCOL.md 8.5
REAUTH_HOURS = 4


def proc_stats(pid: int) -> tuple[int, int]:
    """(voluntary context switches, VmRSS KiB) of a process."""
    ctx = rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                ctx = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return ctx, rss


def user_key(workdir: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = os.path.join(workdir, "id_rsa")
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    return path, pem


def run_case(tether: str, transport: int, sessions: int, minutes: float, tls: dict,
             results: dict, workroot: str, keepalive: str = "") -> None:
    work = os.path.join(workroot, f"v{transport}-{sessions}")
    os.makedirs(work)
    hub = HubProcess(os.path.join(work, "hub"), "--port-map", "e2e-board=0").start()
    nginx = Nginx(os.path.join(work, "nginx"), hub.port, "3600s", tls=tls).start()
    relay = TrafficRelay(nginx.port).start()
    keyfile = os.path.join(work, "device.key")
    write_device_key(keyfile)
    env = agent_env(f"https://127.0.0.1:{relay.port}", keyfile, tenant=DEFAULT_TENANT,
                    transport=transport, ca=nginx.ca,
                    extra={"SHELLHUB_LOG_LEVEL": "info", "TETHER_SESSION_SLOTS": "16",
                           **({"SHELLHUB_KEEPALIVE_INTERVAL": keepalive} if keepalive else {})})
    agent = AgentProcess([tether, "run"], env, os.path.join(work, "agent.log"))
    ssh_procs = []
    try:
        dev = hub.wait_device(lambda d: d["online"] and d["connected"], timeout=60)
        auth_up = relay.snapshot()["up"]["ip_bytes"]  # device auth + tunnel set-up
        ident, pem = user_key(work)
        hub.api("POST", "/api/hub/ssh-keys", {"private_key": pem})
        port = hub.port_map(dev["uid"])
        for _ in range(sessions):
            ssh_procs.append(subprocess.Popen(
                ["ssh", "-N", "-p", str(port), "-i", ident, "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ServerAliveInterval=0", "-o", "LogLevel=ERROR", "root@127.0.0.1"],
                stdin=subprocess.DEVNULL))
            # Staggered: the agent takes at most 8 dial-backs at once (v1 answers more
            # simultaneous conn-ready with pickup-failed, by design).
            time.sleep(0.5)
        deadline = time.time() + 60
        while len(hub.device(dev["uid"])["sessions"]) < sessions and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(20)  # let set-up traffic settle
        relay.reset()
        ctx0, _ = proc_stats(agent.proc.pid)
        t0 = time.time()
        time.sleep(minutes * 60)
        elapsed = time.time() - t0
        snap = relay.snapshot()
        ctx1, rss = proc_stats(agent.proc.pid)
        scale = 3600.0 / elapsed
        results[(transport, sessions)] = {
            "up_kb_h": snap["up"]["ip_bytes"] * scale / 1000,
            "up_segments_h": snap["up"]["segments"] * scale,
            "down_kb_h": snap["down"]["ip_bytes"] * scale / 1000,
            "wakeups_h": (ctx1 - ctx0) * scale,
            "rss_kib": rss,
            "auth_kb": auth_up / 1000,
            "sessions_seen": len(hub.device(dev["uid"])["sessions"]),
            "still_online": hub.device(dev["uid"])["connected"],
        }
    except Exception as e:  # report, don't hide
        results[(transport, sessions)] = {"error": repr(e), "log": agent.log()[-800:]}
    finally:
        for p in ssh_procs:
            p.terminate()
        agent.stop()
        relay.stop()
        nginx.stop()
        hub.stop()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tether", default=os.environ.get("TETHER_BIN", ".build/release/tether"))
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--sessions", default="0,1,10")
    p.add_argument("--transports", default="2,1")
    p.add_argument("--keepalive-interval", default="",
                   help="SHELLHUB_KEEPALIVE_INTERVAL for the agent (set: per-session SSH "
                   "keepalives on; default unset: off)")
    a = p.parse_args()
    workroot = tempfile.mkdtemp(prefix="tether-idle-")
    tls = make_ca(os.path.join(workroot, "tls"))
    results: dict = {}
    threads = []
    for t in [int(x) for x in a.transports.split(",")]:
        for s in [int(x) for x in a.sessions.split(",")]:
            th = threading.Thread(target=run_case, args=(os.path.abspath(a.tether), t, s, a.minutes,
                                                          tls, results, workroot,
                                                          a.keepalive_interval))
            th.start()
            threads.append(th)
    for th in threads:
        th.join()
    print(f"\nidle window {a.minutes} min per case, scaled to 1 h; re-auth every {REAUTH_HOURS} h "
          "amortised; Go agent figures measured on the real server (BENCHMARKS.md); "
          f"SHELLHUB_KEEPALIVE_INTERVAL={a.keepalive_interval or 'unset'}\n")
    print("| transport | idle sessions | upstream KB/h (tunnel) | + re-auth | total | Go agent | "
          "ratio | segments/h | downstream KB/h | wake-ups/h | RSS KiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(results, key=lambda k: (-k[0], k[1])):
        r = results[key]
        if "error" in r:
            print(f"| v{key[0]} | {key[1]} | error: {r['error']} |")
            continue
        reauth = r["auth_kb"] / REAUTH_HOURS
        total = r["up_kb_h"] + reauth
        go = GO_AGENT[key]
        print(f"| v{key[0]} | {key[1]} | {r['up_kb_h']:.1f} | {reauth:.2f} | {total:.1f} | {go} | "
              f"{total / go:.2f} | {r['up_segments_h']:.0f} | {r['down_kb_h']:.1f} | "
              f"{r['wakeups_h']:.0f} | {r['rss_kib']} |")
    v2 = [results[k] for k in results if k[0] == 2 and "error" not in results[k]]
    if v2:
        worst = max(r["up_kb_h"] + r["auth_kb"] / REAUTH_HOURS for r in v2)
        print(f"\nv2 worst case {worst:.1f} KB/h vs floor {FLOOR_V2} KB/h: "
              f"{(worst / FLOOR_V2 - 1) * 100:+.0f} %")
    return 0 if all("error" not in r and r["still_online"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
