"""The agent reaches the server through an HTTP CONNECT proxy (a real one: tinyproxy), with the
proxy set where a board keeps its settings, the config file (TETHER_CONFIG), not only the
environment; NO_PROXY there exempts the server. Before the configuration was the one source of
the proxy, the runtime read HTTPS_PROXY from the environment alone and ignored HTTP_PROXY,
NO_PROXY and the file."""

import os
import signal
import socket
import subprocess
import time

import pytest

from .test_e2e_agent import connected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tinyproxy(tmp_path, request):
    """tinyproxy on 127.0.0.1; `request.param` (indirect) lists the only CONNECT ports it allows
    (none given: any port, as the hub listens on a random one)."""
    d = tmp_path / "tinyproxy"
    d.mkdir()
    port = free_port()
    allowed = "".join(f"ConnectPort {p}\n" for p in getattr(request, "param", ()))
    log = d / "tinyproxy.log"
    conf = d / "tinyproxy.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nTimeout 600\nLogFile \"{log}\"\n"
                    f"LogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\n{allowed}")
    proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("tinyproxy did not listen")
    yield port, log
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def connects_seen(log, hub_port) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count(f"CONNECT 127.0.0.1:{hub_port}")


@pytest.mark.parametrize("transport", [2, 1])
def test_proxy_from_the_config_file(make_hub, start_agent, tinyproxy, tmp_path, transport):
    port, log = tinyproxy
    hub = make_hub()
    conf = tmp_path / "tether.conf"
    conf.write_text(f"HTTP_PROXY=http://127.0.0.1:{port}\n")
    agent = start_agent(hub.url, transport=transport, env={"TETHER_CONFIG": str(conf)})
    connected(hub)
    # Device auth and the tunnel (and on v1 nothing else yet) went through the proxy.
    assert connects_seen(log, hub.port) >= 2, log.read_text(errors="replace")[-2000:] + agent.log()[-2000:]


def test_no_proxy_in_the_config_file_exempts_the_server(make_hub, start_agent, tinyproxy, tmp_path):
    port, log = tinyproxy
    hub = make_hub()
    conf = tmp_path / "tether.conf"
    conf.write_text(f"HTTP_PROXY=http://127.0.0.1:{port}\nNO_PROXY=localhost,127.0.0.1\n")
    start_agent(hub.url, env={"TETHER_CONFIG": str(conf)})
    connected(hub)
    assert connects_seen(log, hub.port) == 0


@pytest.mark.parametrize("tinyproxy", [(443,)], indirect=True)
def test_a_refusing_proxy_is_reported_with_its_status(make_hub, start_agent, tinyproxy):
    """A proxy that refuses the CONNECT (tinyproxy allows port 443 only here): the agent says
    so with the proxy's status, once, and does not go around the proxy."""
    port, log = tinyproxy
    hub = make_hub()
    agent = start_agent(hub.url, env={"HTTP_PROXY": f"http://127.0.0.1:{port}"})
    agent.wait_log(r"proxy CONNECT refused: HTTP 403", timeout=30)
    time.sleep(4)                       # a few retries (1 s, 2 s backoff)
    assert agent.log().count("proxy CONNECT refused") == 1, agent.log()
    assert hub.devices() == [] or not any(d.get("connected") for d in hub.devices())
