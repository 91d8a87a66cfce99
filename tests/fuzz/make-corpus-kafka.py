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
# Flexible versions (KIP-482): the body starts with request header v2's
# tags; compact strings, bytes and arrays (unsigned varint of length + 1).
def uv(v):
    out = b''
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80]); v >>= 7
    return out + bytes([v])
def cs(x): return b'\x00' if x is None else uv(len(x) + 1) + x.encode()
def cb(x): return uv(len(x) + 1) + x
def carr(items): return b'\x00' if items is None else uv(len(items) + 1) + b''.join(items)
T = b'\x00'  # no tagged fields
def flex(api, ver, body): return frame(api, ver, T + body + T)
join_protos = carr([cs('range') + cb(b'meta') + T, cs('roundrobin') + cb(b'meta') + T])
seeds.update({
    'find_coordinator_v1_txn': frame(10, 1, s('tx-1') + i8(1)),
    'find_coordinator_v2': frame(10, 2, s('g') + i8(0)),
    'find_coordinator_v3': flex(10, 3, cs('g') + i8(0)),
    'find_coordinator_v4': flex(10, 4, i8(0) + carr([cs('g'), cs('h')])),
    'find_coordinator_v4_txn': flex(10, 4, i8(1) + carr([cs('tx-1')])),
    'join_group_v6': flex(11, 6, cs('g') + i32(10000) + i32(30000) + cs('') + cs(None) +
                          cs('consumer') + join_protos),
    'join_group_v7_static': flex(11, 7, cs('g') + i32(10000) + i32(30000) + cs('m') + cs('inst-a') +
                                 cs('consumer') + join_protos),
    'join_group_v8_reason': flex(11, 8, cs('g') + i32(10000) + i32(30000) + cs('m') + cs(None) +
                                 cs('consumer') + join_protos + cs('rebalance needed')),
    'join_group_v9': flex(11, 9, cs('g') + i32(10000) + i32(30000) + cs('') + cs(None) +
                          cs('consumer') + join_protos + cs(None)),
    'sync_group_v4': flex(14, 4, cs('g') + i32(1) + cs('m') + cs(None) +
                          carr([cs('m') + cb(b'assignment') + T])),
    'sync_group_v5': flex(14, 5, cs('g') + i32(1) + cs('m') + cs('inst-a') + cs('consumer') +
                          cs('range') + carr([cs('m') + cb(b'assignment') + T, cs('n') + cb(b'') + T])),
    'sync_group_v5_null_names': flex(14, 5, cs('g') + i32(1) + cs('m') + cs(None) + cs(None) +
                                     cs(None) + carr([])),
    'heartbeat_v4': flex(12, 4, cs('g') + i32(1) + cs('m') + cs(None)),
    'leave_group_v4': flex(13, 4, cs('g') + carr([cs('m') + cs(None) + T])),
    'leave_group_v5': flex(13, 5, cs('g') + carr([cs('m') + cs(None) + cs('shutting down') + T,
                                                   cs('') + cs('inst-a') + cs(None) + T])),
    'offset_commit_v8': flex(8, 8, cs('g') + i32(1) + cs('m') + cs(None) +
                             carr([cs('t1') + carr([i32(0) + i64(5) + i32(-1) + cs('meta') + T,
                                                    i32(1) + i64(7) + i32(2) + cs(None) + T]) + T])),
    'offset_fetch_v5': frame(9, 5, s('g') + arr([s('t1') + arr([i32(0), i32(1)])])),
    'offset_fetch_v6': flex(9, 6, cs('g') + carr([cs('t1') + carr([i32(0)]) + T])),
    'offset_fetch_v7_all': flex(9, 7, cs('g') + carr(None) + i8(1)),
    'offset_fetch_v8': flex(9, 8, carr([cs('g') + carr([cs('t1') + carr([i32(0), i32(1)]) + T]) + T,
                                        cs('h') + carr(None) + T]) + i8(0)),
    'describe_groups_v5': flex(15, 5, carr([cs('g'), cs('h')]) + i8(1)),
    'delete_groups_v2': flex(42, 2, carr([cs('g'), cs('')])),
    'init_producer_id_v2': flex(22, 2, cs(None) + i32(60000)),
    'init_producer_id_v3': flex(22, 3, cs(None) + i32(60000) + i64(1000) + i16(0)),
    'init_producer_id_v4_txn': flex(22, 4, cs('tx-1') + i32(60000) + i64(-1) + i16(-1)),
})
# Produce v0-2: legacy message sets (magic 0 for v0-1, magic 1 for v2); v8
# the same body as v3; v9 flexible (compact strings, arrays, records, tags)
def legacy(magic, key, value):
    body = struct.pack('>bb', magic, 0) + (i64(1700000000000) if magic == 1 else b'') + b(key) + b(value)
    return i64(0) + i32(4 + len(body)) + struct.pack('>I', zlib.crc32(body)) + body
