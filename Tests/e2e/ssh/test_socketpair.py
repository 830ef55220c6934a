"""The agent's topology: each connection served on one end of a socketpair, the stream pumped
into the other end (`ssh-serve --socketpair`)."""
import hashlib
import os
import subprocess


def test_exec_sftp_and_parallel_through_socketpair(make_server, tmp_path):
    s = make_server(extra=["--socketpair"])
    r = s.ssh("echo hi; echo err >&2; exit 9")
    assert (r.returncode, r.stdout, r.stderr) == (9, b"hi\n", b"err\n")
    data = os.urandom(4 * 1024 * 1024)
    r = s.ssh("cat | sha256sum; head -c 3000000 /dev/zero | wc -c", input=data, timeout=60)
    out = r.stdout.decode().split()
    assert out[0] == hashlib.sha256(data).hexdigest() and out[2] == "3000000"
    procs = [subprocess.Popen(["ssh", "-p", str(s.port), *s.opts(), f"{s.user}@127.0.0.1",
                               f"sleep 0.5; echo {i}"], env=s.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
             for i in range(8)]
    for i, p in enumerate(procs):
        assert p.communicate(timeout=60)[0] == f"{i}\n".encode()
    log = s.logtext()
    assert log.count("accepted") == 10


def test_key_oracle_pty_and_parallel(make_server, tmp_path):
    # The oracle answering on a later loop turn, key login, pty and parallel clients.
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    key.chmod(0o600)
    s = make_server(extra=["--oracle-key", str(key)])
    r = s.ssh("echo hi; echo err >&2; exit 4")
    assert (r.returncode, r.stdout, r.stderr) == (4, b"hi\n", b"err\n")
    data = os.urandom(3 * 1024 * 1024)
    r = s.ssh("cat | sha256sum", input=data, timeout=60)
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    r = s.ssh("echo key-ok", password=False,
              extra=["-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes",
                     "-o", "BatchMode=yes", "-i", str(key)])
    assert r.stdout == b"key-ok\n", r.stderr
    r = s.ssh("tty; exit 6", extra=["-tt"])
    assert r.returncode == 6 and r.stdout.startswith(b"/dev/pts/")
    procs = [subprocess.Popen(["ssh", "-p", str(s.port), *s.opts(), f"{s.user}@127.0.0.1",
                               f"sleep 0.5; echo {i}"], env=s.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
             for i in range(8)]
    for i, p in enumerate(procs):
        assert p.communicate(timeout=60)[0] == f"{i}\n".encode()
