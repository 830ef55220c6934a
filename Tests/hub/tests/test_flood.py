"""The flood admin route (a misbehaving hub on purpose) read off raw WebSocket peers: what it
puts on the wire per kind, and that its report counts what the peer did."""

import asyncio
import json
import re
import struct

import pytest
import websockets
from hubtest_helpers import admin, register, wait_for

pytestmark = pytest.mark.asyncio

HDR = struct.Struct(">BBHII")
DATA, WINDOW = 0, 1
SYN, ACK, FIN, RST = 1, 2, 4, 8
MS_HELLO = b"\x13/multistream/1.0.0\n"
MS_SSH_OPEN = b"\x10/ssh/open/1.0.0\n"


class RawYamuxPeer:
    """Reads the hub's frames off a raw WebSocket; the test decides every answer."""

    def __init__(self, ws):
        self.ws = ws
        self.buf = bytearray()
        self.syn = []                 # stream ids in SYN order
        self.data: dict[int, bytearray] = {}
        self.fin: set[int] = set()
        self.rst: set[int] = set()

    async def pump(self, until, timeout=5.0):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not until():
            left = end - loop.time()
            assert left > 0, f"timed out; syn={self.syn} data={dict(self.data)}"
            try:
                msg = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            self.buf += msg
            while len(self.buf) >= 12:
                _, typ, flags, sid, length = HDR.unpack_from(self.buf)
                need = 12 + (length if typ == DATA else 0)
                if len(self.buf) < need:
                    break
                payload = bytes(self.buf[12:need])
                del self.buf[:need]
                if flags & SYN:
                    self.syn.append(sid)
                    self.data[sid] = bytearray()
                if payload:
                    self.data.setdefault(sid, bytearray()).extend(payload)
                if flags & FIN:
                    self.fin.add(sid)
                if flags & RST:
                    self.rst.add(sid)

    async def frame(self, typ, flags, sid, length=0, payload=b""):
        await self.ws.send(HDR.pack(0, typ, flags, sid, length) + payload)

    async def send(self, sid, payload, flags=0):
        await self.frame(DATA, flags, sid, len(payload), payload)


