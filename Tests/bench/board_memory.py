"""Memory of `tether run` natively: the x86_64 board build (static musl, Embedded Swift, libssh +
mbedTLS built from Debian's sources) against the host build (dynamic glibc, full Swift runtime,
Debian's libssh with OpenSSL), same scenario, same run.

Each case is one agent connected to its own dev hub through nginx TLS (verification on; the CA
file is the system bundle plus the test CA, so the agent parses a full bundle as on a board and
then compacts it to the hub's root). Stages: online and idle with 0 sessions, 1 and 10 idle
`ssh -N` sessions through the hub's port map, all closed, 10 idle pty shells, all closed.
After each stage has settled:

  rss   VmRSS, RssAnon, VmHWM from /proc/<pid>/status, Private_Dirty from smaps_rollup;
  heap  live heap bytes/blocks and the peak, counted by Tests/bench/heap_count.c (board: relinked
        with ld --wrap; host: LD_PRELOAD), read from /proc/<pid>/mem. The heap cases end with
        two batches of short exec sessions (`ssh ... true`): a leak shows as live blocks that
        grow from one batch to the next.
  valgrind (--valgrind, host build only: valgrind cannot replace malloc in a static binary)
        memcheck over a short run with sessions opened and closed (definitely/indirectly lost
        at exit), and massif's heap peak over the stage scenario.

Usage (repository root, as root: the agent's SSH server logs in as root):
    make cross BOARD=generic-x86_64
    swift build -c release --scratch-path .build-x86rel --product tether
    bash Tests/bench/heap_count_board.sh generic-x86_64
    .venv/bin/python Tests/bench/board_memory.py [--valgrind] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from hub.config import DEFAULT_TENANT  # noqa: E402
from hub.testing import (AGENT_HOSTNAME, AgentProcess, HubProcess, Nginx, agent_env,  # noqa: E402
                         make_ca, write_device_key)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "ServerAliveInterval=0", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=120"]
HEAP_MAGIC = 0x31746e6370616568
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


# ------------------------------------------------------------------------------ samplers

def rss_sample(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Private_Dirty", "Pss"):
                out[key] = int(value.split()[0])
    # Where the private dirty pages are: [heap], [stack], anonymous mappings, each file.
    by: dict = {}
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = os.path.basename(fields[5]) if len(fields) >= 6 else "[anonymous]"
            elif fields and fields[0] == "Private_Dirty:" and int(fields[1]):
                by[name] = by.get(name, 0) + int(fields[1])
    out["dirty_by"] = by
    return out


def nm_symbol(path: str, name: str, dynamic: bool = False) -> int:
    out = subprocess.run(["nm", *(["-D"] if dynamic else []), path], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise LookupError(f"{name} not in the symbol table of {path}")


class HeapReader:
    """Reads `tether_heap_count` (Tests/bench/heap_count.c) out of a running agent."""

    def __init__(self, binary: str | None = None, preload: str | None = None):
        self.preload = preload
        self.static_addr = nm_symbol(binary, "tether_heap_count") if binary else None
        self.so_offset = nm_symbol(preload, "tether_heap_count", dynamic=True) if preload else None

    def address(self, pid: int) -> int:
        if self.static_addr is not None:
            return self.static_addr
        real = os.path.realpath(self.preload)
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5] == real and int(fields[2], 16) == 0:
                    return int(fields[0].split("-")[0], 16) + self.so_offset
        raise LookupError(f"{real} is not mapped in {pid}")

    def __call__(self, pid: int) -> dict:
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(self.address(pid))
            magic, live, blocks, peak, allocs = struct.unpack("<5Q", f.read(40))
        if magic != HEAP_MAGIC:
            raise RuntimeError(f"heap counter not found in {pid} (magic {magic:#x})")
        return {"live_bytes": live, "live_blocks": blocks, "peak_bytes": peak, "allocs": allocs}


# ------------------------------------------------------------------------------ one case

class Case:
    """One agent (argv + env) against its own hub and nginx, walked through the stages."""

    def __init__(self, name: str, argv: list, transport: int, env_extra: dict, work: str,
                 tls: dict, bundle: str, sampler, settle: float, exec_batches: int,
                 exec_batch: int, slow: bool = False):
        self.name, self.argv, self.transport = name, argv, transport
        self.env_extra, self.work, self.tls, self.bundle = env_extra, work, tls, bundle
        self.sampler, self.settle, self.slow = sampler, settle, slow
        self.exec_batches, self.exec_batch = exec_batches, exec_batch
        self.stages: list = []
        self.error = ""
        self.agent: AgentProcess | None = None

    def sample(self, stage: str) -> None:
        time.sleep(self.settle)
        if self.agent.proc.poll() is not None:
            raise RuntimeError(f"agent exited ({self.agent.proc.returncode})")
        self.stages.append((stage, self.sampler(self.agent.proc.pid)))

    def wait_sessions(self, n: int, timeout: float) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if len(self.hub.device(self.uid)["sessions"]) == n:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.name}: hub sees {len(self.hub.device(self.uid)['sessions'])} "
                           f"sessions, expected {n}")

    def open_sessions(self, n: int, pty: bool) -> list:
        procs = []
        for _ in range(n):
            if pty:  # an interactive login shell on a pty, waiting for input
                argv = ["ssh", "-tt", "-p", str(self.port), "-i", self.key, *SSH_OPTS, "root@127.0.0.1"]
                procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            else:
                argv = ["ssh", "-N", "-p", str(self.port), "-i", self.key, *SSH_OPTS, "root@127.0.0.1"]
                procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
            # Staggered: on v1 the agent takes at most 8 dial-backs in flight.
            time.sleep(2.0 if self.slow else 0.5)
        return procs

    @staticmethod
    def close(procs: list) -> None:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)

    def exec_session(self) -> None:
        r = subprocess.run(["ssh", "-p", str(self.port), "-i", self.key, *SSH_OPTS, "root@127.0.0.1",
                            "true"], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{self.name}: ssh true exited {r.returncode}: {r.stderr.strip()}")

    def run(self, scenario: str) -> None:
        os.makedirs(self.work)
        self.hub = HubProcess(os.path.join(self.work, "hub"), "--port-map", f"{AGENT_HOSTNAME}=0").start()
        nginx = Nginx(os.path.join(self.work, "nginx"), self.hub.port, "3600s", tls=self.tls).start()
        keyfile = write_device_key(os.path.join(self.work, "device.key"))
        env = agent_env(nginx.url, keyfile, tenant=DEFAULT_TENANT, transport=self.transport,
                        ca=self.bundle, extra={"SHELLHUB_LOG_LEVEL": "info",
                                               "TETHER_SESSION_SLOTS": "16", **self.env_extra})
        # Exactly the CA file: an SSL_CERT_DIR inherited from the caller's shell would make the
        # agent parse that directory too (/etc/ssl/certs holds every certificate three times).
        env.pop("SSL_CERT_DIR", None)
        self.agent = AgentProcess([*self.argv, "run"], env, os.path.join(self.work, "agent.log"))
        procs: list = []
        wait = 600 if self.slow else 90
        try:
            end = time.time() + wait
            while not (dev := next((d for d in self.hub.devices() if d["connected"] and d["online"]),
                                   None)):
                if self.agent.proc.poll() is not None or time.time() > end:
                    raise RuntimeError("agent not online")
                time.sleep(0.3)
            self.uid = dev["uid"]
            self.key = user_key(self.work, self.hub)
            self.port = self.hub.port_map(self.uid)
            self.sample("idle, 0 sessions")
            if scenario == "memcheck":  # short: sessions opened and closed, then exit
                procs = self.open_sessions(2, pty=False)
                self.wait_sessions(2, wait)
                self.close(procs)
                procs = self.open_sessions(1, pty=True)
                self.wait_sessions(1, wait)
                self.close(procs)
                for _ in range(3):
                    self.exec_session()
                self.wait_sessions(0, wait)
                self.sample("all closed")
                return
            procs = self.open_sessions(1, pty=False)
            self.wait_sessions(1, wait)
            self.sample("1 idle ssh -N")
            procs += self.open_sessions(9, pty=False)
            self.wait_sessions(10, wait)
            self.sample("10 idle ssh -N")
            self.close(procs)
            self.wait_sessions(0, wait)
            self.sample("all closed")
            procs = self.open_sessions(10, pty=True)
            self.wait_sessions(10, wait)
            self.sample("10 idle pty shells")
            self.close(procs)
            self.wait_sessions(0, wait)
            self.sample("all closed again")
            for b in range(self.exec_batches):
                for _ in range(self.exec_batch):
                    self.exec_session()
                self.wait_sessions(0, wait)
                self.sample(f"after {(b + 1) * self.exec_batch} exec sessions")
        except Exception as e:  # reported in the table, never hidden
            self.error = f"{e!r}; agent log tail: {self.agent.log()[-600:]}"
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            stop_agent(self.agent, 300 if self.slow else 10)
            nginx.stop()
            self.hub.stop()


def stop_agent(agent: AgentProcess, grace: float) -> None:
    """SIGTERM, then wait `grace` seconds (valgrind's leak check runs at exit) before SIGKILL."""
    if agent.proc.poll() is None:
        agent.proc.terminate()
        try:
            agent.proc.wait(grace)
        except subprocess.TimeoutExpired:
            agent.proc.kill()
            agent.proc.wait()
    agent._log.close()


def user_key(work: str, hub: HubProcess) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = os.path.join(work, "id_rsa")
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)
    hub.api("POST", "/api/hub/ssh-keys", {"private_key": key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()})
    return path


