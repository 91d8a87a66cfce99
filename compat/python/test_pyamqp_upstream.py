"""py-amqp's own integration tests, against tandemd and against RabbitMQ 3.10.

pyamqp_upstream/test_rmq.py is t/integration/test_rmq.py of py-amqp 5.1.1
(the version Debian 12's python3-amqp ships; tag v5.1.1, commit
2ac44d526cff79a059a5b270b736aa58c6c90bb2), copied unmodified, with its
licence beside it.  Upstream runs it with pytest against a RabbitMQ whose
AMQPS listener has verify_peer and fail_if_no_peer_cert (its Dockerfile), the
certificates in t/certs/.  Here compat/run starts the broker the same way and
this runner gives the tests what they expect:

- t/certs/ in a scratch working directory, made from compat/run's
  certificates (COMPAT_TLS_DIR): ca_certificate.pem (the CA),
  client_certificate.pem / client_key.pem (the client's), and
  client_certificate_broken.pem / client_key_broken.pem, the client's with
  the first characters of their base64 replaced by "Broken", as upstream's
  are (the bad-client-certificate case: ssl.SSLError);
- RABBITMQ_HOST, RABBITMQ_5672_TCP, RABBITMQ_5671_TCP from COMPAT_HOST,
  COMPAT_PORT, COMPAT_TLS_PORT;
- the few parts of pytest the file uses (fixture with params, an autouse
  generator fixture, mark.parametrize, mark.env, mark.flaky, raises), in a
  small stand-in: Debian 12's python3-pytest is not among compat's
  dependencies.  Each test runs once (mark.flaky's reruns are not used: a
  test must pass the first time) and is named as pytest names it.

Not run: test_tls_default_certs and test_tls_no_default_certs_fails dial
tls-v1-2.badssl.com on the internet; they test py-amqp, not the broker.

Depends on: py-amqp 5.1 (Debian's python3-amqp), Python's ssl module.
"""

import contextlib
import importlib.util
import itertools
import os
import shutil
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(HERE, "pyamqp_upstream", "test_rmq.py")
TLS_PORT = os.environ.get("COMPAT_TLS_PORT", "0")
TLS_DIR = os.environ.get("COMPAT_TLS_DIR", "")
NEEDS_INTERNET = {"test_tls_default_certs", "test_tls_no_default_certs_fails"}


# ---- the parts of pytest test_rmq.py uses -----------------------------------------

class _Marks:
    """pytest.mark: records parametrize; env and flaky change nothing here."""

    @staticmethod
    def parametrize(names, values):
        def deco(fn):
            fn._params = ([n.strip() for n in names.split(",")], list(values))
            return fn
        return deco

    def __getattr__(self, name):  # env('rabbitmq'), flaky(reruns=5, ...)
        return lambda *a, **k: (lambda fn: fn)


class _Raises:
    def __init__(self, exc):
        self.exc = exc
        self.value = None


@contextlib.contextmanager
def _raises(exc):
    info = _Raises(exc)
    try:
        yield info
    except exc as e:  # noqa: B902 - what the test asked for
        info.value = e
        return
    raise AssertionError("DID NOT RAISE %r" % (exc,))


def _fixture(fn=None, params=None, autouse=False):
    def deco(f):
        f._fixture = {"params": params, "autouse": autouse}
        return f
    return deco(fn) if fn is not None else deco


def _stand_in():
    m = types.ModuleType("pytest")
    m.fixture = _fixture
    m.mark = _Marks()
    m.raises = _raises
    m.skip = lambda reason="": (_ for _ in ()).throw(unittest.SkipTest(reason))
    return m


class _Request:
    def __init__(self, param):
        self.param = param
        self.config = types.SimpleNamespace()  # no xdist "slaveinput": vhost None = "/"


# ---- collecting the tests as pytest would -----------------------------------------

def _fixtures(mod):
    return {n: f for n, f in vars(mod).items() if callable(f) and hasattr(f, "_fixture")}


def _argnames(fn):
    code = fn.__code__
    names = code.co_varnames[:code.co_argcount]
    return [n for n in names if n != "self"]


def _autouse_args(cls):
    return [n for f in vars(cls).values() if callable(f) and getattr(f, "_fixture", {}).get("autouse")
            for n in _argnames(f)]


