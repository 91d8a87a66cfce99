#!/usr/bin/env python3
"""Writes the seed corpus of the Kafka request decoder fuzzer
(tests/fuzz/corpus/kafka): one well-formed request frame per API and
version we serve, a few pipelined streams and some malformed frames.
Usage: tests/fuzz/make-corpus-kafka.py [DIR]"""
import os, struct, sys, zlib

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'kafka')
os.makedirs(out, exist_ok=True)

def i8(v): return struct.pack('>b', v)
def i16(v): return struct.pack('>h', v)
def i32(v): return struct.pack('>i', v)
def i64(v): return struct.pack('>q', v)
def s(x): return i16(-1) if x is None else i16(len(x)) + x.encode()
def b(x): return i32(-1) if x is None else i32(len(x)) + x
def arr(items): return i32(len(items)) + b''.join(items)

def frame(api, ver, body, corr=1, client='fuzz'):
    p = i16(api) + i16(ver) + i32(corr) + s(client) + body
    return i32(len(p)) + p

batch = bytes.fromhex('0000000000000000' '00000046' 'ffffffff' '02' '00000000' '0000' '00000000'
                      '0000018bcfe56800' '0000018bcfe56800' 'ffffffffffffffff' 'ffff' 'ffffffff'
                      '00000001' '1400000001' '0a' '68656c6c6f' '00')
