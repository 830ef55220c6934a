"""307/308 answers to the tunnel upgrades are followed (issue 13 item 12, PROTOCOL.md 5.1: the
Go agent's DialContext follows them with the same headers). nginx, in plain HTTP in front of
the dev hub, answers every WebSocket endpoint of both transports with a redirect to a path it
proxies to the hub; the agent must come online through it and serve SSH sessions (on v1 every
dial-back is redirected too). A redirect loop and a redirect to a place the agent will not go
end the dial with one clear line each time, and the agent keeps retrying without crashing."""

import os
import socket
import subprocess
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST
from hub.testing import free_port, start_nginx, wait_port

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import run_ssh

PROXY = """\
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 300s;
"""

REDIRECTING = """\
    server {{
        listen 127.0.0.1:{port};
        # Both transports' upgrades, and v1's dial-backs (query kept), move under /moved/.
        location = /agent/connection {{ return 308 http://127.0.0.1:{port}/moved/agent/connection; }}
        location = /ssh/connection {{ return 307 /moved/ssh/connection; }}
        location = /ssh/revdial {{ return 307 /moved$request_uri; }}
        location = /loop/agent/connection {{ return 307 /loop/agent/connection; }}
        location /loop/ {{
            proxy_pass http://127.0.0.1:{hub}/;
{proxy}        }}
        location /moved/ {{
            proxy_pass http://127.0.0.1:{hub}/;
{proxy}        }}
        location / {{
            proxy_pass http://127.0.0.1:{hub};
{proxy}        }}
    }}
"""


@pytest.fixture
def redirecting_front(make_hub, tmp_path):
    hub = make_hub("--port-map", f"{HOST}=0")
    port = free_port()
    proc = start_nginx(str(tmp_path / "nginx"), REDIRECTING.format(port=port, hub=hub.port, proxy=PROXY))
    wait_port(port)
    yield hub, f"http://127.0.0.1:{port}", tmp_path / "nginx" / "access.log"
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_the_tunnel_follows_redirects_and_serves_sessions(redirecting_front, start_agent, tmp_path, transport):
    hub, url, _ = redirecting_front
    agent = start_agent(url, transport=transport)
    dev = connected(hub)
    assert dev["transport"] == transport
    agent.wait_log(r"redirected \(30[78]\)", timeout=10)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    r = run_ssh(port, key, "echo through-the-redirect")
    assert r.stdout.strip() == "through-the-redirect", r.stderr + agent.log()[-2000:]
    assert agent.returncode is None


def test_a_redirect_loop_ends_the_dial_and_the_agent_retries(redirecting_front, start_agent):
    hub, url, _ = redirecting_front
    # The server address carries a path prefix: the v2 upgrade goes to /loop/agent/connection,
    # which redirects to itself.
    agent = start_agent(url + "/loop", transport=2)
    agent.wait_log(r"more than 5 redirects", timeout=60)
    assert agent.returncode is None
    assert hub.devices() == [] or not any(d["connected"] for d in hub.devices())
