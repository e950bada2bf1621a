#!/usr/bin/env python3
"""sse_bench.py — the live stream's fan-out: N (default 500) Server-Sent Events clients of
one supervisor account connected to `smile serve` on 127.0.0.1, then a complaint that
breached ten days ago is posted, so the scheduler fires its deadlines at once. For the
sla.breached board event, the time from its commit (the sent_ms the ledger's post-commit
hook stamps as it publishes) to its arrival at each client, read by one selector loop.

    SMILE_BIN=build/smile python3 bench/sse_bench.py [clients]

Prints the delivery latency (p50, p99, max: goal max < 1 s) and, as the ceiling, the time
the same loop takes to read one frame from each of the N sockets once the data is there
(the client side's own cost)."""
import json
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "api"))
from harness import Server  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
DAY = 24 * 3600 * 1000


def iso_ms(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def connect(port, token):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
               "Authorization: Bearer %s\r\n\r\n" % token).encode())
    return s


def main():
    srv = Server(extra_args=["--conn-limit", "4096", "--per-ip-limit", "0", "--max-streams",
                             str(N + 16), "--max-streams-per-user", str(N + 16)])
    try:
        srv.add_user("ada", "admin")
        srv.add_user("sue", "supervisor")
        adm = srv.client(srv.token("ada", "admin,crm:read,crm:write,events:write,events:read"))
        tok = srv.token("sue", "crm:read")
        sel = selectors.DefaultSelector()
        bufs = {}
        t = time.time()
        socks = [connect(srv.port, tok) for _ in range(N)]
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        # Wait for every stream's first chunk (status line, headers, "retry: 3000").
        ready = set()
        while len(ready) < N:
            for key, _ in sel.select(timeout=10):
                s = key.fileobj
                bufs[s] += s.recv(65536)
                if b"retry: 3000" in bufs[s]:
                    ready.add(s)
                    bufs[s] = b""
        print("connected %d streams in %.3f s" % (N, time.time() - t))
        st, _, b = adm.post("/api/v1/cases", {"type": "complaint", "subject": "bench"})
        assert st == 201, b
        subject = "case:%d" % b["id"]
        t0 = int(time.time() * 1000) - 10 * DAY
        evs = [{"type": "case.opened", "subject": subject, "occurred_at": iso_ms(t0),
                "source": "bench", "source_id": "o", "data": {"type": "complaint"}},
               {"type": "case.assigned", "subject": subject, "occurred_at": iso_ms(t0 + 60000),
                "source": "bench", "source_id": "a",
                "data": {"assignee": "sue", "team": "none"}},
               {"type": "case.replied", "subject": subject, "occurred_at": iso_ms(t0 + 120000),
                "source": "bench", "source_id": "r", "actor": "sue", "data": {"by": "staff"}}]
        st, _, b = adm.post("/api/v1/events", {"events": evs})
        assert st == 201, b
        # Receive only (time, bytes) while waiting: the parsing comes after, so the loop's
        # own cost stays small beside the server's.
        got, chunks = set(), {s: [] for s in socks}
        deadline = time.time() + 30
        while len(got) < N and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                data = s.recv(1 << 20)
                chunks[s].append((time.time(), data))
                if s not in got and b"sla.breached" in data:
                    got.add(s)
        lat, arrivals = [], []
        for s in socks:
            buf = b""
            for at, data in chunks[s]:
                buf += data
                i = buf.find(b"event: sla\ndata: ")
                j = buf.find(b"sla.breached", i) if i >= 0 else -1
                while i >= 0 and j < 0:
                    i = buf.find(b"event: sla\ndata: ", i + 1)
                    j = buf.find(b"sla.breached", i) if i >= 0 else -1
                if j >= 0:
                    line = buf[i + 17:buf.index(b"\n", i + 17)]
                    lat.append(at - json.loads(line)["sent_ms"] / 1000.0)
                    arrivals.append(at)
                    break
        first_arrival, last_arrival = min(arrivals or [0]), max(arrivals or [0])
        lat.sort()
        if len(lat) < N:
            print("only %d of %d clients got the breach" % (len(lat), N))
            return 1
        print("sla.breached to %d SSE clients: min %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              " (goal max < 1000 ms)" % (N, lat[0] * 1e3, lat[N // 2] * 1e3,
                                         lat[int(N * 0.99) - 1] * 1e3, lat[-1] * 1e3))
        print("ceiling: the reading loop took %.1f ms from the first client's frame to the last"
              % ((last_arrival - first_arrival) * 1e3))
        for s in socks:
            s.close()
        return 0 if lat[-1] < 1.0 else 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
