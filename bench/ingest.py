#!/usr/bin/env python3
"""ingest.py — the ledger's HTTP write path against its ceiling, with wrk on 127.0.0.1.

First runs bench_ingest (raw SQLite inserts of the same rows with the same indexes, WAL,
synchronous=FULL, in 10,000-, 100- and 1-row transactions: the ceilings), then starts a
real `smile serve` on a fresh database and measures, each for DURATION seconds:
  - POST /api/v1/events with batches of 1,000 events (4 connections), events/s and the
    ratio to the 10,000-row-transaction ceiling (goal >= 60%);
  - POST /api/v1/events with one event per request from 64 connections (group commit),
    events/s (goal >= 20,000/s) and commits/s beside the 1-row-transaction ceiling.
Every single-event request carries a unique source_id (made by the wrk Lua script); a
batch is 250 calls of four events on new subjects each request (ingest_bodies.py), without
source_id, so the ledger generates a unique key for each. The rows stored afterwards are counted beside the acknowledged ones, and the time the runtime
takes after the last request to fold everything (smile_runtime_lag_events back to 0) gives
the rate at which measurements keep up, end to end.
Usage: bench/ingest.py BUILD_DIR [DURATION]   Prints a Markdown table.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Only the tests/api harness and ingest_bodies.py are imported from beside this file.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
sys.path.append(HERE)
import harness  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
DURATION = int(sys.argv[2]) if len(sys.argv) > 2 else 10

from ingest_bodies import LUA_BATCH, LUA_SINGLE  # noqa: E402


def wrk(url, conns, threads, script, auth):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % DURATION, "--latency",
           "-H", auth, "-s", script, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 120).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    sock = re.search(r"Socket errors: (.*)", out)
    if sock:
        sys.stderr.write("wrk socket errors: %s\n" % sock.group(1))
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0, total


def ceilings(tmp):
    out = subprocess.run([os.path.join(BUILD, "bench_ingest"), tmp, "2"], capture_output=True,
                         text=True, timeout=600).stdout
    sys.stderr.write(out)
    get = lambda name: float(re.search(name + r"\s+([\d.]+)", out).group(1))  # noqa: E731
    return (get("ceiling_sqlite_txn10000"), get("ceiling_sqlite_txn100"),
            get("ceiling_sqlite_txn1"), out)


def main():
    tmp = tempfile.mkdtemp(prefix="smile-ingest-")
    c10k, c100, c1, raw = ceilings(tmp)
    rows = []
    harness.BIN = os.path.join(BUILD, "smile")
    # 64 write workers: a worker waits while its request waits for the group commit (the
    # connection is parked meanwhile), so a commit can hold as many requests as there are
    # workers.
    srv = harness.Server(extra_args=["--log-level", "warn", "--workers", "64"], dbdir=tmp)
    try:
        srv.add_user("bench", "admin")
        auth = "Authorization: Bearer " + srv.token("bench", "events:write")
        url = "http://127.0.0.1:%d/api/v1/events" % srv.port
        for name, lua, conns, threads, per in (("batch", LUA_BATCH, 4, 1, 1000),
                                               ("single", LUA_SINGLE, 64, 2, 1)):
            path = os.path.join(tmp, name + ".lua")
            with open(path, "w") as f:
                f.write(lua)
            before = srv.sql("select count(*) as n from events")[0]["n"]
            rps, p99, bad, total = wrk(url, conns, threads, path, auth)
            # The runtime folds behind the ledger: how long after wrk stopped until every
            # acknowledged event is folded into measurements (smile_runtime_lag_events 0)?
            # events / (DURATION + that) is the rate the measurements keep up with.
            t_stop = time.monotonic()
            catch_up = None
            while time.monotonic() - t_stop < 300:
                m = re.search(r"^smile_runtime_lag_events (\d+)",
                              srv.client().get("/metrics").raw, re.M)
                if m and int(m.group(1)) == 0:
                    catch_up = time.monotonic() - t_stop
                    break
                time.sleep(0.05)
            time.sleep(max(0.0, 2 - (time.monotonic() - t_stop)))  # requests in flight finish
            stored = srv.sql("select count(*) as n from events")[0]["n"] - before
            eps = rps * per
            folded = ("folded %.1f s after the last request: %.0f events/s measured end to end"
                      % (catch_up, rps * per * DURATION / (DURATION + catch_up))
                      if catch_up is not None else "not folded within 300 s")
            if name == "batch":
                rows.append(("POST /api/v1/events, batches of 1,000 (4 connections)", eps, p99,
                             "%.0f%% of txn10000 (goal 60%%)" % (100 * eps / c10k),
                             "%d non-2xx; %d acknowledged, %d stored; %s"
                             % (bad, (total - bad) * per, stored, folded)))
            else:
                rows.append(("POST /api/v1/events, 1 event per request (64 connections)", eps,
                             p99, "%.0f%% of txn100; %.1f events per fsync at txn1's rate"
                             % (100 * eps / c100, eps / c1),
                             "%d non-2xx; %d acknowledged, %d stored; %s"
                             % (bad, (total - bad) * per, stored, folded)))
    finally:
        srv.stop()
        # The run leaves ~1 GB of rows behind (ceiling databases, the server's): a few runs
        # filled this machine's disk once.
        if not os.environ.get("SMILE_BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    print("| ingest benchmark (%d s each, 2 cores shared with wrk) | events/s | p99 ms | "
          "of ceiling | notes |" % DURATION)
    print("|---|---:|---:|---|---|")
    print("| ceiling: raw SQLite, 10,000-row transactions | %.0f | | | same rows, indexes, "
          "WAL, synchronous=FULL |" % c10k)
    print("| ceiling: raw SQLite, 100-row transactions | %.0f | | | |" % c100)
    print("| ceiling: raw SQLite, 1-row transactions (= fsyncs/s) | %.0f | | | |" % c1)
    for name, eps, p99, ratio, note in rows:
        print("| %s | %.0f | %.1f | %s | %s |" % (name, eps, p99, ratio, note))
    print("\nbench_ingest (same run):\n")
    print("```\n" + raw.strip() + "\n```")


if __name__ == "__main__":
    main()
