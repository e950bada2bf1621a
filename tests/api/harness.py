"""harness.py — starts a real `smile serve` on a free 127.0.0.1 port with a fresh
database in a temporary directory (h2o's spawn_h2o), and talks HTTP to it with the
standard library only. Every API test uses this; nothing is mocked.

    srv = Server()            # starts; srv.stop() stops (SIGTERM, checks a clean exit)
    srv.cli("user", "add", "ann", "--role", "agent", "--password-stdin", input="pw\n")
    c = srv.client()          # a cookie-keeping client
    st, hdrs, body = c.req("GET", "/api/v1/customers")
"""
import http.client
import http.cookies
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("SMILE_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "smile")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        ctype = headers.get("content-type", "")
        self.json = None
        if raw and "json" in ctype and "ndjson" not in ctype:
            self.json = json.loads(raw)

    def __iter__(self):  # st, hdrs, body = c.req(...)
        return iter((self.status, self.headers, self.json if self.json is not None else self.raw))

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Client:
    def __init__(self, server, token=None):
        self.server = server
        self.token = token
        self.cookies = {}
        self.csrf = None

    def req(self, method, path, body=None, headers=None, raw=None, timeout=60):
        h = {"Accept": "application/json"}
        if body is not None:
            raw = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            conn.request(method, path, body=raw, headers=h)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    c = http.cookies.SimpleCookie()
                    c.load(v)
                    for name, morsel in c.items():
                        if morsel["max-age"] == "0" or morsel.value == "":
                            self.cookies.pop(name, None)
                        else:
                            self.cookies[name] = morsel.value
            return Response(r.status, hdrs, data.decode("utf-8", "replace"))
        finally:
            conn.close()

    def login(self, username, password):
        r = self.req("POST", "/api/v1/session", {"username": username, "password": password})
        if r.status == 200 or r.status == 201:
            self.csrf = r.json.get("csrf_token")
        return r

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


class Server:
    def __init__(self, extra_args=(), env=None, start=True, dbdir=None, start_timeout=30):
        self.dir = dbdir or tempfile.mkdtemp(prefix="smile-test-")
        self.db = os.path.join(self.dir, "smile.db")
        self.port = free_port()
        self.extra_args = list(extra_args)
        # serve --demo fills the database before it listens: minutes on a loaded machine.
        self.start_timeout = start_timeout
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "serve.log")
        if start:
            self.start()

    def cli(self, *args, input=None, check=True, timeout=120):
        p = subprocess.run([BIN] + list(args) + ["--db", self.db], input=input,
                           capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("smile %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                               p.stderr))
        return p

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % self.port] +
            self.extra_args, stdout=self.log, stderr=self.log, env=self.env)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("smile serve exited: " + self.read_log())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smile serve did not start: " + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.proc = None
        self.log.close()
        if sig == signal.SIGTERM and rc != 0:
            raise AssertionError("smile serve exited %d: %s" % (rc, self.read_log()[-3000:]))
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def client(self, token=None):
        return Client(self, token)

    def add_user(self, name, role, password="correct horse battery", team=None):
        args = ["user", "add", name, "--role", role, "--password-stdin"]
        if team:
            args += ["--team", team]
        self.cli(*args, input=password + "\n")
        return password

    def token(self, user, scopes):
        return self.cli("token", "create", "--user", user, "--scopes", scopes).stdout.strip()

    def login(self, name, password="correct horse battery"):
        c = self.client()
        r = c.login(name, password)
        assert r.status in (200, 201), r
        return c

    def sql(self, query):
        """Reads the database with the sqlite3 command-line shell (a second real reader)."""
        p = subprocess.run(["sqlite3", "-json", self.db, query], capture_output=True, text=True,
                           check=True)
        return json.loads(p.stdout) if p.stdout.strip() else []

    def sql_write(self, statement):
        """Changes the database behind the server's back with the sqlite3 shell, for tests
        that need a state no API produces (an idle session, an old failure)."""
        subprocess.run(["sqlite3", "-cmd", ".timeout 10000", self.db, statement],
                       capture_output=True, text=True, check=True)


def wait_folded(srv, client, timeout=30):
    """Polls the runtime (GET /api/v1/runtime/status with client) until it has folded every
    event in the ledger; returns that status. Fails the test after timeout seconds."""
    want = srv.sql("select coalesce(max(id),0) as n from events")[0]["n"]
    deadline = time.time() + timeout
    b = None
    while time.time() < deadline:
        st, _, b = client.get("/api/v1/runtime/status")
        assert st == 200, b
        if b["pending_subjects"] == 0 and b["last_event_id_folded"] >= want:
            return b
        time.sleep(0.02)
    raise AssertionError("runtime did not catch up: %r (want %d)" % (b, want))


def ev(type_, subject, t, actor=None, data=None, customer=None):
    """An event for POST /api/v1/events, its idempotency key made from subject, type and
    time (source "test")."""
    e = {"type": type_, "subject": subject, "occurred_at": t, "source": "test",
         "source_id": "%s@%s@%s" % (subject, type_, t)}
    if actor:
        e["actor"] = actor
    if customer:
        e["customer"] = customer
    if data:
        e["data"] = data
    return e


def kill9_under_load(srv, nthreads, request, at_least, timeout=30):
    """Runs nthreads clients that call request(t, i) (thread t, its i-th request) without
    pause; request returns (key, value) for an acknowledged write, or None to stop. Once at
    least at_least writes were acknowledged the server gets SIGKILL while they run; then it is
    started again on the same database. Returns {key: value} of every acknowledged write (a
    request that failed because the server was gone is not counted)."""
    acked, lock, stop = {}, threading.Lock(), threading.Event()

    def client(t):
        for i in range(1000000):
            if stop.is_set():
                return
            try:
                kv = request(t, i)
            except Exception:  # the server is gone: connection refused or reset
                return
            if kv is None:
                return
            with lock:
                acked[kv[0]] = kv[1]

    threads = [threading.Thread(target=client, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + timeout
    while len(acked) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill9()
    stop.set()
    for th in threads:
        th.join()
    if len(acked) < at_least:
        raise AssertionError("only %d writes acknowledged before the kill" % len(acked))
    srv.start()
    return acked
