#!/usr/bin/env python3
"""Writes the seed corpus of the AMQP frame fuzzer (tests/fuzz/corpus/frame/).

Frames are packed here by hand from the 0-9-1 spec, independently of
src/amqp, so the seeds do not inherit the codec's mistakes.  Valid seeds
cover every class and the interesting field types; invalid ones cover each
way a frame can be refused.  Crashers found by fuzzing are added to the
corpus directory as files named crash-* and are kept as they are.

Usage: tests/fuzz/make-corpus.py [DIR]   (default: the corpus next to this script)
"""
import os
import struct
import sys


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">B", len(b)) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def table(entries):
    """entries: list of (key, type char, encoded value)."""
    body = b"".join(shortstr(k) + t.encode() + v for k, t, v in entries)
    return struct.pack(">I", len(body)) + body


def array(values):
    body = b"".join(t.encode() + v for t, v in values)
    return struct.pack(">I", len(body)) + body


def bits(*flags):
    return struct.pack(">B", sum(1 << i for i, f in enumerate(flags) if f))


def frame(ftype, channel, payload, end=0xCE):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + bytes([end])


def method(cls, mid, args=b"", channel=1):
    return frame(1, channel, struct.pack(">HH", cls, mid) + args)


def header(body_size, flags, props, cls=60, channel=1, flag_words=None):
    words = flag_words if flag_words is not None else struct.pack(">H", flags)
    return frame(2, channel, struct.pack(">HHQ", cls, 0, body_size) + words + props)


def body(data, channel=1):
    return frame(3, channel, data)


HEARTBEAT = frame(8, 0, b"")

EVERY_TYPE = table([
    ("bool", "t", b"\x01"),
    ("i8", "b", struct.pack(">b", -5)),
    ("u8", "B", struct.pack(">B", 250)),
    ("i16", "s", struct.pack(">h", -30000)),
    ("u16", "u", struct.pack(">H", 65000)),
    ("i32", "I", struct.pack(">i", -2000000000)),
    ("u32", "i", struct.pack(">I", 4000000000)),
    ("i64", "l", struct.pack(">q", -9000000000000000000)),
    ("f32", "f", struct.pack(">f", 1.5)),
    ("f64", "d", struct.pack(">d", -2.25)),
    ("dec", "D", struct.pack(">BI", 2, 12345)),
    ("str", "S", longstr("hello")),
    ("bytes", "x", longstr(b"\x00\x01\xff")),
    ("ts", "T", struct.pack(">Q", 1700000000)),
    ("void", "V", b""),
    ("tbl", "F", table([("a", "S", longstr("b")), ("deep", "F", table([("x", "I", struct.pack(">i", 1))]))])),
    ("arr", "A", array([("S", longstr("one")), ("I", struct.pack(">i", 2)),
                        ("F", table([("k", "t", b"\x00")])), ("A", array([("l", struct.pack(">q", 7))])),
                        ("V", b"")])),
])

SERVER_PROPS = table([
    ("product", "S", longstr("tandem")),
    ("version", "S", longstr("0.1.0")),
    ("capabilities", "F", table([
        ("publisher_confirms", "t", b"\x01"),
        ("exchange_exchange_bindings", "t", b"\x01"),
        ("basic.nack", "t", b"\x01"),
        ("consumer_cancel_notify", "t", b"\x01"),
        ("connection.blocked", "t", b"\x01"),
        ("authentication_failure_close", "t", b"\x01"),
    ])),
])

ALL_PROPS = (shortstr("application/json") + shortstr("gzip") + EVERY_TYPE + b"\x02" + b"\x05" +
             shortstr("corr-1") + shortstr("reply.q") + shortstr("60000") + shortstr("msg-1") +
             struct.pack(">Q", 1700000000) + shortstr("type") + shortstr("guest") +
             shortstr("app") + shortstr("cluster"))


def nest(levels):
    """A table holding `levels` nested tables."""
    inner = table([])
    for _ in range(levels - 1):
        inner = table([("k", "F", inner)])
    return table([("k", "F", inner)]) if levels else table([])


