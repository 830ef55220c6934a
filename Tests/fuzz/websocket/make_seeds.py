"""Writes the seed corpus (Tests/fuzz/websocket/corpus/): valid and broken frame streams and
handshake responses, each prefixed with the selector byte described in fuzz.swift."""
import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../conformance"))
from cases import CASES  # noqa: E402

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
seeds = {}
for c in CASES:
    data = b"".join(a[1] for a in c["actions"] if a[0] in ("send", "chop"))
    if len(data) <= 1024:
        seeds[f"case-{c['id']}-msg"] = bytes([0x00 | (c["group"] % 8) << 2]) + data
        if c["group"] in (1, 2, 5):
            seeds[f"case-{c['id']}-stream"] = bytes([0x02 | 7 << 2]) + data
accept = base64.b64encode(hashlib.sha1(b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
seeds["hs-ok"] = b"\x01" + ok + b"\x81\x02hi"
seeds["hs-ok-bytewise"] = b"\x01" + ok
seeds["hs-401"] = b"\x1d" + b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
seeds["hs-308"] = b"\x05" + b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://a/b\r\n\r\n"
seeds["hs-ext"] = b"\x01" + ok[:-2] + b"Sec-WebSocket-Extensions: x\r\n\r\n"
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
