"""Measures the SSH server against OpenSSH's sshd on loopback, in the same run:
session setup time (ssh connect + publickey auth + exec `true` + exit), bulk throughput of
`head -c N /dev/zero` to the client, server CPU time per MiB, and RSS per open session.
Usage: python3 bench_ssh.py [TETHER_BIN] [MiB]   (needs root for sshd)."""
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TETHER = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TETHER_BIN", ".build-ssh/release/tether")
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 256
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / CLK  # incl. children
        except FileNotFoundError:
            pass
    return total


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp())
    host = tmp / "host.pem"
    key = tmp / "user.pem"
    for p, bits in ((host, 2048), (key, 3072)):
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(p), str(bits)],
                       check=True, capture_output=True)
        p.chmod(0o600)
    pub = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True).stdout
    (tmp / "authorized_keys").write_text(pub)
    (tmp / "shadow").write_text("")
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()

    servers = {}
    tport = free_port()
    servers["tether"] = (subprocess.Popen(
        [TETHER, "ssh-serve", "--port", str(tport), "--host-key", str(host), "--shadow",
         str(tmp / "shadow"), "--oracle-key", str(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), tport)
    if os.getuid() == 0 and shutil.which("sshd"):
        os.makedirs("/run/sshd", exist_ok=True)
        sport = free_port()
        cfg = tmp / "sshd_config"
        cfg.write_text(f"Port {sport}\nListenAddress 127.0.0.1\nHostKey {host}\n"
                       f"AuthorizedKeysFile {tmp}/authorized_keys\nPermitRootLogin yes\n"
                       "PasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n")
        servers["sshd"] = (subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                           sport)
    opts = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
            "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key),
            "-o", "PasswordAuthentication=no"]
    results = {}
    try:
        for name, (proc, port) in servers.items():
            wait_port(port)
            base = ["ssh", "-p", str(port), *opts, f"{user}@127.0.0.1"]
            setup = []
            for _ in range(10):
                t = time.perf_counter()
                subprocess.run(base + ["true"], check=True, stdin=subprocess.DEVNULL)
                setup.append(time.perf_counter() - t)
            # sshd forks per connection: count the whole process tree (listener + children).
            def tree(pid):
                out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
                kids = [int(x) for x in out.split()]
                return [pid] + [k for c in kids for k in tree(c)]
            cpu0 = cpu_seconds([proc.pid])
            t = time.perf_counter()
            bulk = subprocess.Popen(base + [f"head -c {MIB * 1048576} /dev/zero"],
                                    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
            total = 0
            peak_cpu = 0.0
            while True:
                d = bulk.stdout.read(1 << 20)
                if not d:
                    break
                total += len(d)
            bulk.wait()
            secs = time.perf_counter() - t
            time.sleep(0.3)
            cpu = cpu_seconds([proc.pid]) - cpu0
            assert total == MIB * 1048576, total
            # RSS: 8 idle sessions.
            rss0 = rss_kib(proc.pid)
            idle = [subprocess.Popen(base + ["sleep 20"], stdin=subprocess.DEVNULL)
                    for _ in range(8)]
            time.sleep(3)
            # Server processes only (sshd's per-connection processes; tether's one process),
            # not the users' shells.
            def server_rss():
                return sum(rss_kib(p) for p in tree(proc.pid)
                           if open(f"/proc/{p}/comm").read().strip() in ("sshd", "tether"))
            rss8 = server_rss() - rss0
            for p in idle:
                p.kill()
            results[name] = dict(setup_ms=statistics.median(setup) * 1000,
                                 mib_s=MIB / secs, cpu_ms_per_mib=cpu * 1000 / MIB,
                                 rss_per_session_kib=rss8 / 8, rss_base_kib=rss0)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
    for name, r in results.items():
        print(f"{name:7s} setup {r['setup_ms']:.0f} ms (median of 10) | {MIB} MiB: "
              f"{r['mib_s']:.0f} MiB/s, server CPU {r['cpu_ms_per_mib']:.2f} ms/MiB "
              f"(incl. children) | RSS base {r['rss_base_kib']} KiB, +{r['rss_per_session_kib']:.0f} KiB/session")
    if "sshd" in results:
        print(f"throughput ratio tether/sshd = {results['tether']['mib_s'] / results['sshd']['mib_s']:.2f}")


main()
