#!/usr/bin/python3
"""Writes the seed corpus of the RecordBatch fuzzer (tests/fuzz/corpus/batch):
record batches as producers send them, uncompressed and in every codec the
way clients write them (gzip; snappy as a raw block and in snappy-java's
framing; LZ4 frames; zstd frames with and without a content size), a run of
several batches, transactions (a transactional batch, commit and abort markers
as control batches, markers with an unknown type or a short key, a run of
both), and damaged ones (truncated data, a decompression bomb over
the fuzzer's 1 MiB bound, codec 7); legacy message sets (magic 0 and 1, plain
and in gzip, snappy and lz4 wrappers, magic 0 lz4 with a wrong frame header
checksum, a bad CRC, mixed magic) for the conversion of Produce v0-2.
Needs python3-snappy, python3-lz4, python3-zstandard (Debian).
Usage: tests/fuzz/make-corpus-batch.py [DIR]"""
import os
import struct
import sys
import zlib

import lz4.frame
import snappy
import zstandard

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'batch')
os.makedirs(out, exist_ok=True)


def crc32c(data):
    c = 0xffffffff
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    return c ^ 0xffffffff


def varint(v):
    u = (v << 1) ^ (v >> 63)
    b = bytearray()
    while u >= 0x80:
        b.append((u & 0x7f) | 0x80)
        u >>= 7
    b.append(u)
    return bytes(b)


def field(x):
    return varint(-1) if x is None else varint(len(x)) + x


def record(i, key, value, headers=()):
    body = b'\0' + varint(i * 3) + varint(i) + field(key) + field(value) + varint(len(headers))
    for k, v in headers:
        body += field(k) + field(v)
    return varint(len(body)) + body


def records(n, size=20):
    return b''.join(record(i, b'key-%d' % i, (b'value-%d:' % i) + b'abcd' * size,
                           [(b'trace', b'%d' % i)] if i % 3 == 0 else [])
                    for i in range(n))


def batch(payload, n, codec, base=0):
    rest = struct.pack('>hiqqqhii', codec, n - 1, 1700000000000, 1700000000000 + 3 * (n - 1),
                       -1, -1, -1, n) + payload
    head = struct.pack('>qiib', base, 4 + 1 + 4 + len(rest), -1, 2)
    return head + struct.pack('>I', crc32c(rest)) + rest


def gzip(data):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def xerial(data, block=32 * 1024):
    o = b'\x82SNAPPY\x00' + struct.pack('>ii', 1, 1)
    for i in range(0, len(data), block):
        c = snappy.compress(data[i:i + block])
        o += struct.pack('>i', len(c)) + c
    return o


def lz4f(data):
    return lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=False,
                              content_checksum=False, store_size=False)


def zstd(data, size=True):
    return zstandard.ZstdCompressor(write_content_size=size).compress(data)


def producer_batch(payload, n, attr, pid, epoch, seq, base=0):
    """A batch with a producer id and attributes attr (0x10 transactional,
    0x20 control)."""
    rest = struct.pack('>hiqqqhii', attr, n - 1, 1700000000000, 1700000000000 + 3 * (n - 1),
                       pid, epoch, seq, n) + payload
    head = struct.pack('>qiib', base, 4 + 1 + 4 + len(rest), -1, 2)
    return head + struct.pack('>I', crc32c(rest)) + rest


def marker(kind, pid=7, epoch=0, base=0, key=None):
    """A transaction marker: key (version 0, type), value (version 0,
    coordinator epoch)."""
    key = struct.pack('>hh', 0, kind) if key is None else key
    body = b'\0' + varint(0) + varint(0) + field(key) + field(struct.pack('>hi', 0, 5)) + varint(0)
    return producer_batch(varint(len(body)) + body, 1, 0x30, pid, epoch, -1, base)