async def test_v2_flood_wire_and_report(hub, device_key):
    dev = await register(hub, device_key, hostname="board")
    ws = await websockets.connect(hub.ws_url + "/agent/connection", compression=None,
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    peer = RawYamuxPeer(ws)
    flood = asyncio.create_task(admin(hub, "POST", "/api/hub/devices/board/flood",
                                      {"streams": 6, "kinds": ["silent", "garbage", "ssh"],
                                       "settle": 3}))
    await peer.pump(lambda: len(peer.syn) == 6 and all(
        len(peer.data[s]) >= n for s, n in zip(peer.syn, (0, 1, 37, 0, 1, 37))))
    silent, garbage, ssh = peer.syn[0::3], peer.syn[1::3], peer.syn[2::3]
    assert peer.syn == [1, 3, 5, 7, 9, 11]               # odd ids, in order
    await asyncio.sleep(0.1)
    assert all(peer.data[s] == b"" for s in silent)       # a SYN and nothing else
    assert all(peer.data[s] == MS_HELLO + MS_SSH_OPEN for s in ssh)
    for s in garbage:                                     # not a multistream message
        assert peer.data[s][0] & 0x80 and peer.data[s] != MS_HELLO
    # The peer: ACKs one silent stream and refuses the other, refuses all garbage, negotiates
    # the ssh streams and sends an SSH banner after their header line.
    await peer.frame(WINDOW, ACK, silent[0])
    await peer.frame(WINDOW, RST, silent[1])
    for s in garbage:
        await peer.frame(WINDOW, RST, s)
    for s in ssh:
        await peer.send(s, MS_HELLO + MS_SSH_OPEN, ACK)
    await peer.pump(lambda: all(peer.data[s].endswith(b"}\n") for s in ssh))
    for s in ssh:
        line = bytes(peer.data[s][len(MS_HELLO + MS_SSH_OPEN):])
        assert re.fullmatch(rb'\{"id":"[0-9a-f]{64}"\}\n', line)
        await peer.send(s, b"SSH-2.0-peer\r\n")
    status, rep = await asyncio.wait_for(flood, 10)
    assert status == 200, rep
    k = rep["kinds"]
    assert k["silent"] | {"held": 0} == {"opened": 2, "negotiated": 0, "answered": 0,
                                         "refused": 1, "closed": 0, "held": 0, "unsettled": 0}
    assert k["silent"]["held"] == 1
    assert (k["garbage"]["refused"], k["garbage"]["held"]) == (2, 0)
    assert (k["ssh"]["negotiated"], k["ssh"]["answered"], k["ssh"]["held"]) == (2, 2, 2)
    assert rep["total"]["unsettled"] == 0 and rep["acked"] == 3 and rep["tunnel_up"]
    assert rep["syn_unanswered"] == 0
    # One flood at a time per tunnel.
    status, _ = await admin(hub, "POST", "/api/hub/devices/board/flood", {"streams": 1})
    assert status == 409
    # Release with FIN: the peer ends one ssh stream, the other two stay: "lingering".
    release = asyncio.create_task(admin(hub, "DELETE",
                                        "/api/hub/devices/board/flood?mode=fin&wait=1"))
    await peer.pump(lambda: {silent[0], *ssh} <= peer.fin)
    await peer.frame(WINDOW, FIN, ssh[0])
    status, out = await asyncio.wait_for(release, 10)
    assert status == 200, out
    assert (out["released"], out["lingering"]) == (3, 2)
    assert out["lingering_kinds"] == {"silent": 1, "ssh": 1}
    assert out["report"]["total"]["held"] == 0
    await ws.close()


async def test_v1_flood_conn_ready_dial_backs_and_pickup_failed(hub, device_key):
    dev = await register(hub, device_key, hostname="board")
    ws = await websockets.connect(hub.ws_url + "/ssh/connection", compression=None,
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    flood = asyncio.create_task(admin(hub, "POST", f"/api/hub/devices/{dev['uid']}/flood",
                                      {"streams": 3, "kinds": ["ssh", "unknown", "garbage"],
                                       "settle": 3}))
    lines = []
    while len(lines) < 3:
        for line in (await asyncio.wait_for(ws.recv(), 5)).splitlines():
            m = json.loads(line)
            if m["command"] == "conn-ready":
                lines.append(m["connPath"])
    uuids = [p.rpartition("uuid=")[2] for p in lines]
    assert len(set(uuids)) == 3
    for p in lines:
        assert re.fullmatch(r"/ssh/revdial\?revdial\.dialer=[0-9a-f]{32}&uuid=[0-9a-f-]{36}", p)
    ssh_back = await websockets.connect(hub.ws_url + lines[0], compression=None)
    head = await asyncio.wait_for(ssh_back.recv(), 5)
    assert re.fullmatch(rb"GET /ssh/[0-9a-f]{64} HTTP/1\.1\r\nHost: \r\n"
                        rb"User-Agent: Go-http-client/1\.1\r\n\r\n", head)
    await ssh_back.send(b"SSH-2.0-peer\r\n")
    with pytest.raises(websockets.InvalidStatus) as e:          # the hub never knew this uuid
        await websockets.connect(hub.ws_url + lines[1], compression=None)
    assert e.value.response.status_code == 400
    await ws.send(json.dumps({"command": "pickup-failed", "connPath": lines[1],
                              "err": "server answered 400"}).encode() + b"\n")
    garbage_back = await websockets.connect(hub.ws_url + lines[2], compression=None)
    assert b"\r\n\r\n" in await asyncio.wait_for(garbage_back.recv(), 5)
    await garbage_back.close()
    status, rep = await asyncio.wait_for(flood, 10)
    assert status == 200, rep
    k = rep["kinds"]
    assert (k["ssh"]["negotiated"], k["ssh"]["answered"], k["ssh"]["held"]) == (1, 1, 1)
    assert (k["unknown"]["refused"], k["unknown"]["held"]) == (1, 0)
    assert (k["garbage"]["negotiated"], k["garbage"]["closed"], k["garbage"]["held"]) == (1, 1, 0)
    assert rep["pickup_failed"] == {"server answered 400": 1}
    status, out = await admin(hub, "DELETE", f"/api/hub/devices/{dev['uid']}/flood")
    assert status == 200 and out["released"] == 1
    with pytest.raises(websockets.ConnectionClosed):               # the hub closed it
        await asyncio.wait_for(ssh_back.recv(), 5)
    await ws.close()


async def test_flood_route_validation(hub, device_key):
    dev = await register(hub, device_key, hostname="board")
    path = "/api/hub/devices/board/flood"
    assert (await admin(hub, "POST", path, {"streams": 3}))[0] == 409     # no tunnel
    assert (await admin(hub, "GET", path))[0] == 404
    ws = await websockets.connect(hub.ws_url + "/agent/connection", compression=None,
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    for body in ({"kinds": ["unknown"]}, {"kinds": ["bogus"]}, {"streams": 0},
                 {"streams": "many"}, {"kinds": []}):
        status, _ = await admin(hub, "POST", path, body)
        assert status == 400, body
    await ws.close()
