"""10,000 session open/close cycles through the agent's runtime (issue 13, stress cases): RSS,
open descriptors and live heap of `tether run` must stay flat.

One agent (host build, the heap counted by Tests/bench/heap_count.c through LD_PRELOAD) on the
dev hub; the hub's port map forwards each TCP connection through the tunnel into a session
slot. Each cycle opens a connection, sends an SSH version line, reads the agent's, and closes:
a whole slot life (stream, socketpair, SSHServerConnection, driver) without the cost of a key
exchange. Every `--login-every` cycles one full `ssh ... true` login runs too (pty-less exec:
child process, channel, auth). Samples after a warm-up and then every `--sample` cycles, each
after the agent has settled (0.5 s): VmRSS, RssAnon, descriptors (/proc/<pid>/fd), live heap
bytes and blocks. Flat means: the last sample equals the first after warm-up, give or take
allocator slack (a leak of one block per cycle would show as +10,000 blocks).

Usage (repository root, as root: the SSH server logs in as root):
    swift build && bash Tests/bench/heap_count_board.sh host 2>/dev/null || \
        (mkdir -p .build-bench/heapcount && cc -O2 -fPIC -shared \
         -o .build-bench/heapcount/libheapcount.so Tests/bench/heap_count.c)
    .venv/bin/python Tests/bench/session_cycles.py [--cycles 10000] [--transport 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from board_memory import HeapReader, rss_sample, user_key, SSH_OPTS  # noqa: E402
from hub.config import DEFAULT_TENANT  # noqa: E402
from hub.testing import AGENT_HOSTNAME, AgentProcess, HubProcess, agent_env, write_device_key  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def one_cycle(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"SSH-2.0-cycle\r\n")
        banner = b""
        while b"\n" not in banner:
            chunk = s.recv(256)
            if not chunk:
                return False
            banner += chunk
        return banner.startswith(b"SSH-2.0-")


def sample(pid: int, heap: HeapReader) -> dict:
    time.sleep(0.5)
    r = rss_sample(pid)
    h = heap(pid)
    return {"rss": r["VmRSS"], "anon": r["RssAnon"], "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "heap": h["live_bytes"], "blocks": h["live_blocks"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, ".build/debug/tether"))
    p.add_argument("--preload", default=os.path.join(ROOT, ".build-bench/heapcount/libheapcount.so"))
    p.add_argument("--cycles", type=int, default=10_000)
    p.add_argument("--sample", type=int, default=1_000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--login-every", type=int, default=100)
    p.add_argument("--transport", type=int, default=2)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="tether-cycles-")
    hub = HubProcess(os.path.join(work, "hub"), "--port-map", f"{AGENT_HOSTNAME}=0").start()
    key_file = os.path.join(work, "device.key")
    write_device_key(key_file)
    env = agent_env(hub.url, key_file, tenant=DEFAULT_TENANT, transport=a.transport,
                    extra={"LD_PRELOAD": a.preload})
    agent = AgentProcess([a.bin, "run"], env, os.path.join(work, "agent.log"))
    try:
        dev = hub.wait_device(lambda d: d["name"] == AGENT_HOSTNAME and d["connected"], timeout=60)
        port = hub.port_map(dev["uid"])
        key = user_key(work, hub)
        heap = HeapReader(preload=a.preload)
        failures = logins = 0
        started = time.monotonic()
        rows = []
        for i in range(1, a.cycles + a.warmup + 1):
            if not one_cycle(port):
                failures += 1
            if i % a.login_every == 0:
                r = subprocess.run(["ssh", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1", "true"],
                                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
                logins += 1
                failures += r.returncode != 0
            n = i - a.warmup
            if n == 0 or (n > 0 and n % a.sample == 0):
                s = sample(agent.proc.pid, heap)
                rows.append((n, s))
                print(f"{n:6d} cycles  VmRSS {s['rss']:6d} KiB  RssAnon {s['anon']:6d} KiB  "
                      f"fds {s['fds']:3d}  heap {s['heap'] / 1024:8.1f} KiB in {s['blocks']:5d} blocks", flush=True)
        took = time.monotonic() - started
        first, last = rows[0][1], rows[-1][1]
        print(f"{a.cycles} cycles + {logins} logins in {took:.0f} s ({failures} failed); "
              f"after warm-up -> end: VmRSS {last['rss'] - first['rss']:+d} KiB, "
              f"fds {last['fds'] - first['fds']:+d}, heap {(last['heap'] - first['heap']) / 1024:+.1f} KiB, "
              f"blocks {last['blocks'] - first['blocks']:+d}")
        print(f"machine: {os.uname().machine}, {os.cpu_count()} cores; {a.bin}; transport v{a.transport}")
        return 0 if failures == 0 else 1
    finally:
        agent.stop()
        hub.stop()


if __name__ == "__main__":
    sys.exit(main())
