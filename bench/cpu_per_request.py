#!/usr/bin/env python3
"""cpu_per_request.py — server CPU time per request, the figure a loaded machine cannot spoil.

Starts a real `smile serve` on a fresh database, then for each scenario runs wrk for
DURATION seconds and divides the server process's CPU time (user + system, from
/proc/PID/stat, all its threads: HTTP workers, ledger committer, runtime) spent during the
run by the requests wrk completed. Before each scenario it waits (up to 120 s) until the
server is idle again (a second under 5% of a CPU), so that the previous scenario's leftover
background work is not taken for the idle rate. Wall-clock throughput on a shared 2-core machine moves
with the neighbours' load; CPU per request moves only with the code (and, a little, with
cache pressure). Scenarios:
  - GET /api/v1/customers/{id} with a bearer token (8 connections)
  - POST /api/v1/events, one event per request, unique source_id (64 connections)
  - POST /api/v1/events, a batch of 1,000 events (250 new calls of four events, ingest_bodies.py;
    2 connections)
  - POST /api/v1/cases (16 connections)
Usage: bench/cpu_per_request.py BUILD_DIR [DURATION] [ONLY]   Prints a Markdown table.
GET_CONNS sets the GET's connections (default 8; 1 gives the cost without batching).
ONLY picks scenarios by a word of their label, path segments too (get, 1 event → "1",
1,000 → "1,000", cases).
With PERF_DIR set, each scenario also runs `perf record -g` on the server into
$PERF_DIR/<n>.data (the profile's own cost then counts in the CPU figure: compare those
runs only with each other).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
sys.path.append(HERE)
import harness  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
DURATION = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ONLY = sys.argv[3] if len(sys.argv) > 3 else None
PERF_DIR = os.environ.get("PERF_DIR")
SETTLE = 2.0
IDLE_WAIT = 120.0
TICK = os.sysconf("SC_CLK_TCK")

from ingest_bodies import LUA_BATCH, LUA_SINGLE  # noqa: E402


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def wrk(url, conns, auth, script=None):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % DURATION, "-H", auth]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True,
                         timeout=DURATION + 120).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, int(non2xx.group(1)) if non2xx else 0


def main():
    tmp = tempfile.mkdtemp(prefix="smile-cpu-")
    harness.BIN = os.path.join(BUILD, "smile")
    srv = harness.Server(extra_args=["--log-level", "warn", "--workers", "64"], dbdir=tmp)
    rows = []
    try:
        srv.add_user("bench", "admin")
        token = srv.token("bench", "crm:read,crm:write,events:write")
        auth = "Authorization: Bearer " + token
        c = srv.client(token=token)
        r = c.post("/api/v1/customers", {"kind": "person", "name": "张伟",
                                          "phones": ["13812345678"],
                                          "emails": ["zhang.wei@example.com"]})
        assert r.status == 201, r
        cid = r.json["id"]
        base = "http://127.0.0.1:%d" % srv.port
        scripts = {}
        for name, text in (("single", LUA_SINGLE),
                           ("batch", LUA_BATCH),
                           ("case", 'wrk.method = "POST"\nwrk.headers["Content-Type"] = '
                            '"application/json"\nwrk.body = \'{"type":"complaint","subject":'
                            '"漏水 water leak","customer_id":%d}\'\n' % cid)):
            scripts[name] = os.path.join(tmp, name + ".lua")
            with open(scripts[name], "w") as f:
                f.write(text)
        for label, path, conns, script, per in (
                ("GET /api/v1/customers/{id}", "/api/v1/customers/%d" % cid,
                 int(os.environ.get("GET_CONNS", "8")), None, 1),
                ("POST /api/v1/events, 1 event", "/api/v1/events", 64, scripts["single"], 1),
                ("POST /api/v1/events, 1,000 events", "/api/v1/events", 2, scripts["batch"],
                 1000),
                ("POST /api/v1/cases", "/api/v1/cases", 16, scripts["case"], 1)):
            if ONLY and ONLY not in re.split(r"[\s/]+", label.lower()):
                continue
            perf = None
            if PERF_DIR:
                # PERF_CG=dwarf,16384 follows calls through libraries built without frame
                # pointers (libsqlite3, libjansson), at a higher cost per sample.
                cg = os.environ.get("PERF_CG")
                perf = subprocess.Popen(["perf", "record", "-q"] +
                                        (["--call-graph", cg, "-F", "499"] if cg else
                                         ["-g", "-F", "999"]) + ["-p",
                                         str(srv.proc.pid), "-o",
                                         os.path.join(PERF_DIR, "%d.data" % len(rows))],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # The server's own background CPU (scheduler, runtime polls) per second, idle.
            # The previous scenario's events leave work behind (back-dated calls: folds,
            # deadlines firing, escalation): wait until a second passes with under 5% of a
            # CPU used (at most IDLE_WAIT s), else that work would count as "idle" and be
            # subtracted from this scenario (it once made a figure negative).
            waited = time.monotonic()
            while True:
                i0, w0 = cpu_s(srv.proc.pid), time.monotonic()
                time.sleep(1.0)
                idle = (cpu_s(srv.proc.pid) - i0) / (time.monotonic() - w0)
                if idle < 0.05 or time.monotonic() - waited > IDLE_WAIT:
                    break
            table = "events" if "events" in path else "cases" if "cases" in path else None
            n0 = srv.sql("select count(*) as n from %s" % table)[0]["n"] if table else 0
            t0, w0 = cpu_s(srv.proc.pid), time.monotonic()
            total, bad = wrk(base + path, conns, auth, script)
            # Requests in flight when wrk stopped, and the runtime's folding of what they
            # wrote, finish within the settle time; their rows are counted, not wrk's replies.
            time.sleep(SETTLE)
            t1, w1 = cpu_s(srv.proc.pid), time.monotonic()
            if perf:
                perf.send_signal(2)
                perf.wait()
            done = total - bad
            if table:
                done = (srv.sql("select count(*) as n from %s" % table)[0]["n"] - n0) // per
            cpu = (t1 - t0) - idle * (w1 - w0)
            us = cpu * 1e6 / max(done, 1)
            rows.append((label, done, bad, cpu, us, us / per))
    finally:
        # A background worker busy with the rows just written can outlast the harness's
        # 30 s stop; the figures are taken by then.
        try:
            srv.stop()
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()
        if not os.environ.get("SMILE_BENCH_KEEP"):  # ~1 GB of rows after the batch scenario
            shutil.rmtree(tmp, ignore_errors=True)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("| request (%d s each, load %s) | requests done | non-2xx | server CPU s | "
          "CPU µs/request | CPU µs/event |" % (DURATION, load))
    print("|---|---:|---:|---:|---:|---:|")
    for label, total, bad, cpu, us, per in rows:
        print("| %s | %d | %d | %.2f | %.0f | %.1f |" % (label, total, bad, cpu, us, per))


if __name__ == "__main__":
    main()
