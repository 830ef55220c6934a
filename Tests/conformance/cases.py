"""The client conformance cases: Autobahn|Testsuite groups 1-7 and 10, re-written as data.

Each case is what the server sends (actions) and what the client must do (expect, close).
Written from the suite's published case descriptions; the bytes are built here.

actions:  ("send", bytes)            write bytes at once
          ("chop", bytes, n)         write bytes in pieces of n octets
          ("sleep", seconds)
          ("expect_open",)           the client must not have failed yet
          ("expect_failed", secs)    the client must fail within secs (fail fast)
expect:   messages the client sends back before the close, in order:
          ("text"|"binary"|"pong", payload); alt: other acceptable sequences
close:    "clean": the server closes with 1000 after the echoes (or the case's own close
          frame is in the actions, server_close=False) and the client must answer with a
          code in codes and exit 0;
          "fail":  the client must fail the connection: a close with a code in codes or a
          dropped TCP connection, and a non-zero exit status.
          "info":  any orderly outcome is accepted (the RFC leaves it open); recorded only.
"""

KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")
PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
NORMAL = 1000

GROUP_NAMES = {
    1: "Framing",
    2: "Pings/Pongs",
    3: "Reserved Bits",
    4: "Opcodes",
    5: "Fragmentation",
    6: "UTF-8 Handling",
    7: "Close Handling",
    10: "Autobahn Protocol Options (auto-fragmentation)",
}


