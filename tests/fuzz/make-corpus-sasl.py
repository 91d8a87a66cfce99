#!/usr/bin/env python3
"""Writes the seed corpora of the SASL and TLS fuzz targets:
tests/fuzz/corpus/sasl (fuzz_sasl.c's records: op byte, u16 length, body;
op 0 SaslHandshake, 1 SaslAuthenticate, 2 bare token, 3 check, +4 for
version 1) and tests/fuzz/corpus/tls (client first flights: ClientHellos
made by Python's ssl module over memory BIOs, plain Kafka and AMQP, junk).
Usage: tests/fuzz/make-corpus-sasl.py [TOPDIR]"""
import os, ssl, struct, sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus')

def s(x): return struct.pack('>h', len(x)) + x
def b(x): return struct.pack('>i', len(x)) + x
def rec(op, body, v1=False): return bytes([op | (4 if v1 else 0)]) + struct.pack('>H', len(body)) + body
def hs(mech, v1=True): return rec(0, s(mech), v1)
def auth(tok, v1=False): return rec(1, b(tok), v1)
def raw(tok): return rec(2, tok)
check = rec(3, b'')

FIRST = b'n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL'
FINAL = (b'c=biws,r=fyko+d2lbbFgONRv9qkxdawLSNONCE,'
         b'p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')
sasl = {
    'plain_v1': hs(b'PLAIN') + auth(b'\0alice\0s3cret') + check,
    'plain_v1_authn_v1': hs(b'PLAIN') + auth(b'alice\0alice\0s3cret', True) + check,
    'plain_wrong': hs(b'PLAIN') + auth(b'\0alice\0wrong'),
    'plain_authzid_other': hs(b'PLAIN') + auth(b'bob\0alice\0s3cret'),
    'plain_no_nul': hs(b'PLAIN') + auth(b'alice'),
    'plain_v0_raw': hs(b'PLAIN', False) + raw(b'\0alice\0s3cret') + check,
    'scram256': hs(b'SCRAM-SHA-256') + auth(FIRST) + auth(FINAL),
    'scram512_raw': hs(b'SCRAM-SHA-512', False) + raw(FIRST) + raw(FINAL),
    'scram_bad_first': hs(b'SCRAM-SHA-256') + auth(b'y,,n=,r='),
    'unknown_mech': hs(b'GSSAPI'),
    'auth_first': auth(b'\0alice\0s3cret'),
    'two_handshakes': hs(b'PLAIN') + hs(b'PLAIN'),
    'check_only': check,
    'plain_vhost_user': hs(b'PLAIN') + auth(b'\0shop:alice\0s3cret') + check,
    'scram_vhost_user': hs(b'SCRAM-SHA-256') + auth(b'n,,n=shop:alice,r=abc') + auth(FINAL),
}
tls = {
    'kafka_api_versions': bytes.fromhex('0000000d001200000000000100037261'),
    'amqp_header': b'AMQP\x00\x00\x09\x01',
    'http_get': b'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'junk_record': bytes.fromhex('16030100050100000100'),
}
for name, opts in [('hello_tls13', (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3, None)),
                   ('hello_tls12', (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, None)),
                   ('hello_sni', (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3, 'localhost'))]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version, ctx.maximum_version = opts[0], opts[1]
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, out, server_hostname=opts[2])
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    tls[name] = out.read()
tls['hello_then_kafka'] = tls['hello_tls12'] + tls['kafka_api_versions']
tls['hello_truncated'] = tls['hello_tls13'][:40]
for d, seeds in (('sasl', sasl), ('tls', tls)):
    os.makedirs(os.path.join(top, d), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(top, d, name), 'wb') as f:
            f.write(data)
print('wrote %d sasl and %d tls seeds under %s' % (len(sasl), len(tls), top))
