"""A misbehaving hub on purpose: floods a device's tunnel with stream opens (v2) or dial-back
requests (v1) far beyond its session slots, to see that the agent refuses the excess, stays
bounded and recovers.

v2 kinds (one yamux stream each, written right after the SYN like hashicorp's OpenStream):
  ssh      multistream `/ssh/open/1.0.0` + a valid `{"id"}` header, then nothing: the agent
           starts an SSH server on it that never hears from a client (holds a slot)
  stall    multistream `/ssh/open/1.0.0` negotiated, header line never sent (holds a
           negotiation place until the agent's negotiation timeout)
  garbage  bytes that are no multistream message (a length prefix > 1024)
  silent   the SYN and nothing else
v1 kinds (one `conn-ready` each, all sent back to back):
  ssh      dial-back answered, `GET /ssh/<id>` written, then nothing (holds a slot)
  stall    dial-back answered, no request head ever written
  garbage  dial-back answered, a request head that is not HTTP
  unknown  the conn-ready names a uuid the hub does not know: the dial-back gets 400

Streams are opened round-robin over the chosen kinds, all at once (`batch` 0) or `batch` at a
time, each batch given until it settles (every stream answered: refused, or negotiated /
answered as far as its kind goes) or `settle` seconds. The report counts per kind. Held streams
stay open until `release` (FIN or RST; v1: the dial-backs are closed) or `hold` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid

from . import multistream
from .tunnel_v1 import request_head
from .yamux import YamuxError

log = logging.getLogger("hub.flood")

KINDS_V2 = ("ssh", "stall", "garbage", "silent")
KINDS_V1 = ("ssh", "stall", "garbage", "unknown")
# A varint announcing a 16 KiB message: every multistream reader refuses it at once.
GARBAGE_V2 = b"\x80\x80\x01" + b"\xde\xad\xbe\xef" * 8
GARBAGE_V1 = b"\x00\xff\xfe not http at all\r\n\r\n"
MAX_STREAMS = 5000


class FloodError(ValueError):
    pass


class _Item:
    __slots__ = ("kind", "stream", "task", "negotiated", "answered", "refused", "closed",
                 "error", "settled", "released", "uuid")

    def __init__(self, kind: str):
        self.kind = kind
        self.stream = None
        self.task = None
        self.negotiated = False    # v2: the agent echoed the protocol; v1: dial-back arrived
        self.answered = False      # ssh: the agent's SSH server sent its first bytes
        self.refused = False       # v2: RST by the agent; v1: pickup-failed or closed early
        self.closed = False        # the agent ended it (FIN / dial-back closed)
        self.error = ""
        self.settled = asyncio.Event()
        self.released = False
        self.uuid = ""


class Flood:
    def __init__(self, hub, dev, *, streams: int = 500, kinds=None, batch: int = 0,
                 settle: float = 5.0, hold: float = 60.0):
        self.hub = hub
        self.dev = dev
        self.tunnel = dev.tunnel
        self.version = self.tunnel.version
        allowed = KINDS_V2 if self.version == 2 else KINDS_V1
        kinds = list(allowed) if kinds is None else list(kinds)
        bad = [k for k in kinds if k not in allowed]
        if bad or not kinds:
            raise FloodError(f"kinds must be among {list(allowed)} (v{self.version})")
        if not 1 <= streams <= MAX_STREAMS:
            raise FloodError(f"streams must be 1..{MAX_STREAMS}")
        self.kinds = kinds
        self.count = streams
        self.batch = batch if batch > 0 else streams
        self.settle = settle
        self.hold = hold
        self.items: list[_Item] = []
        self.started = 0.0
        self.elapsed = 0.0
        self.pickup_failed: dict[str, int] = {}
        self._scanned = 0
        self._failed_uuids: dict[str, str] = {}
        self._hold_task = None
        self.released = ""

    # -- running ------------------------------------------------------------------------
    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        if self.version == 1:
            self._scanned = len(self.tunnel.agent_messages)
        log.warning("%s: flooding v%d tunnel with %d %s (kinds %s, batch %d)", self.dev.name,
                    self.version, self.count, "streams" if self.version == 2 else "conn-readys",
                    ",".join(self.kinds), self.batch)
        for start in range(0, self.count, self.batch):
            batch = [_Item(self.kinds[i % len(self.kinds)])
                     for i in range(start, min(start + self.batch, self.count))]
            self.items += batch
            for item in batch:
                if self.version == 2:
                    await self._open_v2(item)
                else:
                    await self._open_v1(item)
            await self._settle(batch)
        self.elapsed = loop.time() - self.started
        self._hold_task = asyncio.ensure_future(self._hold_then_release())
        rep = self.report()
        log.warning("%s: flood settled in %.2fs: %s", self.dev.name, self.elapsed,
                    json.dumps(rep["total"]))
        return rep

    async def _settle(self, batch) -> None:
        waits = [asyncio.ensure_future(i.settled.wait()) for i in batch]
        _, pending = await asyncio.wait(waits, timeout=self.settle)
        for w in pending:
            w.cancel()

    async def _hold_then_release(self) -> None:
        await asyncio.sleep(self.hold)
        await self.release("rst", wait=0)

    # -- v2 -----------------------------------------------------------------------------
    async def _open_v2(self, item: _Item) -> None:
        try:
            item.stream = await self.tunnel.session.open_stream()
            # First bytes right after the SYN, before the ACK, as the server does.
            if item.kind in ("ssh", "stall"):
                await item.stream.write(multistream.message(multistream.PROTOCOL_ID)
                                        + multistream.message(multistream.SSH_OPEN))
            elif item.kind == "garbage":
                await item.stream.write(GARBAGE_V2)
        except YamuxError as e:
            item.error = str(e)
            item.refused = item.stream is not None and item.stream.reset
            item.settled.set()
            return
        item.task = asyncio.ensure_future(self._drive_v2(item))

    async def _drive_v2(self, item: _Item) -> None:
        s = item.stream
        try:
            if item.kind == "silent":
                await asyncio.shield(s.acked)
                item.settled.set()
            elif item.kind in ("ssh", "stall"):
                head = await multistream.read_message(s)
                answer = await multistream.read_message(s)
                if head != multistream.PROTOCOL_ID or answer != multistream.SSH_OPEN:
                    raise multistream.MultistreamError(f"unexpected {head!r} / {answer!r}")
                item.negotiated = True
                if item.kind == "ssh":
                    await s.write(multistream.header_line({"id": secrets.token_hex(32)}))
                else:
                    item.settled.set()
            await self._drain(item, s)
        except (YamuxError, multistream.MultistreamError, asyncio.IncompleteReadError) as e:
            item.error = str(e)
            if item.released:
                pass            # our own RST or FIN, not the agent's doing
            elif s.reset:
                item.refused = True
            elif s.remote_fin:
                item.closed = True
        except asyncio.CancelledError:
            pass
        finally:
            item.settled.set()

    @staticmethod
    async def _drain(item: _Item, s) -> None:
        """Reads whatever comes until the agent ends the stream; an SSH stream is answered
        once its first bytes arrive."""
        while True:
            data = await s.read()
            if not data:
                item.closed = True
                return
            if item.kind == "ssh" and not item.answered:
                item.answered = True
                item.settled.set()

    # -- v1 -----------------------------------------------------------------------------
    async def _open_v1(self, item: _Item) -> None:
        t = self.tunnel
        item.uuid = str(uuid.uuid4())
        path = f"/ssh/revdial?revdial.dialer={t.dialer_id}&uuid={item.uuid}"
        if item.kind != "unknown":
            fut = asyncio.get_running_loop().create_future()
            t.pending[item.uuid] = fut
        msg = json.dumps({"command": "conn-ready", "connPath": path},
                         separators=(",", ":")).encode() + b"\n"
        try:
            await t._send(msg)
        except Exception as e:
            item.error = repr(e)
            item.settled.set()
            return
        item.task = asyncio.ensure_future(self._drive_v1(item))

    async def _drive_v1(self, item: _Item) -> None:
        t = self.tunnel
        try:
            if item.kind == "unknown":
                await self._wait_pickup_failed(item)
                return
            fut = t.pending.get(item.uuid)
            item.stream = s = await self._first_of(fut, item)
            if s is None:
                return
            item.negotiated = True
            if item.kind == "ssh":
                await s.write(request_head(f"/ssh/{secrets.token_hex(32)}"))
            elif item.kind == "garbage":
                await s.write(GARBAGE_V1)
            if item.kind != "ssh":
                item.settled.set()
            await self._drain(item, s)
        except (ConnectionError, asyncio.CancelledError) as e:
            item.error = item.error or repr(e)
            if isinstance(e, ConnectionError) and item.stream is not None and not item.released:
                item.closed = True
        finally:
            t.pending.pop(item.uuid, None)
            item.settled.set()

    def _scan(self) -> None:
        """Indexes the agent's new pickup-failed lines by uuid."""
        msgs = self.tunnel.agent_messages
        while self._scanned < len(msgs):
            m = msgs[self._scanned]
            self._scanned += 1
            if isinstance(m, dict) and m.get("command") == "pickup-failed":
                err = str(m.get("err", ""))
                self.pickup_failed[err] = self.pickup_failed.get(err, 0) + 1
                u = str(m.get("connPath", "")).rpartition("uuid=")[2]
                self._failed_uuids[u] = err

    def _failed_for(self, item: _Item) -> str | None:
        self._scan()
        return self._failed_uuids.get(item.uuid)

    async def _first_of(self, fut, item: _Item):
        """The dial-back, or None once the agent sent pickup-failed for it."""
        while not fut.done():
            err = self._failed_for(item)
            if err is not None:
                item.refused = True
                item.error = err
                return None
            try:
                await asyncio.wait_for(asyncio.shield(fut), 0.05)
            except asyncio.TimeoutError:
                pass
        return fut.result()

    async def _wait_pickup_failed(self, item: _Item) -> None:
        while not item.released:
            err = self._failed_for(item)
            if err is not None:
                item.refused = True
                item.error = err
                return
            await asyncio.sleep(0.05)

    # -- release and report ---------------------------------------------------------------
    def held(self) -> list:
        return [i for i in self.items if i.stream is not None and not i.refused
                and not i.closed and not i.released]

    async def release(self, mode: str = "fin", wait: float = 5.0) -> dict:
        """Ends every held stream (v2: FIN or RST; v1: the dial-back is closed) and gives the
        agent up to `wait` seconds to end its side (v2 FIN mode only)."""
        if self._hold_task is not None and self._hold_task is not asyncio.current_task():
            self._hold_task.cancel()
        if mode not in ("fin", "rst"):
            raise FloodError("mode must be fin or rst")
        released = self.held()
        for i in self.items:
            i.released = True
        for i in released:
            try:
                if self.version == 1:
                    await i.stream.close()
                elif mode == "rst":
                    await i.stream.abort()
                else:
                    await i.stream.close()
            except Exception as e:
                i.error = repr(e)
        for i in self.items:
            if self.version == 1 and i.uuid:
                self.tunnel.pending.pop(i.uuid, None)
            if i.task is not None and (self.version == 1 or mode == "rst"):
                i.task.cancel()
        lingering = []
        if self.version == 2 and mode == "fin" and wait > 0:
            loop = asyncio.get_running_loop()
            end = loop.time() + wait
            while loop.time() < end:
                lingering = [i for i in released if not (i.stream.remote_fin or i.stream.reset)]
                if not lingering or self.tunnel.session.closed:
                    break
                await asyncio.sleep(0.05)
            for i in released:
                if i.task is not None:
                    i.task.cancel()
        self.released = mode
        log.warning("%s: flood released (%s): %d held, %d not ended by the agent",
                    self.dev.name, mode, len(released), len(lingering))
        return {"released": len(released), "mode": mode,
                "lingering": len(lingering),
                "lingering_kinds": _count(i.kind for i in lingering)}

    def report(self) -> dict:
        held = set(self.held())
        per = {}
        for k in self.kinds:
            items = [i for i in self.items if i.kind == k]
            per[k] = {
                "opened": len(items),
                "negotiated": sum(i.negotiated for i in items),
                "answered": sum(i.answered for i in items),
                "refused": sum(i.refused for i in items),
                "closed": sum(i.closed for i in items),
                "held": sum(1 for i in items if i in held),
                "unsettled": sum(1 for i in items if not i.settled.is_set()),
            }
        total = {f: sum(v[f] for v in per.values()) for f in
                 ("opened", "negotiated", "answered", "refused", "closed", "held", "unsettled")}
        rep = {"transport": self.version, "streams": self.count, "batch": self.batch,
               "elapsed": round(self.elapsed, 3), "kinds": per, "total": total,
               "released": self.released,
               "tunnel_up": self.dev.tunnel is self.tunnel and not self.tunnel.closed_reason}
        if self.version == 2:
            rep["acked"] = sum(1 for i in self.items if i.stream is not None
                               and i.stream.acked.done() and not i.stream.acked.exception())
            # Neither ACK nor RST from the agent (a SYN it ignored).
            rep["syn_unanswered"] = sum(1 for i in self.items if i.stream is not None
                                        and not i.stream.acked.done())
            rep["hub_open_streams"] = len(self.tunnel.session.streams)
        else:
            self._scan()
            rep["pickup_failed"] = dict(self.pickup_failed)
        return rep


def _count(names) -> dict:
    out: dict[str, int] = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out