seeds['produce_v0'] = frame(0, 0, i16(1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(legacy(0, b'k', b'v0') + legacy(0, None, b'v1'))])]))
seeds['produce_v2'] = frame(0, 2, i16(-1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(legacy(1, b'k', b'v2'))])]))
seeds['produce_v8'] = frame(0, 8, s(None) + i16(-1) + i32(30000) + arr([s('t1') + arr([i32(0) + b(batch)])]))
seeds['produce_v9'] = frame(0, 9, b'\x00' + uv(0) + i16(-1) + i32(30000) + uv(2) + uv(3) + b't1' + uv(2) +
                            i32(0) + uv(len(batch) + 1) + batch + b'\x00' + b'\x00' + b'\x00')
# Metadata v9-12, ListOffsets v7, Fetch v12 (a session) and v13 (by id),
# DescribeLogDirs v2, DeleteTopics v6, DescribeConfigs v4 (flexible)
Z16 = b'\x00' * 16
seeds.update({
    'metadata_v9': flex(3, 9, carr([cs('t1') + T]) + i8(1) + i8(1) + i8(1)),
    'metadata_v12_by_id': flex(3, 12, carr([b'\x01' * 16 + cs(None) + T]) + i8(0) + i8(1)),
    'list_offsets_v7': flex(2, 7, i32(-1) + i8(1) + carr([cs('t1') + carr([i32(0) + i32(-1) + i64(-3) + T]) + T])),
    'fetch_v12_session': flex(1, 12, i32(-1) + i32(500) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(0) +
                              carr([cs('t1') + carr([i32(0) + i32(-1) + i64(0) + i32(-1) + i64(-1) + i32(1 << 20) + T]) + T]) +
                              carr([cs('t2') + carr([i32(1)]) + T]) + cs('')),
    'fetch_v13_by_id': flex(1, 13, i32(-1) + i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(7) + i32(3) +
                            carr([Z16 + carr([i32(0) + i32(-1) + i64(0) + i32(-1) + i64(-1) + i32(1 << 20) + T]) + T]) +
                            carr([]) + cs('')),
    'describe_log_dirs_v2': flex(35, 2, carr([cs('t1') + carr([i32(0), i32(1)]) + T])),
    'describe_log_dirs_v1_all': frame(35, 1, i32(-1)),
    'delete_topics_v6': flex(20, 6, carr([cs(None) + Z16 + T, cs('t1') + Z16 + T]) + i32(5000)),
    'describe_configs_v4': flex(32, 4, carr([i8(2) + cs('t1') + carr(None) + T]) + i8(1) + i8(1)),
})
# the transaction APIs (24 AddPartitionsToTxn, 25 AddOffsetsToTxn, 26
# EndTxn, 28 TxnOffsetCommit), classic v0-2 and flexible v3
seeds.update({
    'add_partitions_txn_v1': frame(24, 1, s('tx-1') + i64(7) + i16(0) +
                                   arr([s('t1') + arr([i32(0), i32(1)])])),
    'add_partitions_txn_v3': flex(24, 3, cs('tx-1') + i64(7) + i16(0) +
                                  carr([cs('t1') + carr([i32(0)]) + T])),
    'add_offsets_txn_v0': frame(25, 0, s('tx-1') + i64(7) + i16(0) + s('g')),
    'add_offsets_txn_v3': flex(25, 3, cs('tx-1') + i64(7) + i16(0) + cs('g')),
    'end_txn_v1': frame(26, 1, s('tx-1') + i64(7) + i16(0) + i8(1)),
    'end_txn_v3': flex(26, 3, cs('tx-1') + i64(7) + i16(0) + i8(0)),
    'txn_offset_commit_v2': frame(28, 2, s('tx-1') + s('g') + i64(7) + i16(0) +
                                  arr([s('t1') + arr([i32(0) + i64(5) + i32(-1) + s(None)])])),
    'txn_offset_commit_v3': flex(28, 3, cs('tx-1') + cs('g') + i64(7) + i16(0) + i32(1) + cs('m') +
                                 cs(None) + carr([cs('t1') + carr([i32(0) + i64(5) + i32(2) +
                                                                   cs('meta') + T]) + T])),
})
# WriteTxnMarkers (27, inter-broker): classic v0, flexible v1
seeds.update({
    'write_txn_markers_v0': frame(27, 0, arr([i64(7) + i16(0) + i8(1) +
                                              arr([s('t1') + arr([i32(0), i32(1)])]) + i32(3)])),
    'write_txn_markers_v1': flex(27, 1, carr([i64(7) + i16(2) + i8(0) +
                                              carr([cs('t1') + carr([i32(0)]) + T,
                                                    cs('t2') + carr([]) + T]) + i32(0) + T])),
})
# the ACL APIs (29 DescribeAcls, 30 CreateAcls, 31 DeleteAcls): v0 (no
# pattern type), v1, flexible v2-3
def acl(ver, rtype, name, ptype, principal, host, op, perm, flexible):
    st = cs if flexible else s
    return (i8(rtype) + st(name) + (i8(ptype) if ver >= 1 else b'') + st(principal) + st(host) +
            i8(op) + i8(perm) + (T if flexible else b''))
