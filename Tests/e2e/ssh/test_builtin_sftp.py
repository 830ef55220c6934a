"""The built-in SFTP v3 server (`tether sftp-server`), used when the board has no sftp-server."""
import hashlib
import os
import subprocess


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def sftp(server, script):
    return subprocess.run(["sftp", "-P", str(server.port), *server.opts(),
                           f"{server.user}@127.0.0.1"], input=script.encode(), env=server.env(),
                          capture_output=True, timeout=60)


def test_builtin_sftp_transfer_and_file_operations(make_server, tmp_path):
    s = make_server(extra=["--builtin-sftp"])
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 7))
    work = tmp_path / "remote"
    work.mkdir()
    r = sftp(s, f"""cd {work}
put {src} up.bin
get up.bin {tmp_path}/back.bin
mkdir sub
rename up.bin sub/moved.bin
chmod 600 sub/moved.bin
symlink sub/moved.bin link.bin
ls -l sub
pwd
rm link.bin
""")
    assert r.returncode == 0, r.stderr
    assert sha(src) == sha(tmp_path / "back.bin") == sha(work / "sub" / "moved.bin")
    assert oct((work / "sub" / "moved.bin").stat().st_mode & 0o777) == "0o600"
    assert not (work / "link.bin").exists()
    out = r.stdout.decode()
    assert "moved.bin" in out and "-rw-------" in out
    assert f"Remote working directory: {work}" in out
    # Errors come back as SFTP status codes, not a dead session.
    r = sftp(s, f"get {work}/missing.bin {tmp_path}/x\nrmdir {work}/sub\nls {work}\n")
    assert b"not found" in r.stderr.lower() or b"no such file" in r.stderr.lower()
    assert (work / "sub").exists()  # rmdir of a non-empty directory failed cleanly
    assert "sub" in r.stdout.decode()


def test_builtin_sftp_serves_modern_scp(make_server, tmp_path):
    s = make_server(extra=["--builtin-sftp"])
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(1_500_000))
    dst = tmp_path / "b.bin"
    r = subprocess.run(["scp", "-s", "-P", str(s.port), *s.opts(), str(src),
                        f"{s.user}@127.0.0.1:{dst}"], env=s.env(), capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert sha(src) == sha(dst)