seeds = {
    'api_versions_v0': frame(18, 0, b''),
    'api_versions_v2': frame(18, 2, b''),
    'metadata_v0_all': frame(3, 0, arr([])),
    'metadata_v1_null': frame(3, 1, i32(-1)),
    'metadata_v4': frame(3, 4, arr([s('t1'), s('t2')]) + i8(1)),
    'produce_v3': frame(0, 3, s(None) + i16(-1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(batch)])])),
    'fetch_v4': frame(1, 4, i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(0) +
                      arr([s('t1') + arr([i32(0) + i64(0) + i32(1048576)])])),
    'list_offsets_v1': frame(2, 1, i32(-1) + arr([s('t1') + arr([i32(0) + i64(-2)])])),
    'offset_commit_v2': frame(8, 2, s('g') + i32(1) + s('m') + i64(-1) +
                              arr([s('t1') + arr([i32(0) + i64(5) + s('meta')])])),
    'offset_fetch_v1': frame(9, 1, s('g') + arr([s('t1') + arr([i32(0), ])])),
    'find_coordinator_v0': frame(10, 0, s('g')),
    'join_group_v0': frame(11, 0, s('g') + i32(10000) + s('') + s('consumer') + arr([s('range') + b(b'\0\0\0\0\0\1\0\2t1')])),
    'join_group_v2': frame(11, 2, s('g') + i32(10000) + i32(30000) + s('') + s('consumer') +
                           arr([s('range') + b(b'meta'), s('roundrobin') + b(b'meta')])),
    'join_group_v4': frame(11, 4, s('g') + i32(10000) + i32(30000) + s('') + s('consumer') +
                           arr([s('range') + b(b'meta')])),
    'join_group_v5_static': frame(11, 5, s('g') + i32(10000) + i32(30000) + s('') + s('inst-a') +
                                  s('consumer') + arr([s('range') + b(b'meta')])),
    'join_group_v5_dynamic': frame(11, 5, s('g') + i32(10000) + i32(30000) + s('m') + s(None) +
                                   s('consumer') + arr([s('range') + b(b'meta')])),
    'heartbeat_v1': frame(12, 1, s('g') + i32(1) + s('m')),
    'heartbeat_v3': frame(12, 3, s('g') + i32(1) + s('m') + s('inst-a')),
    'leave_group_v1': frame(13, 1, s('g') + s('m')),
    'leave_group_v3': frame(13, 3, s('g') + arr([s('') + s('inst-a'), s('m') + s(None)])),
    'sync_group_v1': frame(14, 1, s('g') + i32(1) + s('m') + arr([s('m') + b(b'assignment')])),
    'sync_group_v3': frame(14, 3, s('g') + i32(1) + s('m') + s('inst-a') +
                           arr([s('m') + b(b'assignment'), s('n') + b(None)])),
    'describe_groups_v0': frame(15, 0, arr([s('g'), s('h')])),
    'describe_groups_v3': frame(15, 3, arr([s('g')]) + i8(1)),
    'describe_groups_v4': frame(15, 4, arr([s('g'), s('h')]) + i8(0)),
    'offset_commit_v3': frame(8, 3, s('g') + i32(1) + s('m') + i64(-1) +
                              arr([s('t1') + arr([i32(0) + i64(5) + s('meta')])])),
    'offset_commit_v5': frame(8, 5, s('g') + i32(1) + s('m') +
                              arr([s('t1') + arr([i32(0) + i64(5) + s(None)])])),
    'offset_commit_v6': frame(8, 6, s('g') + i32(1) + s('m') +
                              arr([s('t1') + arr([i32(0) + i64(5) + i32(3) + s('meta')])])),
    'offset_commit_v7': frame(8, 7, s('g') + i32(1) + s('m') + s('inst-a') +
                              arr([s('t1') + arr([i32(0) + i64(5) + i32(-1) + s('meta'),
                                                  i32(1) + i64(7) + i32(2) + s(None)])])),
    'list_groups_v0': frame(16, 0, b''),
    'create_topics_v1': frame(19, 1, arr([s('t1') + i32(3) + i16(1) + arr([]) +
                                          arr([s('retention.ms') + s('1000'), s('cleanup.policy') + s('compact')])]) +
                              i32(5000) + i8(0)),
    'delete_topics_v1': frame(20, 1, arr([s('t1')]) + i32(5000)),
    'offset_for_leader_epoch_v0': frame(23, 0, arr([s('t1') + arr([i32(0) + i32(3)])])),
    'offset_for_leader_epoch_v2': frame(23, 2, arr([s('t1') + arr([i32(0) + i32(4) + i32(3)])])),
    'offset_for_leader_epoch_v3': frame(23, 3, i32(2) + arr([s('t1') + arr([i32(0) + i32(4) + i32(3),
                                                                           i32(1) + i32(-1) + i32(0)])])),
    'create_partitions_v1': frame(37, 1, arr([s('t1') + i32(5) + i32(-1)]) + i32(5000) + i8(0)),
    'api_versions_v3': frame(18, 3, b'\x00' + b'\x04raw' + b'\x021' + b'\x00'),
    'create_topics_v5': frame(19, 5, b'\x00' + b'\x02' + b'\x03t1' + i32(-1) + i16(-1) + b'\x01' +
                              b'\x02' + b'\x0dretention.ms' + b'\x051234' + b'\x00' + b'\x00' +
                              i32(5000) + i8(0) + b'\x00'),
    'list_groups_v4': frame(16, 4, b'\x00' + b'\x03' + b'\x07Stable' + b'\x06Empty' + b'\x00'),
    'init_producer_id_v1': frame(22, 1, s(None) + i32(60000)),
    'alter_configs_v1': frame(33, 1, arr([i8(2) + s('t1') + arr([s('retention.ms') + s('1000'),
                                                                  s('segment.ms') + s(None)])]) + i8(0)),
    'incremental_alter_configs_v0': frame(44, 0, arr([i8(2) + s('t1') +
                                                      arr([s('cleanup.policy') + i8(2) + s('compact'),
                                                           s('retention.ms') + i8(1) + s(None)])]) + i8(1)),
}
# Produce v0-2: legacy message sets (magic 0 for v0-1, magic 1 for v2); v8
# the same body as v3; v9 flexible (compact strings, arrays, records, tags)
def legacy(magic, key, value):
    body = struct.pack('>bb', magic, 0) + (i64(1700000000000) if magic == 1 else b'') + b(key) + b(value)
    return i64(0) + i32(4 + len(body)) + struct.pack('>I', zlib.crc32(body)) + body
def uv(n):
    o = b''
    while n >= 0x80:
        o += bytes([(n & 0x7f) | 0x80])
        n >>= 7
    return o + bytes([n])
seeds['produce_v0'] = frame(0, 0, i16(1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(legacy(0, b'k', b'v0') + legacy(0, None, b'v1'))])]))
seeds['produce_v2'] = frame(0, 2, i16(-1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(legacy(1, b'k', b'v2'))])]))
seeds['produce_v8'] = frame(0, 8, s(None) + i16(-1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(batch)])]))
seeds['produce_v9'] = frame(0, 9, b'\x00' + uv(0) + i16(-1) + i32(30000) + uv(2) + uv(3) + b't1' + uv(2) +
                            i32(0) + uv(len(batch) + 1) + batch + b'\x00' + b'\x00' + b'\x00')
seeds['pipelined'] = seeds['api_versions_v0'] + seeds['metadata_v0_all'] + seeds['fetch_v4']
seeds['truncated'] = seeds['produce_v3'][:-7]
seeds['huge_count'] = frame(3, 1, i32(0x7fffffff))
seeds['tiny_size'] = i32(3) + b'\0\0\0'
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {out}')
