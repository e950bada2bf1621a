#!/usr/bin/env python3
"""bench_tasks_http.py — GET /api/v1/tasks?mine=1 over HTTP beside its ceiling.

Builds the database of bench_tasks (200 staff, 10,000 open tasks; `bench_tasks 1 keep`),
starts `smile serve` on it, gives 50 of the staff an API token (crm:read), and times N
sequential requests on one keep-alive connection, cycling through those staff. Ceiling: the
same number of GET /healthz (the server's fixed HTTP cost, no database, no auth). Prints
p50 / p99 / max in milliseconds. Bounded: N requests (default 2000).
Usage: bench/bench_tasks_http.py BUILD_DIR [N]
"""
import http.client
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
import harness  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
BIN = os.path.join(BUILD, "smile")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def cpu_s(pid):
    """User + system CPU seconds of a process (all its threads), from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn, path, headers):
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        raise SystemExit("%s -> %d %s" % (path, r.status, body[:200]))
    return dt, body


def main():
    out = subprocess.run([os.path.join(BUILD, "bench_tasks"), "1", "keep"], capture_output=True,
                         text=True, check=True).stdout
    db = re.search(r"database kept: (\S+)", out).group(1)
    harness.BIN = BIN
    srv = harness.Server(dbdir=os.path.dirname(db), start=False)
    srv.db = db
    srv.start()
    try:
        tokens = [srv.token("u%03d" % u, "crm:read") for u in range(50)]
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        lat, items = [], 0
        c0 = cpu_s(srv.proc.pid)
        for i in range(N):
            dt, body = timed(conn, "/api/v1/tasks?mine=1",
                             {"Authorization": "Bearer " + tokens[i % len(tokens)]})
            lat.append(dt)
            items += body.count(b'"time_left_ms"')
        cpu_tasks = (cpu_s(srv.proc.pid) - c0) / N * 1000
        c0 = cpu_s(srv.proc.pid)
        base = [timed(conn, "/healthz", {})[0] for _ in range(N)]
        cpu_base = (cpu_s(srv.proc.pid) - c0) / N * 1000
    finally:
        srv.stop()
    print("| GET /api/v1/tasks?mine=1 (10,000 open tasks, 200 staff, %.0f tasks a reply) "
          "| p50 %.2f ms | p99 %.2f ms | max %.2f ms | server CPU %.2f ms/request |"
          % (items / N, pct(lat, 0.5), pct(lat, 0.99), max(lat), cpu_tasks))
    print("| ceiling: GET /healthz on the same connection | p50 %.2f ms | p99 %.2f ms | "
          "max %.2f ms | server CPU %.2f ms/request |"
          % (pct(base, 0.5), pct(base, 0.99), max(base), cpu_base))


if __name__ == "__main__":
    main()