def run_parallel(cases: list, scenario: str) -> None:
    threads = [threading.Thread(target=c.run, args=(scenario,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------------------------ valgrind parsing

def memcheck_summary(log_dir: str, pid: int) -> dict:
    path = os.path.join(log_dir, f"memcheck.{pid}.log")
    text = open(path).read()
    out = {"log": path}
    for kind in ("definitely lost", "indirectly lost", "possibly lost", "still reachable"):
        m = re.search(rf"{kind}: ([\d,]+) bytes in ([\d,]+) blocks", text)
        out[kind] = (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else None
    m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
    out["errors incl. leak records"] = int(m.group(1).replace(",", "")) if m else None
    out["memory errors (invalid access, uninitialised, bad free)"] = len(re.findall(
        r"== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched)",
        text))
    m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated", text)
    out["total"] = tuple(int(g.replace(",", "")) for g in m.groups()) if m else None
    return out


def massif_peak(path: str) -> dict:
    if not os.path.exists(path):
        return {"error": f"no {path}"}
    best = {"heap": 0, "extra": 0}
    heap = extra = 0
    for line in open(path):
        if line.startswith("mem_heap_B="):
            heap = int(line.split("=")[1])
        elif line.startswith("mem_heap_extra_B="):
            extra = int(line.split("=")[1])
            if heap + extra > best["heap"] + best["extra"]:
                best = {"heap": heap, "extra": extra}
    return best


# ------------------------------------------------------------------------------ report

def kib(n: float) -> str:
    return f"{n:,.0f}"


def report(rss_cases: list, heap_cases: list, vg: dict, out: dict) -> None:
    print("\n## RSS (KiB), /proc of the agent process\n")
    print("| build | transport | stage | VmRSS | RssAnon | VmHWM | Private_Dirty |")
    print("|---|---|---|---:|---:|---:|---:|")
    for c in rss_cases:
        for stage, s in c.stages:
            print(f"| {c.name} | v{c.transport} | {stage} | {kib(s['VmRSS'])} | {kib(s['RssAnon'])} | "
                  f"{kib(s['VmHWM'])} | {kib(s['Private_Dirty'])} |")
        if c.error:
            print(f"| {c.name} | v{c.transport} | ERROR | {c.error} |")
    by = {(c.name, c.transport): dict(c.stages) for c in rss_cases}
    print("\n## board / host, same stage\n")
    print("| transport | stage | VmRSS board / host | Private_Dirty board / host |")
    print("|---|---|---|---|")
    for t in (2, 1):
        b, h = by.get(("board", t), {}), by.get(("host", t), {})
        for stage in b:
            if stage in h:
                print(f"| v{t} | {stage} | {kib(b[stage]['VmRSS'])} / {kib(h[stage]['VmRSS'])} = "
                      f"{b[stage]['VmRSS'] / h[stage]['VmRSS']:.2f} | {kib(b[stage]['Private_Dirty'])} / "
                      f"{kib(h[stage]['Private_Dirty'])} = "
                      f"{b[stage]['Private_Dirty'] / h[stage]['Private_Dirty']:.2f} |")
    print("\n## Private_Dirty by mapping, idle with 0 sessions (KiB)\n")
    for c in rss_cases:
        if c.stages:
            parts = sorted(c.stages[0][1]["dirty_by"].items(), key=lambda kv: -kv[1])
            print(f"- {c.name} v{c.transport}: " + ", ".join(f"{k} {v:,}" for k, v in parts))
    print("\n## per idle session, KiB: ssh -N (10 sessions - 1 session) / 9 (the first session also maps"
          "\n## code and makes one-time allocations); pty shell (10 shells - all closed) / 10\n")
    print("| build | transport | VmRSS | Private_Dirty | ssh -N: live heap | pty shell: VmRSS | pty shell: live heap |")
    print("|---|---|---:|---:|---:|---:|---:|")
    hby = {(c.name, c.transport): dict(c.stages) for c in heap_cases}
    for (name, t), st in by.items():
        if "10 idle ssh -N" not in st:
            continue
        h = hby.get((name, t), {})
        def per(d: dict, a: str, b: str, k: str, n: int) -> float:
            return (d[a][k] - d[b][k]) / n if a in d and b in d else float("nan")
        print(f"| {name} | v{t} | {per(st, '10 idle ssh -N', '1 idle ssh -N', 'VmRSS', 9):.1f} | "
              f"{per(st, '10 idle ssh -N', '1 idle ssh -N', 'Private_Dirty', 9):.1f} | "
              f"{per(h, '10 idle ssh -N', '1 idle ssh -N', 'live_bytes', 9) / 1024:.1f} | "
              f"{per(st, '10 idle pty shells', 'all closed', 'VmRSS', 10):.1f} | "
              f"{per(h, '10 idle pty shells', 'all closed', 'live_bytes', 10) / 1024:.1f} |")
    print("\n## live heap (Tests/bench/heap_count.c: usable bytes of live blocks)\n")
    print("| build | transport | stage | live KiB | live blocks | peak KiB so far | allocations so far |")
    print("|---|---|---|---:|---:|---:|---:|")
    for c in heap_cases:
        for stage, s in c.stages:
            print(f"| {c.name} | v{c.transport} | {stage} | {s['live_bytes'] / 1024:,.1f} | "
                  f"{s['live_blocks']:,} | {s['peak_bytes'] / 1024:,.1f} | {s['allocs']:,} |")
        if c.error:
            print(f"| {c.name} | v{c.transport} | ERROR | {c.error} |")
    if vg:
        print("\n## valgrind (host build)\n")
        for name, v in vg.items():
            print(f"- {name}: {v}")
    out.update({
        "rss": {f"{c.name} v{c.transport}": {"stages": c.stages, "error": c.error} for c in rss_cases},
        "heap": {f"{c.name} v{c.transport}": {"stages": c.stages, "error": c.error} for c in heap_cases},
        "valgrind": vg,
    })


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "kernel": os.uname().release, "cpu": cpu,
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default=os.path.join(ROOT, "dist/generic-x86_64/tether"))
    p.add_argument("--host", default=os.path.join(ROOT, ".build-x86rel/release/tether"))
    p.add_argument("--board-counted", default=os.path.join(ROOT, ".build-bench/heapcount/generic-x86_64/tether"))
    p.add_argument("--preload", default=os.path.join(ROOT, ".build-bench/heapcount/libheapcount.so"))
    p.add_argument("--transports", default="2,1")
    p.add_argument("--settle", type=float, default=5.0, help="seconds between a stage and its sample")
    p.add_argument("--exec-batch", type=int, default=25, help="exec sessions per leak-check batch")
    p.add_argument("--skip", default="", help="comma list of phases to skip: rss,heap")
    p.add_argument("--valgrind", action="store_true", help="also memcheck and massif the host build")
    p.add_argument("--ca", choices=("system+test", "test"), default="system+test",
                   help="CA file of the agents: the system bundle plus the test CA, or the test CA only")
    p.add_argument("--json", default="")
    a = p.parse_args()
    for path in (a.board, a.host, a.board_counted, a.preload):
        if not os.path.exists(path):
            print(f"board_memory: missing {path} (see the usage in this file's docstring)")
            return 2
    transports = [int(t) for t in a.transports.split(",")]
    skip = set(filter(None, a.skip.split(",")))
    work = tempfile.mkdtemp(prefix="tether-mem-")
    tls = make_ca(os.path.join(work, "tls"))
    bundle = os.path.join(work, "bundle.pem")  # system bundle + the test CA, in that order
    with open(bundle, "w") as f:
        f.write((open(SYSTEM_BUNDLE).read() if a.ca == "system+test" else "") + open(tls["ca"]).read())
    info = machine()
    print(f"machine: {info}; board {a.board}; host {a.host}; CA file: {a.ca}; work {work}")
    print(subprocess.run([a.board, "--version"], capture_output=True, text=True).stdout.strip())
    print(subprocess.run([a.host, "--version"], capture_output=True, text=True).stdout.strip())

    def cases(kind: str) -> list:
        out = []
        for t in transports:
            if kind == "rss":
                builds = [("board", [a.board], {}, rss_sample), ("host", [a.host], {}, rss_sample)]
            else:
                builds = [("board", [a.board_counted], {}, HeapReader(binary=a.board_counted)),
                          ("host", [a.host], {"LD_PRELOAD": a.preload}, HeapReader(preload=a.preload))]
            for name, argv, env, sampler in builds:
                out.append(Case(name, argv, t, env, os.path.join(work, f"{kind}-{name}-v{t}"), tls,
                                bundle, sampler, a.settle, 2 if kind == "heap" else 0, a.exec_batch))
        return out

    t0 = time.time()
    rss_cases = [] if "rss" in skip else cases("rss")
    run_parallel(rss_cases, "stages")
    heap_cases = [] if "heap" in skip else cases("heap")
    run_parallel(heap_cases, "stages")
    vg: dict = {}
    if a.valgrind and shutil.which("valgrind"):
        # valgrind 3.19 cannot read the DWARF 5 of Swift's clang: run a copy without debug
        # info (the symbol table stays, and names the functions in leak reports).
        vg_host = os.path.join(work, "tether-host-nodebug")
        subprocess.run(["objcopy", "--strip-debug", a.host, vg_host], check=True)
        vg_cases = []
        for t in transports:
            d = os.path.join(work, f"memcheck-v{t}")
            os.makedirs(d)
            argv = ["valgrind", "--tool=memcheck", "--leak-check=full",
                    "--show-leak-kinds=definite,indirect", "--num-callers=30",
                    f"--log-file={d}/memcheck.%p.log", vg_host]
            vg_cases.append(Case("memcheck", argv, t, {}, os.path.join(d, "run"), tls, bundle,
                                 rss_sample, a.settle, 0, 0, slow=True))
        d = os.path.join(work, "massif-v2")
        os.makedirs(d)
        massif = Case("massif", ["valgrind", "--tool=massif", f"--massif-out-file={d}/massif.out", vg_host],
                      2, {}, os.path.join(d, "run"), tls, bundle, rss_sample, a.settle, 0, 0, slow=True)
        threads = [threading.Thread(target=c.run, args=("memcheck",)) for c in vg_cases]
        threads.append(threading.Thread(target=massif.run, args=("stages",)))
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for c in vg_cases:
            key = f"memcheck v{c.transport} (sessions opened and closed)"
            try:
                vg[key] = memcheck_summary(os.path.dirname(c.work), c.agent.proc.pid)
            except OSError as e:
                vg[key] = {"error": repr(e)}
            if c.error:
                vg[key]["run_error"] = c.error
        vg["massif v2 peak (stage scenario)"] = dict(massif_peak(os.path.join(d, "massif.out")),
                                                     run_error=massif.error)
    out = {"machine": info}
    report(rss_cases, heap_cases, vg, out)
    print(f"\nwall time {time.time() - t0:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if all(not c.error for c in rss_cases + heap_cases) else 1


if __name__ == "__main__":
    sys.exit(main())