def _cases(fn, fixtures, extra=()):
    """(id, kwargs-from-params, fixture-params) for every combination; extra
    names the fixtures the class's autouse fixtures take."""
    axes = []  # (kind, name, values)
    for name in list(extra) + [n for n in _argnames(fn) if n not in extra]:
        fx = fixtures.get(name)
        if fx is not None and fx._fixture["params"]:
            axes.append(("fixture", name, fx._fixture["params"]))
    if hasattr(fn, "_params"):
        names, values = fn._params
        axes.append(("params", names, values))
    combos = itertools.product(*[a[2] for a in axes]) if axes else [()]
    for combo in combos:
        ids, kwargs, fparams = [], {}, {}
        for (kind, name, _), value in zip(axes, combo):
            if kind == "fixture":
                fparams[name] = value
                ids.append(str(value))
            else:
                kwargs.update(zip(name, value))
                ids.extend(str(v) for v in value)
        yield ("[%s]" % "-".join(ids) if ids else ""), kwargs, fparams


def _make_test(mod, fixtures, cls, fn, kwargs, fparams):
    def run(_self):
        values = {n: fixtures[n](_Request(fparams.get(n))) for n in _argnames(fn)
                  if n in fixtures}
        if cls is None:
            fn(**values, **kwargs)
            return
        obj = cls()
        gens = []
        for name, f in vars(cls).items():
            if callable(f) and getattr(f, "_fixture", {}).get("autouse"):
                args = {n: fixtures[n](_Request(fparams.get(n))) for n in _argnames(f)}
                g = f(obj, **args)
                next(g)
                gens.append(g)
        try:
            fn(obj, **kwargs)
        finally:
            for g in reversed(gens):
                with contextlib.suppress(StopIteration):
                    next(g)
    return run


def collect(mod):
    fixtures = _fixtures(mod)
    methods = {}
    for name, obj in vars(mod).items():
        if not name.startswith("test_") or name in NEEDS_INTERNET:
            continue
        if isinstance(obj, type):
            for mname, m in vars(obj).items():
                if mname.startswith("test_") and callable(m):
                    for tid, kwargs, fparams in _cases(m, fixtures, _autouse_args(obj)):
                        methods["%s::%s%s" % (name, mname, tid)] = _make_test(
                            mod, fixtures, obj, m, kwargs, fparams)
        elif callable(obj) and not hasattr(obj, "_fixture"):
            for tid, kwargs, fparams in _cases(obj, fixtures):
                methods[name + tid] = _make_test(mod, fixtures, None, obj, kwargs, fparams)
    return methods


# ---- the certificates and environment test_rmq.py expects -------------------------

def _broken(src, dst):
    """src with the first 6 characters of its base64 replaced by "Broken",
    as py-amqp's t/certs/*_broken.pem are."""
    with open(src) as f:
        lines = f.read().splitlines(True)
    lines[1] = "Broken" + lines[1][6:]
    with open(dst, "w") as f:
        f.writelines(lines)


def prepare(work):
    certs = os.path.join(work, "t", "certs")
    os.makedirs(certs)
    shutil.copy(os.path.join(TLS_DIR, "ca.pem"), os.path.join(certs, "ca_certificate.pem"))
    shutil.copy(os.path.join(TLS_DIR, "client.pem"), os.path.join(certs, "client_certificate.pem"))
    shutil.copy(os.path.join(TLS_DIR, "client.key"), os.path.join(certs, "client_key.pem"))
    _broken(os.path.join(TLS_DIR, "client.pem"), os.path.join(certs, "client_certificate_broken.pem"))
    _broken(os.path.join(TLS_DIR, "client.key"), os.path.join(certs, "client_key_broken.pem"))
    os.environ["RABBITMQ_HOST"] = cc.HOST
    os.environ["RABBITMQ_5672_TCP"] = str(cc.PORT)
    os.environ["RABBITMQ_5671_TCP"] = TLS_PORT


def main():
    if not (TLS_DIR and int(TLS_PORT)):
        print("FAIL: pyamqp-upstream.setup (compat/run gives no AMQPS port: COMPAT_TLS_PORT, COMPAT_TLS_DIR)")
        sys.exit(1)
    sys.modules["pytest"] = _stand_in()
    spec = importlib.util.spec_from_file_location("pyamqp_test_rmq", UPSTREAM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tests = collect(mod)
    case = type("PyAmqpUpstream", (unittest.TestCase,), tests)
    suite_mod = types.ModuleType("pyamqp_upstream_suite")
    suite_mod.PyAmqpUpstream = case
    work = tempfile.mkdtemp(prefix="tandem-pyamqp-upstream.")
    try:
        prepare(work)
        os.chdir(work)  # the tests name their certificates t/certs/...
        for name in sorted(NEEDS_INTERNET):
            print("not run: pyamqp-upstream.%s (dials tls-v1-2.badssl.com on the internet)" % name)
        cc.main("pyamqp-upstream", suite_mod)
    finally:
        os.chdir("/")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
