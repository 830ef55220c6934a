"""Drives `tether ws-echo` through the conformance cases: a raw asyncio TCP server on
127.0.0.1 that speaks the server side of the handshake itself and then writes each case's
bytes, reading and checking what the client sends back. Python 3 standard library only."""

import asyncio
import base64
import hashlib
import os
import time

from cases import CASES, GROUP_NAMES

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONCURRENCY = int(os.environ.get("CONFORMANCE_JOBS", "12"))


def tether_bin():
    path = os.environ.get("TETHER_BIN", ".build-wire/debug/tether")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


class ClientView:
    """What the client sent after the handshake, decoded as a server must (masked frames)."""

    def __init__(self):
        self.messages = []          # ("text"|"binary"|"pong", payload)
        self.close_code = None      # code of the client's close frame, 0 for an empty one
        self.closed = asyncio.Event()  # close frame or EOF seen
        self.eof = False
        self.violations = []
        self.got = asyncio.Event()  # set on every message

    async def read(self, reader):
        frag_op, frag = None, b""
        try:
            while True:
                h = await reader.readexactly(2)
                fin, rsv, op = h[0] & 0x80, h[0] & 0x70, h[0] & 0x0F
                masked, n = h[1] & 0x80, h[1] & 0x7F
                if rsv:
                    self.violations.append("client set RSV bits")
                if not masked:
                    self.violations.append("client frame not masked (RFC 6455 5.3)")
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await reader.readexactly(8), "big")
                key = await reader.readexactly(4) if masked else b"\0\0\0\0"
                data = await reader.readexactly(n)
                if masked:
                    kk = (key * (n // 4 + 1))[:n]
                    data = (int.from_bytes(data, "big") ^ int.from_bytes(kk, "big")).to_bytes(n, "big") if n else b""
                if self.close_code is not None:
                    self.violations.append("client sent a frame after its close")
                if op == 8:
                    self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
                    self.closed.set()
                elif op == 10:
                    self.messages.append(("pong", data))
                    self.got.set()
                elif op == 9:
                    self.messages.append(("ping", data))
                    self.got.set()
                elif op in (1, 2):
                    if frag_op is not None:
                        self.violations.append("client began a message inside another")
                    frag_op, frag = op, data
                    if fin:
                        self.messages.append(("text" if op == 1 else "binary", frag))
                        frag_op, frag = None, b""
                        self.got.set()
                elif op == 0:
                    if frag_op is None:
                        self.violations.append("client continuation without start")
                    frag += data
                    if fin:
                        self.messages.append(("text" if frag_op == 1 else "binary", frag))
                        frag_op, frag = None, b""
                        self.got.set()
                else:
                    self.violations.append(f"client used opcode {op}")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof = True
            self.closed.set()

    @property
    def failed(self):
        return self.closed.is_set()


async def _handshake(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    problems = []
    if not lines[0].startswith("GET ") or not lines[0].endswith(" HTTP/1.1"):
        problems.append("bad request line")
    if "websocket" not in headers.get("upgrade", "").lower():
        problems.append("no Upgrade: websocket")
    if "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
        problems.append("no Connection: Upgrade")
    if headers.get("sec-websocket-version") != "13":
        problems.append("no Sec-WebSocket-Version: 13")
    key = headers.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            problems.append("key is not 16 bytes")
    except Exception:
        problems.append("key is not base64")
    if "host" not in headers:
        problems.append("no Host")
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    await writer.drain()
    return problems


async def _write(writer, data):
    try:
        writer.write(data)
        await writer.drain()
    except (ConnectionError, RuntimeError):
        pass


async def _serve_case(case, reader, writer, result):
    problems = await _handshake(reader, writer)
    result["violations"] += problems
    view = ClientView()
    result["view"] = view
    reader_task = asyncio.create_task(view.read(reader))
    for action in case["actions"]:
        kind = action[0]
        if kind == "send":
            await _write(writer, action[1])
        elif kind == "chop":
            data, n = action[1], action[2]
            for k in range(0, len(data), n):
                await _write(writer, data[k:k + n])
                if n < 16:
                    await asyncio.sleep(0)  # let each small piece go out on its own
        elif kind == "sleep":
            await asyncio.sleep(action[1])
        elif kind == "expect_open":
            if view.failed:
                result["notes"].append("client failed too early")
                result["early"] = True
        elif kind == "expect_failed":
            try:
                await asyncio.wait_for(view.closed.wait(), action[1])
                result["fast"] = True
            except asyncio.TimeoutError:
                result["fast"] = False
    want = len(case["expect"])
    deadline = time.monotonic() + 3.0
    if case["close"] == "clean" and case["server_close"]:
        while len(view.messages) < want and not view.failed and time.monotonic() < deadline:
            view.got.clear()
            try:
                await asyncio.wait_for(view.got.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
        if not view.failed:
            await _write(writer, frame_close(1000))
    try:
        await asyncio.wait_for(view.closed.wait(), 3.0)
    except asyncio.TimeoutError:
        result["notes"].append("client neither closed nor dropped TCP in 3 s")
    # RFC 6455 7.1.1: the server closes the TCP connection first.
    writer.close()
    try:
        await asyncio.wait_for(reader_task, 1.0)
    except (asyncio.TimeoutError, Exception):
        reader_task.cancel()


def frame_close(code):
    return bytes([0x88, 2]) + code.to_bytes(2, "big")


def judge(case, result):
    """Pass/fail of one case from what the client did and its exit status."""
    view = result.get("view")
    rc = result["rc"]
    why = list(result["violations"]) + list(result["notes"])
    if view is None:
        return False, "no WebSocket connection: " + "; ".join(why + [result["stderr"]])
    if view.violations:
        why += view.violations
    got = [m for m in view.messages]
    allowed = [case["expect"]] + case["alt"]
    if case["close"] in ("clean", "info") and got not in allowed:
        why.append(f"sent {summarize(got)}, expected {summarize(case['expect'])}")
    if case["close"] == "fail" and got != case["expect"]:
        why.append(f"sent {summarize(got)} before failing, expected {summarize(case['expect'])}")
    if case["close"] == "clean":
        if view.close_code is None:
            why.append("no close frame from client")
        elif view.close_code not in case["codes"]:
            why.append(f"close code {view.close_code} not in {case['codes']}")
        if rc != 0:
            why.append(f"exit status {rc} after a clean close")
    elif case["close"] == "fail":
        if view.close_code is not None and view.close_code not in case["codes"]:
            why.append(f"failed with close code {view.close_code}, expected {case['codes']}")
        if view.close_code is None and not view.eof:
            why.append("connection not failed")
        if rc == 0:
            why.append("exit status 0 after a protocol failure")
        if case["fail_fast"] and not result.get("fast"):
            why.append("did not fail fast")
        if result.get("early"):
            why.append("failed before the invalid data")
    else:  # info: any orderly reaction
        if view.close_code is not None and view.close_code not in case["codes"]:
            why.append(f"close code {view.close_code} not in {case['codes']}")
    if rc is None:
        why.append("ws-echo did not exit")
    return not why, "; ".join(why)


def summarize(msgs):
    out = []
    for kind, payload in msgs:
        p = payload[:12]
        out.append(f"{kind}({len(payload)}:{p!r}{'...' if len(payload) > 12 else ''})")
    return "[" + ", ".join(out) + "]"


async def run_case(case, sem):
    async with sem:
        result = {"violations": [], "notes": [], "rc": None, "stderr": ""}
        done = asyncio.get_running_loop().create_future()

        async def on_connect(reader, writer):
            if done.done():
                writer.close()
                return
            try:
                await _serve_case(case, reader, writer, result)
            except Exception as e:  # a broken handshake from the client
                result["violations"].append(f"server error: {e!r}")
            finally:
                if not done.done():
                    done.set_result(True)

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        start = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            tether_bin(), "ws-echo", f"ws://127.0.0.1:{port}/case/{case['id']}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            await asyncio.wait_for(done, 20)
        except asyncio.TimeoutError:
            result["notes"].append("case timed out")
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 6)
            result["rc"] = proc.returncode
            result["stderr"] = err.decode(errors="replace").strip()
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        server.close()
        await server.wait_closed()
        ok, why = judge(case, result)
        return {"id": case["id"], "group": case["group"], "desc": case["desc"], "passed": ok,
                "why": why, "rc": result["rc"], "stderr": result["stderr"],
                "seconds": round(time.monotonic() - start, 2)}


async def run_all(cases=None):
    sem = asyncio.Semaphore(CONCURRENCY)
    return await asyncio.gather(*(run_case(c, sem) for c in (cases or CASES)))


def group_summary(results):
    rows = []
    for g in sorted(GROUP_NAMES):
        rs = [r for r in results if r["group"] == g]
        if rs:
            rows.append((g, GROUP_NAMES[g], len(rs), sum(r["passed"] for r in rs)))
    return rows


if __name__ == "__main__":
    import sys
    wanted = sys.argv[1:]
    sel = [c for c in CASES if not wanted or any(c["id"] == w or c["id"].startswith(w + ".") for w in wanted)]
    t0 = time.monotonic()
    res = asyncio.run(run_all(sel))
    for r in res:
        if not r["passed"]:
            print(f"FAIL {r['id']}: {r['why']} | stderr: {r['stderr']}")
    for g, name, n, ok in group_summary(res):
        print(f"group {g:>2} {name:<48} {ok:>3}/{n}")
    print(f"{sum(r['passed'] for r in res)}/{len(res)} passed in {time.monotonic() - t0:.1f} s")