def frame(opcode, payload=b"", fin=True, rsv=0):
    """A server frame: unmasked, minimal length encoding."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, n])
    elif n <= 0xFFFF:
        head = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 127]) + n.to_bytes(8, "big")
    return head + payload


def close_frame(code=None, reason=b""):
    if code is None:
        return frame(8, b"")
    return frame(8, code.to_bytes(2, "big") + reason)


def text(p):
    return frame(1, p)


def binary(p):
    return frame(2, p)


def ping(p=b""):
    return frame(9, p)


def pong(p=b""):
    return frame(10, p)


CASES = []


def case(cid, desc, actions, expect=(), close="clean", codes=(NORMAL,), alt=(),
         server_close=True, fail_fast=False):
    CASES.append(dict(id=cid, group=int(cid.split(".")[0]), desc=desc, actions=list(actions),
                      expect=list(expect), alt=[list(a) for a in alt], close=close,
                      codes=list(codes), server_close=server_close, fail_fast=fail_fast))


def fail(cid, desc, actions, expect=(), codes=(PROTOCOL_ERROR,), **kw):
    case(cid, desc, actions, expect, close="fail", codes=codes, **kw)


# --- 1 Framing -------------------------------------------------------------------------------
for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536], start=1):
    p = b"*" * n
    case(f"1.1.{i}", f"Send text message with payload length {n}.", [("send", text(p))],
         [("text", p)])
p = b"*" * 65536
case("1.1.8", "Send text message with payload length 65536, in chops of 997 octets.",
     [("chop", text(p), 997)], [("text", p)])
for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536], start=1):
    p = b"\xfe" * n
    case(f"1.2.{i}", f"Send binary message with payload length {n}.", [("send", binary(p))],
         [("binary", p)])
p = b"\xfe" * 65536
case("1.2.8", "Send binary message with payload length 65536, in chops of 997 octets.",
     [("chop", binary(p), 997)], [("binary", p)])

# --- 2 Pings/Pongs ---------------------------------------------------------------------------
case("2.1", "Send ping without payload.", [("send", ping())], [("pong", b"")])
case("2.2", "Send ping with small text payload.", [("send", ping(b"Hello, world!"))],
     [("pong", b"Hello, world!")])
bp = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
case("2.3", "Send ping with small binary (non UTF-8) payload.", [("send", ping(bp))],
     [("pong", bp)])
case("2.4", "Send ping with binary payload of 125 octets.", [("send", ping(b"\xfe" * 125))],
     [("pong", b"\xfe" * 125)])
fail("2.5", "Send ping with binary payload of 126 octets.", [("send", ping(b"\xfe" * 126))])
case("2.6", "Send ping with binary payload of 125 octets, in octet-wise chops.",
     [("chop", ping(b"\xfe" * 125), 1)], [("pong", b"\xfe" * 125)])
case("2.7", "Send unsolicited pong without payload.", [("send", pong())])
case("2.8", "Send unsolicited pong with payload.", [("send", pong(b"unsolicited pong payload"))])
case("2.9", "Send unsolicited pong with payload, then ping with payload.",
     [("send", pong(b"unsolicited pong payload") + ping(b"ping payload"))],
     [("pong", b"ping payload")])
tenp = b"".join(ping(b"payload-%d" % k) for k in range(10))
case("2.10", "Send 10 pings with payload.", [("send", tenp)],
     [("pong", b"payload-%d" % k) for k in range(10)])
case("2.11", "Send 10 pings with payload, in octet-wise chops.", [("chop", tenp, 1)],
     [("pong", b"payload-%d" % k) for k in range(10)])

# --- 3 Reserved bits -------------------------------------------------------------------------
hello = b"Hello, world!"
fail("3.1", "Send small text message with RSV = 1.", [("send", frame(1, hello, rsv=1))])
fail("3.2", "Send small text message, then another with RSV = 2, then ping.",
     [("send", text(hello) + frame(1, hello, rsv=2) + ping(hello))], [("text", hello)])
fail("3.3", "As 3.2 with RSV = 3, sent frame by frame with pauses.",
     [("send", text(hello)), ("sleep", 0.1), ("send", frame(1, hello, rsv=3)), ("sleep", 0.1),
      ("send", ping(hello))], [("text", hello)])
fail("3.4", "As 3.2 with RSV = 4, octet-wise chops.",
     [("chop", text(hello) + frame(1, hello, rsv=4) + ping(hello), 1)], [("text", hello)])
fail("3.5", "Send small binary message with RSV = 5.",
     [("send", frame(2, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5))])
fail("3.6", "Send ping with payload and RSV = 6.", [("send", frame(9, hello, rsv=6))])
fail("3.7", "Send close with RSV = 7.", [("send", frame(8, b"", rsv=7))])

# --- 4 Opcodes -------------------------------------------------------------------------------
for group, ops in (("4.1", [3, 4, 5, 6, 7]), ("4.2", [11, 12, 13, 14, 15])):
    kind = "non-control" if group == "4.1" else "control"
    fail(f"{group}.1", f"Send frame with reserved {kind} opcode {ops[0]}.",
         [("send", frame(ops[0]))])
    fail(f"{group}.2", f"Send frame with reserved {kind} opcode {ops[1]} and payload.",
         [("send", frame(ops[1], b"reserved opcode payload"))])
    for k, op in enumerate(ops[2:], start=3):
        pl = b"" if k == 3 else b"reserved opcode payload"
        fail(f"{group}.{k}", f"Send text, then reserved {kind} opcode {op}, then ping.",
             [("send", text(hello) + frame(op, pl) + ping(hello))], [("text", hello)])

# --- 5 Fragmentation -------------------------------------------------------------------------
fail("5.1", "Send ping fragmented into 2 fragments.",
     [("send", frame(9, b"fragment1", fin=False) + frame(0, b"fragment2"))])
fail("5.2", "Send pong fragmented into 2 fragments.",
     [("send", frame(10, b"fragment1", fin=False) + frame(0, b"fragment2"))])
two = frame(1, b"fragment1", fin=False) + frame(0, b"fragment2")
case("5.3", "Send text message fragmented into 2 fragments.", [("send", two)],
     [("text", b"fragment1fragment2")])
case("5.4", "As 5.3, octet-wise chops.", [("chop", two, 1)], [("text", b"fragment1fragment2")])
case("5.5", "As 5.3, one frame at a time with pauses.",
     [("send", frame(1, b"fragment1", fin=False)), ("sleep", 0.1),
      ("send", frame(0, b"fragment2"))], [("text", b"fragment1fragment2")])
withping = frame(1, b"fragment1", fin=False) + ping(b"pongme!") + frame(0, b"fragment2")
case("5.6", "Send text in 2 fragments with a ping in between.", [("send", withping)],
     [("pong", b"pongme!"), ("text", b"fragment1fragment2")])
case("5.7", "As 5.6, octet-wise chops.", [("chop", withping, 1)],
     [("pong", b"pongme!"), ("text", b"fragment1fragment2")])
case("5.8", "As 5.6, one frame at a time with pauses.",
     [("send", frame(1, b"fragment1", fin=False)), ("sleep", 0.1), ("send", ping(b"pongme!")),
      ("sleep", 0.1), ("send", frame(0, b"fragment2"))],
     [("pong", b"pongme!"), ("text", b"fragment1fragment2")])
for base, fin_flag in ((9, True), (12, False)):
    seq = frame(0, b"non-continuation payload", fin=fin_flag) + text(b"Hello, world!")
    what = f"continuation frame with FIN = {str(fin_flag).lower()} (nothing to continue)"
    fail(f"5.{base}", f"Send {what}, then text message.", [("send", seq)])
    fail(f"5.{base + 1}", f"As 5.{base}, octet-wise chops.", [("chop", seq, 1)])
    fail(f"5.{base + 2}", f"As 5.{base}, frame by frame with pauses.",
         [("send", frame(0, b"non-continuation payload", fin=fin_flag)), ("sleep", 0.1),
          ("send", text(b"Hello, world!"))])
fail("5.15", "Send text in 2 fragments, then continuation with FIN = false where there is "
     "nothing to continue, then unfragmented text.",
     [("send", two + frame(0, b"fragment3", fin=False) + frame(0, b"fragment4"))],
     [("text", b"fragment1fragment2")])
rep = (frame(0, b"fragment1", fin=False) + frame(1, b"fragment2", fin=False)
       + frame(0, b"fragment3"))
fail("5.16", "Repeated 2x: continuation with FIN = false (nothing to continue), then text "
     "in 2 fragments.", [("send", rep + rep)])
rep = frame(0, b"fragment1") + frame(1, b"fragment2", fin=False) + frame(0, b"fragment3")
fail("5.17", "Repeated 2x: continuation with FIN = true (nothing to continue), then text "
     "in 2 fragments.", [("send", rep + rep)])
fail("5.18", "Send text in 2 fragments, both with opcode text.",
     [("send", frame(1, b"fragment1", fin=False) + frame(1, b"fragment2"))])
five = [frame(1, b"fragment1", fin=False), frame(0, b"fragment2", fin=False),
        ping(b"pongme 1!"), frame(0, b"fragment3", fin=False), frame(0, b"fragment4", fin=False),
        ping(b"pongme 2!"), frame(0, b"fragment5")]
exp5 = [("pong", b"pongme 1!"), ("pong", b"pongme 2!"),
        ("text", b"fragment1fragment2fragment3fragment4fragment5")]
case("5.19", "Send text in 5 fragments with 2 pings in between, with a pause in the middle.",
     [("send", b"".join(five[:3])), ("sleep", 1.0), ("send", b"".join(five[3:]))], exp5)
steps = []
for f in five:
    steps += [("send", f), ("sleep", 0.1)]
case("5.20", "As 5.19, one frame at a time with pauses.", steps, exp5)

# --- 6 UTF-8 ---------------------------------------------------------------------------------
case("6.1.1", "Send text message of length 0.", [("send", text(b""))], [("text", b"")])
case("6.1.2", "Send fragmented text message, 3 fragments each of length 0.",
     [("send", frame(1, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b""))],
     [("text", b"")])
case("6.1.3", "Send fragmented text message, 3 fragments, first and last of length 0.",
     [("send", frame(1, b"", fin=False) + frame(0, b"middle frame payload", fin=False)
       + frame(0, b""))], [("text", b"middle frame payload")])
hu = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def fragments(payload, sizes_or_n):
    """Text message split into fragments of sizes_or_n octets."""
    parts = [payload[k:k + sizes_or_n] for k in range(0, len(payload), sizes_or_n)]
    out = b""
    for k, part in enumerate(parts):
        out += frame(1 if k == 0 else 0, part, fin=(k == len(parts) - 1))
    return out


case("6.2.1", "Send valid UTF-8 text message in one fragment.", [("send", text(hu))],
     [("text", hu)])
cut = len("Hello-µ@ßöäü".encode())
case("6.2.2", "Send valid UTF-8 text message in 2 fragments, split at a code point boundary.",
     [("send", frame(1, hu[:cut], fin=False) + frame(0, hu[cut:]))], [("text", hu)])
case("6.2.3", "Send valid UTF-8 text message in fragments of 1 octet.",
     [("send", fragments(hu, 1))], [("text", hu)])
case("6.2.4", "Send valid UTF-8 text message (kosme) in fragments of 1 octet.",
     [("send", fragments(KOSME, 1))], [("text", KOSME)])
bad = KOSME + b"\xed\xa0\x80" + b"edited"
fail("6.3.1", "Send invalid UTF-8 text message unfragmented.", [("send", text(bad))],
     codes=(INVALID_PAYLOAD,))
fail("6.3.2", "Send invalid UTF-8 text message in fragments of 1 octet.",
     [("send", fragments(bad, 1))], codes=(INVALID_PAYLOAD,))
p641 = KOSME + b"\xf4\x90\x80\x80" + b"edited"
fail("6.4.1", "Invalid UTF-8 in 3 frames: valid first frame, pause, frame making it invalid "
     "(fail fast), pause, rest.",
     [("send", frame(1, p641[:11], fin=False)), ("sleep", 0.3), ("expect_open",),
      ("send", frame(0, p641[11:15], fin=False)), ("expect_failed", 1.0),
      ("send", frame(0, p641[15:]))], codes=(INVALID_PAYLOAD,), fail_fast=True)
fail("6.4.2", "As 6.4.1, 2nd frame only up to and including the octet making it invalid.",
     [("send", frame(1, p641[:12], fin=False)), ("sleep", 0.3), ("expect_open",),
      ("send", frame(0, p641[12:13], fin=False)), ("expect_failed", 1.0),
      ("send", frame(0, p641[13:]))], codes=(INVALID_PAYLOAD,), fail_fast=True)
whole = text(p641)
hl = len(whole) - len(p641)
fail("6.4.3", "As 6.4.1, but 3 chops of one frame.",
     [("send", whole[:hl + 11]), ("sleep", 0.3), ("expect_open",),
      ("send", whole[hl + 11:hl + 15]), ("expect_failed", 1.0), ("send", whole[hl + 15:])],
     codes=(INVALID_PAYLOAD,), fail_fast=True)
fail("6.4.4", "As 6.4.2, but 3 chops of one frame.",
     [("send", whole[:hl + 12]), ("sleep", 0.3), ("expect_open",),
      ("send", whole[hl + 12:hl + 13]), ("expect_failed", 1.0), ("send", whole[hl + 13:])],
     codes=(INVALID_PAYLOAD,), fail_fast=True)


def _utf8_sequences():
    """The UTF-8 decoder stress test sequences (Markus Kuhn's UTF-8-test.txt, as the suite
    groups them), each (valid, bytes)."""
    seqs = []
    seqs.append(("Some valid UTF-8 sequences", [
        (True, b"hello\x24world"), (True, b"hello\xc2\xa2world"),
        (True, b"hello\xe2\x82\xacworld"), (True, b"hello\xf0\xa4\xad\xa2world"),
        (True, KOSME)]))

    def complete(b):
        try:
            b.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False

    seqs.append(("All prefixes of a valid UTF-8 string with multi-byte code points",
                 [(complete(KOSME[:k]), KOSME[:k]) for k in range(1, len(KOSME) + 1)]))
    seqs.append(("First possible sequence of a certain length", [
        (True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"),
        (True, b"\xf0\x90\x80\x80")]))
    seqs.append(("First possible sequence length 5/6 (invalid codepoints)", [
        (False, b"\xf8\x88\x80\x80\x80"), (False, b"\xfc\x84\x80\x80\x80\x80")]))
    seqs.append(("Last possible sequence of a certain length", [
        (True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"),
        (True, b"\xf4\x8f\xbf\xbf")]))
    seqs.append(("Last possible sequence length 4/5/6 (invalid codepoints)", [
        (False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"),
        (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")]))
    seqs.append(("Other boundary conditions", [
        (True, b"\xed\x9f\xbf"), (True, b"\xee\x80\x80"), (True, b"\xef\xbf\xbd"),
        (True, b"\xf4\x8f\xbf\xbf"), (False, b"\xf4\x90\x80\x80")]))
    cont = [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
            b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xbf))]
    seqs.append(("Unexpected continuation bytes", [(False, c) for c in cont]))
    lonely = []
    for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd)):
        lonely.append((False, b"".join(bytes([c, 0x20]) for c in range(lo, hi))))
    seqs.append(("Lonely start characters", lonely))
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
               b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
               b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    seqs.append(("Sequences with last continuation byte missing", [(False, m) for m in missing]))
    seqs.append(("Concatenation of incomplete sequences", [(False, b"".join(missing))]))
    seqs.append(("Impossible bytes", [(False, b"\xfe"), (False, b"\xff"),
                                      (False, b"\xfe\xfe\xff\xff")]))
    seqs.append(("Examples of an overlong ASCII character", [
        (False, b"\xc0\xaf"), (False, b"\xe0\x80\xaf"), (False, b"\xf0\x80\x80\xaf"),
        (False, b"\xf8\x80\x80\x80\xaf"), (False, b"\xfc\x80\x80\x80\x80\xaf")]))
    seqs.append(("Maximum overlong sequences", [
        (False, b"\xc1\xbf"), (False, b"\xe0\x9f\xbf"), (False, b"\xf0\x8f\xbf\xbf"),
        (False, b"\xf8\x87\xbf\xbf\xbf"), (False, b"\xfc\x83\xbf\xbf\xbf\xbf")]))
    seqs.append(("Overlong representation of the NUL character", [
        (False, b"\xc0\x80"), (False, b"\xe0\x80\x80"), (False, b"\xf0\x80\x80\x80"),
        (False, b"\xf8\x80\x80\x80\x80"), (False, b"\xfc\x80\x80\x80\x80\x80")]))
    singles = [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",
               b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf"]
    seqs.append(("Single UTF-16 surrogates", [(False, s) for s in singles]))
    pairs = [(h, l) for h in singles[:4] for l in (b"\xed\xb0\x80", b"\xed\xbf\xbf")]
    seqs.append(("Paired UTF-16 surrogates", [(False, h + l) for h, l in pairs]))
    nonchars = [(True, b"\xef\xbf\xbe"), (True, b"\xef\xbf\xbf")]
    for z1 in b"\xf0\xf1\xf2\xf3\xf4":
        for z2 in b"\x8f\x9f\xaf\xbf":
            if z1 == 0xf4 and z2 != 0x8f:
                continue  # beyond U+10FFFF
            for z3 in b"\xbe\xbf":
                zz = bytes([z1, z2, 0xbf, z3])
                if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):  # overlong
                    nonchars.append((True, zz))
    seqs.append(("Non-character code points (valid UTF-8)", nonchars))
    seqs.append(("Unicode specials (i.e. replacement char)", [
        (True, bytes([0xef, 0xbf, c])) for c in range(0xb9, 0xc0)]))
    return seqs


for gi, (title, items) in enumerate(_utf8_sequences(), start=5):
    for k, (valid, payload) in enumerate(items, start=1):
        cid = f"6.{gi}.{k}"
        if valid:
            case(cid, f"{title}: valid text 0x{payload.hex()}", [("send", text(payload))],
                 [("text", payload)])
        else:
            fail(cid, f"{title}: invalid text 0x{payload.hex()}", [("send", text(payload))],
                 codes=(INVALID_PAYLOAD,))

# --- 7 Close handling ------------------------------------------------------------------------
case("7.1.1", "Send a message followed by a close frame.",
     [("send", text(b"Hello World!") + close_frame(NORMAL))], [("text", b"Hello World!")],
     server_close=False)
case("7.1.2", "Send two close frames.", [("send", close_frame(NORMAL) + close_frame(NORMAL))],
     server_close=False)
case("7.1.3", "Send a ping after the close frame (no pong expected).",
     [("send", close_frame(NORMAL) + ping(b"Hello World!"))], server_close=False)
case("7.1.4", "Send text after the close frame (no echo expected).",
     [("send", close_frame(NORMAL) + text(b"Hello World!"))], server_close=False)
case("7.1.5", "Send message fragment 1, close, then fragment 2 (no echo expected).",
     [("send", frame(1, b"fragment1", fin=False) + close_frame(NORMAL) + frame(0, b"fragment2"))],
     server_close=False)
big = b"BAsd7&jhf" * (262144 // 9) + b"x" * (262144 % 9)
case("7.1.6", "Send 256K message, then close, then ping (echo may or may not come, no pong).",
     [("send", text(big) + close_frame(NORMAL) + ping(b"Hello World!"))], [],
     alt=[[("text", big)]], server_close=False)
case("7.3.1", "Send close with payload length 0.", [("send", close_frame())], server_close=False)
fail("7.3.2", "Send close with payload length 1.", [("send", frame(8, b"\x03"))])
case("7.3.3", "Send close with payload length 2 (code 1000).", [("send", close_frame(NORMAL))],
     server_close=False)
case("7.3.4", "Send close with code 1000 and a reason.",
     [("send", close_frame(NORMAL, b"Hello World!"))], server_close=False)
case("7.3.5", "Send close with code 1000 and a 123-octet reason.",
     [("send", close_frame(NORMAL, b"*" * 123))], server_close=False)
fail("7.3.6", "Send close with payload length 126.",
     [("send", frame(8, NORMAL.to_bytes(2, "big") + b"*" * 124))])
fail("7.5.1", "Send close with a reason that is not valid UTF-8.",
     [("send", close_frame(NORMAL, KOSME + b"\xed\xa0\x80" + b"edited"))],
     codes=(INVALID_PAYLOAD,))
for k, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                          4000, 4999], start=1):
    case(f"7.7.{k}", f"Send close with valid code {code}.", [("send", close_frame(code))],
         codes=(NORMAL, code), server_close=False)
for k, code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], start=1):
    fail(f"7.9.{k}", f"Send close with invalid code {code}.", [("send", close_frame(code))])
for k, code in enumerate([5000, 65535], start=1):
    case(f"7.13.{k}", f"Send close with code {code} (undefined by the RFC; informational).",
         [("send", close_frame(code))], close="info", codes=(NORMAL, code, PROTOCOL_ERROR),
         server_close=False)

# --- 10 Auto-fragmentation -------------------------------------------------------------------
p = b"*" * 65536
case("10.1.1", "Send text message of 65536 octets, auto-fragmented into frames of 1300.",
     [("send", fragments(p, 1300))], [("text", p)])
