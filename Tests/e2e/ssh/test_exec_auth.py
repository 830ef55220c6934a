"""exec sessions and authentication through real OpenSSH clients."""
import os
import socket
import subprocess
import time

from .conftest import PASSWORD, RUNNER, TETHER, openssl_hash


def test_exec_exit_status_and_stderr_separation(server):
    r = server.ssh("echo hi; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == b"hi\n"
    assert r.stderr == b"err\n"


def test_exec_stdin_roundtrip_and_eof(server):
    data = os.urandom(300_000)
    r = server.ssh("cat | sha256sum", input=data)
    import hashlib
    assert r.returncode == 0
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_shell_without_pty_runs_stdin_script(server):
    # `ssh host` with stdin not a tty: a login shell on pipes reading the script from stdin.
    r = server.ssh(input=b"echo via-stdin; echo to-err >&2; exit 4\n", extra=["-T"])
    assert r.returncode == 4
    assert r.stdout.endswith(b"via-stdin\n")
    assert b"to-err" in r.stderr


def test_environment_as_protocol(server):
    r = server.ssh("echo $HOME:$USER:$LOGNAME:$SHELLHUB_HOST:$SSH_CLIENT:$TERM; pwd; "
                   "echo LANG=$LANG LC_TIME=$LC_TIME FOO=$FOO",
                   extra=["-o", "SendEnv=LANG LC_TIME FOO"],
                   env={**server.env(), "LANG": "fr_FR.UTF-8", "LC_TIME": "C", "FOO": "bar"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    home = os.path.expanduser("~" + server.user)
    assert lines[0] == f"{home}:{server.user}:{server.user}:e2e-device:127.0.0.1 0 0:xterm"
    assert lines[1] == home
    assert lines[2] == "LANG=fr_FR.UTF-8 LC_TIME=C FOO="


def test_env_outside_allowlist_is_dropped_not_fatal(server):
    # ShellHub's own suite ("connection EXEC with environment variables"): SetEnv and SendEnv
    # of a variable outside LANG/LC_* leave the command running (exit 0) without it, while
    # LANG still reaches the program.
    r = server.ssh("echo FOO=${FOO-unset} BAR=${BAR-unset} LANG=$LANG",
                   extra=["-o", "SetEnv=FOO=bar LANG=de_DE.UTF-8", "-o", "SendEnv=BAR"],
                   env={**server.env(), "BAR": "baz"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "FOO=unset BAR=unset LANG=de_DE.UTF-8"


def test_env_request_with_want_reply_gets_success(server):
    # OpenSSH sends env without asking for a reply; Go's x/crypto (Session.Setenv, as ShellHub's
    # gateway relays it) asks, and takes a refusal as "ssh: setenv failed". asyncssh's
    # request primitive asks too: every env request before the program starts is a success.
    import asyncio

    import asyncssh

    async def run():
        async with asyncssh.connect("127.0.0.1", server.port, username=server.user,
                                    password=PASSWORD, known_hosts=None,
                                    preferred_auth="password") as conn:
            # A bare session channel: create_session would start the shell first.
            chan = asyncssh.channel.SSHClientChannel(
                conn, conn._loop, conn._utf8_decode_errors, None, "strict", 1 << 20, 32768)
            await chan._open(b"session")
            # A do-nothing session takes the exit status and data (a bare channel has none, and
            # asyncssh fails on an exit status it cannot hand on).
            chan._session = asyncssh.SSHClientSession()
            replies = []
            for name, value in (("FOO", "bar"), ("LANG", "C.UTF-8"), ("LC_BAD NAME", "x"),
                                ("LC_TIME", "C")):
                replies.append(await chan._make_request(
                    b"env", asyncssh.packet.String(name), asyncssh.packet.String(value)))
            # `cat` runs until the channel closes, so the last request meets a running program
            # on an open channel (with `true` the exit and close could come first: a CI flake).
            replies.append(await chan._make_request(b"exec", asyncssh.packet.String("cat")))
            # After the program started, env is refused (as the Go agent: before shell/exec only).
            replies.append(await chan._make_request(
                b"env", asyncssh.packet.String("LANG"), asyncssh.packet.String("C")))
            chan.close()
            return replies

    assert asyncio.run(run()) == [True, True, True, True, True, False]


def test_none_lists_publickey_password(server):
    r = subprocess.run(["ssh", "-v", "-p", str(server.port), *server.opts(), "-o", "BatchMode=yes",
                        f"{server.user}@127.0.0.1", "true"], capture_output=True, timeout=30)
    assert r.returncode == 255
    assert b"Authentications that can continue: publickey,password" in r.stderr


def test_wrong_password_and_unknown_user_refused(server):
    server.set_password("wrong")
    r = server.ssh("true")
    assert r.returncode == 255
    server.set_password(PASSWORD)
    r = server.ssh("true", user="no-such-user-xyz")
    assert r.returncode == 255
    log = server.logtext()
    assert "refused: wrong password" in log
    assert "refused: unknown user" in log
    assert "wrong" not in log.replace("wrong password", "")  # no secret in the log
    assert server.ssh("true").returncode == 0


def test_locked_and_empty_hashes(make_server, tmp_path):
    user = os.environ.get("USER") or "root"
    s = make_server(shadow_lines=[f"{user}:!{openssl_hash(PASSWORD)}:19000:0:99999:7:::"])
    assert s.ssh("true").returncode == 255
    assert "locked account" in s.logtext()


def test_yescrypt_and_md5_hashes(make_server):
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated, still present on the host (libxcrypt underneath)
    user = os.environ.get("USER") or "root"
    for setting in ["$y$j9T$F5Jx5fExrKuPp53xLKQ..1$", "$1$abcdefgh$", "$5$abcdefgh$"]:
        h = crypt.crypt(PASSWORD, setting)
        s = make_server(shadow_lines=[f"{user}:{h}:19000:0:99999:7:::"])
        r = s.ssh("echo ok")
        assert r.returncode == 0 and r.stdout == b"ok\n", (setting, r.stderr)


def test_single_user_mode_any_name(make_server):
    s = make_server(extra=["--single-user-hash", openssl_hash(PASSWORD, "-5")])
    r = s.ssh("id -un", user="whoever")
    assert r.returncode == 0
    assert r.stdout.decode().strip() == s.user
    s.set_password("nope")
    assert s.ssh("true", user="whoever").returncode == 255


def test_privileges_dropped_for_other_user(make_server, tmp_path):
    if os.getuid() != 0:
        import pytest
        pytest.skip("needs root")
    passwd = tmp_path / "passwd"
    passwd.write_text(open("/etc/passwd").read() + "tetheruser:x:4242:4343::/tmp:/bin/sh\n")
    s = make_server(passwd=passwd,
                    shadow_lines=[f"tetheruser:{openssl_hash(PASSWORD)}:19000:0:99999:7:::"])
    r = s.ssh("id -u; id -g; pwd; echo $SHELL", user="tetheruser")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["4242", "4343", "/tmp", "/bin/sh"]


def test_publickey_through_hub_oracle(make_server, tmp_path):
    key = tmp_path / "user.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "3072"], check=True,
                   capture_output=True)
    key.chmod(0o600)
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(other), "2048"], check=True,
                   capture_output=True)
    other.chmod(0o600)
    s = make_server(extra=["--oracle-key", str(key)])
    base = ["-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    r = s.ssh("echo key-ok", password=False, extra=base + ["-i", str(key)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"key-ok\n"
    # rsa-sha2-256 signature (what ShellHub's client picks from server-sig-algs).
    r = s.ssh("true", password=False,
              extra=base + ["-i", str(key), "-o", "PubkeyAcceptedAlgorithms=rsa-sha2-256"])
    assert r.returncode == 0, r.stderr
    r = s.ssh("true", password=False, extra=base + ["-i", str(other)])
    assert r.returncode == 255
    assert "hub refused key" in s.logtext()


def test_non_rsa_key_refused(make_server, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ed")],
                   check=True)
    s = make_server(extra=["--oracle-key", str(s_key(tmp_path))])
    r = s.ssh("true", password=False, extra=["-o", "PasswordAuthentication=no", "-o",
                                             "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                                             "-i", str(tmp_path / "ed")])
    assert r.returncode == 255
    assert "key is not RSA" in s.logtext()


def s_key(tmp_path):
    k = tmp_path / "oracle.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(k), "2048"], check=True,
                   capture_output=True)
    return k


def test_algorithms_shellhub_needs(server):
    # ShellHub's Go client: curve25519-sha256 + aes128-gcm, RSA host key as rsa-sha2-*.
    for cipher in ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]:
        r = server.ssh("true", extra=["-v", "-o", "KexAlgorithms=curve25519-sha256",
                                      "-o", f"Ciphers={cipher}",
                                      "-o", "HostKeyAlgorithms=rsa-sha2-256"])
        assert r.returncode == 0, r.stderr
        assert f"cipher: {cipher}".encode() in r.stderr
    r = server.ssh("true", extra=["-v"])
    assert b"server-sig-algs=<" in r.stderr and b"rsa-sha2-256" in r.stderr


def test_connection_loss_kills_child(server, tmp_path):
    marker = tmp_path / "pid"
    p = subprocess.Popen(["ssh", "-p", str(server.port), *server.opts(), f"{server.user}@127.0.0.1",
                          f"echo $$ > {marker}; exec sleep 1000"], env=server.env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline and not (marker.exists() and marker.read_text().strip()):
        time.sleep(0.1)
    pid = int(marker.read_text())
    os.kill(pid, 0)
    p.kill()
    p.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("child survived the connection")


def test_keepalive_only_when_configured(make_server):
    quiet = make_server()
    r = quiet.ssh("sleep 2.5", extra=["-vvv"])
    assert b"rtype keepalive@openssh.com" not in r.stderr
    s = make_server(extra=["--keepalive", "1000"])
    started = time.monotonic()
    r = s.ssh("sleep 3.5", extra=["-vvv"])
    elapsed = time.monotonic() - started
    assert r.returncode == 0
    n = r.stderr.count(b"rtype keepalive@openssh.com want_reply 1")
    # One per 1 s interval of the connection's life, not more (under qemu the connection
    # lives longer than the 3.5 s sleep: bound by the measured time, not a fixed count).
    assert 2 <= n <= int(elapsed) + 1, (n, elapsed)


def test_ed25519_host_key_instead_of_rsa(make_server, tmp_path):
    # Any key libssh imports can be the host key on the host build; the device's RSA key is the
    # default. Board builds leave libssh's Ed25519 code out (cross/build.sh) and must refuse such
    # a key at start-up in one line, not fail every key exchange later.
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hostkey")],
                   check=True)
    (tmp_path / "host.pem").write_bytes((tmp_path / "hostkey").read_bytes())
    version = subprocess.run([*RUNNER, TETHER, "--version"], capture_output=True, text=True).stdout
    if "embedded" in version:
        r = subprocess.run([*RUNNER, TETHER, "ssh-serve", "--port", "1", "--host-key",
                            str(tmp_path / "host.pem")], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        assert len(lines) == 1, lines
        assert "host key type ssh-ed25519 is not supported by this build" in lines[0]
        return
    s = make_server()
    r = s.ssh("echo ed", extra=["-v"])
    assert r.returncode == 0, r.stderr
    assert b"host key algorithm: ssh-ed25519" in r.stderr


def test_login_grace_closes_unauthenticated_connections_only(make_server):
    s = make_server(extra=["--login-grace-ms", "2000"])
    silent = socket.create_connection(("127.0.0.1", s.port))
    talker = socket.create_connection(("127.0.0.1", s.port))
    talker.sendall(b"SSH-2.0-OpenSSH_9.2 never-authenticates\r\n")
    started = time.monotonic()
    for sock in (silent, talker):
        sock.settimeout(20)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        sock.close()
    assert time.monotonic() - started >= 1.5  # not before the grace
    deadline = time.monotonic() + 10
    while s.logtext().count("not authenticated within 2 s") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.logtext().count("not authenticated within 2 s") == 2, s.logtext()
    r = s.ssh("sleep 3; echo still-here")  # authenticated: the grace no longer applies
    assert r.returncode == 0 and r.stdout == b"still-here\n", r.stderr
    assert s.logtext().count("not authenticated within") == 2