seeds.update({
    'describe_acls_v0': frame(29, 0, acl(0, 2, 't1', 3, None, None, 1, 1, False)),
    'describe_acls_v1_match': frame(29, 1, acl(1, 1, 't1', 2, 'User:bob', None, 1, 1, False)),
    'describe_acls_v3': flex(29, 3, acl(3, 2, None, 1, None, '*', 3, 3, True)[:-1]),
    'create_acls_v1': frame(30, 1, arr([acl(1, 2, 't1', 3, 'User:bob', '*', 4, 3, False),
                                         acl(1, 3, 'g', 4, 'User:bob', '*', 3, 3, False)])),
    'create_acls_v2': flex(30, 2, carr([acl(2, 2, 'pre-', 4, 'User:bob', '*', 2, 3, True)])),
    'delete_acls_v0': frame(31, 0, arr([acl(0, 2, 't1', 3, None, None, 1, 1, False)])),
    'delete_acls_v3': flex(31, 3, carr([acl(3, 1, None, 1, 'User:bob', None, 1, 1, True),
                                        acl(3, 2, 't1', 2, None, '*', 4, 3, True)])),
})
seeds['pipelined'] = seeds['api_versions_v0'] + seeds['metadata_v0_all'] + seeds['fetch_v4']
seeds['truncated'] = seeds['produce_v3'][:-7]
seeds['huge_count'] = frame(3, 1, i32(0x7fffffff))
seeds['tiny_size'] = i32(3) + b'\0\0\0'
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {out}')