def seeds():
    s = {}
    # connection
    s["valid-connection-start"] = method(10, 10, b"\x00\x09" + SERVER_PROPS + longstr("PLAIN AMQPLAIN") + longstr("en_US"), 0)
    s["valid-connection-start-ok"] = method(10, 11, table([("product", "S", longstr("pika")),
                                                           ("capabilities", "F", table([("basic.nack", "t", b"\x01")]))]) +
                                            shortstr("PLAIN") + longstr(b"\x00guest\x00guest") + shortstr("en_US"), 0)
    s["valid-connection-secure"] = method(10, 20, longstr("challenge"), 0)
    s["valid-connection-tune"] = method(10, 30, struct.pack(">HIH", 2047, 131072, 60), 0)
    s["valid-connection-tune-ok"] = method(10, 31, struct.pack(">HIH", 2047, 131072, 60), 0)
    s["valid-connection-open"] = method(10, 40, shortstr("/") + shortstr("") + bits(False), 0)
    s["valid-connection-open-ok"] = method(10, 41, shortstr(""), 0)
    s["valid-connection-close"] = method(10, 50, struct.pack(">H", 320) + shortstr("CONNECTION_FORCED - bye") + struct.pack(">HH", 0, 0), 0)
    s["valid-connection-close-ok"] = method(10, 51, b"", 0)
    s["valid-connection-blocked"] = method(10, 60, shortstr("low on memory"), 0)
    s["valid-connection-update-secret"] = method(10, 70, longstr("new-token") + shortstr("refresh"), 0)
    # channel, access
    s["valid-channel-open"] = method(20, 10, shortstr(""))
    s["valid-channel-open-ok"] = method(20, 11, longstr(""))
    s["valid-channel-flow"] = method(20, 20, bits(True))
    s["valid-channel-close"] = method(20, 40, struct.pack(">H", 404) + shortstr("NOT_FOUND - no queue 'q'") + struct.pack(">HH", 50, 10))
    s["valid-access-request"] = method(30, 10, shortstr("/data") + bits(False, True, True, True, True))
    # exchange, queue
    s["valid-exchange-declare"] = method(40, 10, struct.pack(">H", 0) + shortstr("logs") + shortstr("topic") +
                                         bits(False, True, False, False, False) + table([("alternate-exchange", "S", longstr("ae"))]))
    s["valid-exchange-bind"] = method(40, 30, struct.pack(">H", 0) + shortstr("dst") + shortstr("src") + shortstr("a.*") + bits(False) + table([]))
    s["valid-exchange-unbind-ok"] = method(40, 51)
    s["valid-queue-declare"] = method(50, 10, struct.pack(">H", 0) + shortstr("orders") + bits(False, True, False, False, False) +
                                      table([("x-message-ttl", "I", struct.pack(">i", 60000)),
                                             ("x-max-length", "l", struct.pack(">q", 1000)),
                                             ("x-dead-letter-exchange", "S", longstr("dlx")),
                                             ("x-queue-type", "S", longstr("classic"))]))
    s["valid-queue-declare-ok"] = method(50, 11, shortstr("amq.gen-JzTY20BRgKO-HjmUJj0wLg") + struct.pack(">II", 5, 1))
    s["valid-queue-bind-headers"] = method(50, 20, struct.pack(">H", 0) + shortstr("q") + shortstr("amq.headers") + shortstr("") + bits(False) +
                                           table([("x-match", "S", longstr("all")), ("format", "S", longstr("pdf"))]))
    s["valid-queue-delete"] = method(50, 40, struct.pack(">H", 0) + shortstr("q") + bits(True, True, False))
    # basic
    s["valid-basic-qos"] = method(60, 10, struct.pack(">IH", 0, 100) + bits(False))
    s["valid-basic-consume"] = method(60, 20, struct.pack(">H", 0) + shortstr("orders") + shortstr("ctag-1") +
                                      bits(False, False, True, False) + table([("x-priority", "I", struct.pack(">i", 10))]))
    s["valid-basic-cancel"] = method(60, 30, shortstr("ctag-1") + bits(True))
    s["valid-basic-publish-sequence"] = (
        method(60, 40, struct.pack(">H", 0) + shortstr("amq.direct") + shortstr("key") + bits(True, False)) +
        header(11, 0x9000, shortstr("text/plain") + b"\x02") + body(b"hello world"))
    s["valid-basic-publish-split-body"] = (
        method(60, 40, struct.pack(">H", 0) + shortstr("") + shortstr("q") + bits(False, False)) +
        header(6, 0, b"") + body(b"abc") + body(b"def") + HEARTBEAT)
    s["valid-basic-deliver-all-props"] = (
        method(60, 60, shortstr("ctag-1") + struct.pack(">Q", 42) + bits(True) + shortstr("ex") + shortstr("rk")) +
        header(3, 0xFFFC, ALL_PROPS) + body(b"xyz"))
    s["valid-basic-get-ok"] = method(60, 71, struct.pack(">Q", 7) + bits(False) + shortstr("") + shortstr("q") + struct.pack(">I", 3))
    s["valid-basic-get-empty"] = method(60, 72, shortstr(""))
    s["valid-basic-ack-multiple"] = method(60, 80, struct.pack(">Q", 1000) + bits(True))
    s["valid-basic-nack"] = method(60, 120, struct.pack(">Q", 3) + bits(False, True))
    s["valid-basic-reject"] = method(60, 90, struct.pack(">Q", 9) + bits(True))
    s["valid-basic-recover-async"] = method(60, 100, bits(True))
    s["valid-confirm-select"] = method(85, 10, bits(False))
    s["valid-tx-select-commit"] = method(90, 10) + method(90, 20) + method(90, 30)
    s["valid-heartbeat"] = HEARTBEAT
    s["valid-header-continuation"] = header(1, 0, b"\x02", flag_words=struct.pack(">HHH", 0x1001, 0x0001, 0x0000))
    s["valid-table-nest-at-limit"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + nest(32))
    # raw payloads for the direct decoders (the fuzzer reads every input these ways too)
    s["raw-method-queue-declare"] = struct.pack(">HH", 50, 10) + struct.pack(">H", 0) + shortstr("q") + bits(True) + EVERY_TYPE
    s["raw-header-all-props"] = struct.pack(">HHQ", 60, 0, 3) + struct.pack(">H", 0xFFFC) + ALL_PROPS
    s["raw-table-every-type"] = b"\x20" + EVERY_TYPE[4:]
    # invalid
    s["bad-frame-end"] = method(60, 80, struct.pack(">Q", 1) + bits(False))[:-1] + b"\xcf"
    s["bad-frame-type"] = frame(4, 0, b"")
    s["bad-protocol-header"] = b"AMQP\x00\x00\x09\x01"
    s["bad-oversized-frame"] = struct.pack(">BHI", 3, 1, 1 << 20) + b"\x00" * 32
    s["bad-truncated-frame"] = method(60, 40, struct.pack(">H", 0) + shortstr("ex") + shortstr("rk") + bits())[:-5]
    s["bad-unknown-class"] = method(99, 10)
    s["bad-unknown-method"] = method(60, 12)
    s["bad-truncated-method"] = frame(1, 1, struct.pack(">HH", 60, 80) + struct.pack(">I", 1))
    s["bad-trailing-garbage"] = method(60, 80, struct.pack(">Q", 1) + bits(False) + b"\x00")
    s["bad-table-type"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + table([("k", "Z", b"")]))
    s["bad-table-type-L"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + table([("k", "L", struct.pack(">Q", 1))]))
    s["bad-table-overrun"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + struct.pack(">I", 100) + b"\x01k" + b"V")
    s["bad-table-string-overrun"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + table([("k", "S", struct.pack(">I", 50) + b"ab")]))
    s["bad-table-nest-over-limit"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() + nest(33))
    s["bad-shortstr-overrun"] = method(60, 21, b"\xff" + b"abc")
    s["bad-header-continuation-props"] = header(1, 0, b"", flag_words=struct.pack(">HH", 0x0001, 0x8000))
    s["bad-header-truncated-props"] = header(1, 0x8000, b"\x05ab")
    s["bad-header-trailing"] = header(1, 0x1000, b"\x02\x00")
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "frame")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
