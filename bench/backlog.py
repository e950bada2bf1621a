#!/usr/bin/env python3
"""backlog.py — the background work that N back-dated calls leave behind, to the last write.

Starts a real `smile serve` on a fresh database, posts N call.offered events dated a day ago
in batches of 1,000 (each starts the hotline's answer step, whose standard is long past), then
waits until the scheduler has fired every deadline (N sla.breached events), the runtime has
re-folded them and the escalation runner's cursor has passed the newest event. Prints the
server's CPU (user + system, all threads, /proc/PID/stat) from the first POST to that point,
per event, the wall time, and the group-commit count the server logs when it stops (commits,
members: transactions that joined them). CPU and commits are the figures a loaded machine
does not spoil; wall time is the neighbours'.
Usage: bench/backlog.py BUILD_DIR [N]   (N a multiple of 1,000; default 5,000)
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
import harness  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    harness.BIN = os.path.join(build, "smile")
    srv = harness.Server(extra_args=["--log-level", "info", "--workers", "64"])
    try:
        srv.add_user("bench", "admin")
        c = srv.client(srv.token("bench", "events:write"))
        c0, t0 = cpu_s(srv.proc.pid), time.monotonic()
        for k in range(n // 1000):
            evs = [{"type": "call.offered", "occurred_at": "2026-11-28T09:00:00Z",
                    "subject": "call:%d-%d" % (k, i), "source": "backlog",
                    "source_id": "%d-%d" % (k, i)} for i in range(1000)]
            st, _, res = c.post("/api/v1/events", {"events": evs}, timeout=120)
            assert st == 201, res
        while True:
            r = srv.sql("select (select count(*) from events where type = 'sla.breached') as b,"
                        " (select coalesce(max(last_event_id), 0) from notify_cursor) as cur,"
                        " (select max(id) from events) as m,"
                        " (select count(*) from deadlines where fired_at is null) as open")[0]
            if r["b"] >= n and r["cur"] >= r["m"] and r["open"] == 0:
                break
            if time.monotonic() - t0 > 900:
                print("not done after 900 s:", r)
                break
            time.sleep(0.5)
        c1, t1 = cpu_s(srv.proc.pid), time.monotonic()
    finally:
        srv.stop()
    gc = [ln.split("msg=", 1)[1] for ln in srv.read_log().splitlines() if "group commit" in ln]
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("%d events (load %s): server CPU %.2f s = %.0f µs/event, wall %.1f s, %s" %
          (n, load, c1 - c0, (c1 - c0) * 1e6 / n, t1 - t0, gc[-1] if gc else "no group commits"))


if __name__ == "__main__":
    main()