plain = records(12)
big = records(400, 60)
seeds = {
    'plain': batch(plain, 12, 0),
    'gzip': batch(gzip(plain), 12, 1),
    'snappy-raw': batch(snappy.compress(plain), 12, 2),
    'snappy-xerial': batch(xerial(plain), 12, 2),
    'snappy-xerial-blocks': batch(xerial(big, 4096), 400, 2),
    'lz4': batch(lz4f(plain), 12, 3),
    'lz4-blocks-checksums': batch(lz4.frame.compress(big, block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                                                     content_checksum=True), 400, 3),
    'zstd': batch(zstd(plain), 12, 4),
    'zstd-no-content-size': batch(zstd(big, False), 400, 4),
    'run-of-batches': batch(plain, 12, 0) + batch(lz4f(plain), 12, 3, 12) + batch(zstd(plain), 12, 4, 24),
    'zstd-truncated': batch(zstd(plain)[:-5], 12, 4),
    'lz4-truncated': batch(lz4f(plain)[:-9], 12, 3),
    'snappy-xerial-bad-length': batch(xerial(plain)[:16] + struct.pack('>i', 1 << 30) + b'x', 12, 2),
    'zstd-bomb': batch(zstd(b'\0' * (2 << 20), False), 1, 4),
    'lz4-bomb': batch(lz4f(b'\0' * (2 << 20)), 1, 3),
    'snappy-bomb': batch(snappy.compress(b'\0' * (2 << 20)), 1, 2),
    'codec-7': batch(plain, 12, 7),
    'txn-data': producer_batch(plain, 12, 0x10, 7, 0, 0),
    'txn-abort-marker': marker(0),
    'txn-commit-marker': marker(1),
    'txn-marker-unknown-type': marker(5),
    'txn-marker-short-key': marker(0, key=b'\0\0'),
    'txn-run': producer_batch(plain, 12, 0x10, 7, 0, 0) + marker(0, base=12) +
    producer_batch(plain, 12, 0x10, 7, 0, 12, 13) + marker(1, base=25),
}


def legacy(magic, key, value, attr=0, ts=1700000000000, offset=0, bad_crc=False):
    """One legacy message (MessageSet magic 0 or 1)."""
    body = struct.pack('>bb', magic, attr) + (struct.pack('>q', ts) if magic == 1 else b'')
    for x in (key, value):
        body += struct.pack('>i', -1) if x is None else struct.pack('>i', len(x)) + x
    crc = (zlib.crc32(body) ^ (1 if bad_crc else 0)) & 0xffffffff
    return struct.pack('>qiI', offset, 4 + len(body), crc) + body


def legacy_set(magic, n=5):
    return b''.join(legacy(magic, b'k%d' % i, b'value-%d' % i * 4, ts=1700000000000 + i,
                           offset=i if magic == 1 else 0) for i in range(n))


def wrapper(magic, codec, inner, bad_hc=False):
    if bad_hc:
        desc = 2 + (8 if inner[4] & 0x08 else 0) + (4 if inner[4] & 0x01 else 0)
        inner = inner[:4 + desc] + bytes([inner[4 + desc] ^ 0x5a]) + inner[5 + desc:]
    return legacy(magic, None, inner, attr=codec, offset=4 if magic == 1 else 0)


seeds.update({
    'legacy-v0-plain': legacy_set(0),
    'legacy-v1-plain': legacy_set(1) + legacy(1, None, None),
    'legacy-v1-gzip': wrapper(1, 1, gzip(legacy_set(1))),
    'legacy-v1-snappy-xerial': wrapper(1, 2, xerial(legacy_set(1))),
    'legacy-v0-snappy-raw': wrapper(0, 2, snappy.compress(legacy_set(0))),
    'legacy-v1-lz4': wrapper(1, 3, lz4f(legacy_set(1))),
    'legacy-v0-lz4-bad-hc': wrapper(0, 3, lz4f(legacy_set(0)), bad_hc=True),
    'legacy-v1-bad-crc': legacy_set(1, 2) + legacy(1, b'k', b'v', bad_crc=True),
    'legacy-mixed-magic': legacy_set(1, 2) + legacy_set(0, 2),
    'legacy-nested': wrapper(1, 1, gzip(wrapper(1, 1, gzip(legacy_set(1))))),
})
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {out}')
