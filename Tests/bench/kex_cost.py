"""Cost of each SSH key exchange Tether's server could agree to, on a board binary under
qemu-user (issue 13 item 11): the whole `ssh ... true` (connect, KEX, RSA host-key signature,
password login, one exec) timed for every algorithm in turn, round after round, so that the
machine's noise falls on all of them alike; reported as the median and as a ratio to
curve25519-sha256 (the one ShellHub's gateway and OpenSSH pick).

Usage (repository root, after `make cross BOARD=beaglebone-black`):
    .venv/bin/python Tests/bench/kex_cost.py [--bin dist/beaglebone-black/tether]
        [--runner qemu-arm-static] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

KEX = ["curve25519-sha256", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
       "diffie-hellman-group14-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="dist/beaglebone-black/tether")
    ap.add_argument("--runner", default="qemu-arm-static")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kex", nargs="*", default=KEX)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    key = os.path.join(tmp, "host.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True, capture_output=True)
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    hashed = subprocess.run(["openssl", "passwd", "-6", "pw"], capture_output=True, text=True).stdout.strip()
    shadow = os.path.join(tmp, "shadow")
    open(shadow, "w").write(f"{user}:{hashed}:19000:0:99999:7:::\n")
    askpass = os.path.join(tmp, "askpass")
    open(askpass, "w").write("#!/bin/sh\necho pw\n")
    os.chmod(askpass, 0o755)
    port = free_port()
    runner = a.runner.split() if a.runner else []
    server = subprocess.Popen([*runner, a.bin, "ssh-serve", "--port", str(port), "--host-key", key,
                               "--shadow", shadow], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        times = {k: [] for k in a.kex}
        for _ in range(a.rounds):
            for k in a.kex:
                t = time.monotonic()
                r = subprocess.run(["ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no",
                                    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                    "-o", f"KexAlgorithms={k}", "-o", "PubkeyAuthentication=no",
                                    "-o", "PreferredAuthentications=password", f"{user}@127.0.0.1", "true"],
                                   env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
                elapsed = time.monotonic() - t
                if r.returncode != 0:
                    times[k].append(None)
                    print(f"{k}: failed: {r.stderr.decode().strip()[:120]}", file=sys.stderr)
                else:
                    times[k].append(elapsed)
        base = statistics.median([t for t in times[a.kex[0]] if t is not None])
        print(f"{'key exchange':32} {'median s':>9} {'ratio':>6}   ({a.bin} under {a.runner or 'no runner'}, {a.rounds} rounds)")
        for k in a.kex:
            ok = [t for t in times[k] if t is not None]
            if not ok:
                print(f"{k:32} {'refused':>9}")
                continue
            m = statistics.median(ok)
            print(f"{k:32} {m:9.2f} {m / base:6.2f}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
