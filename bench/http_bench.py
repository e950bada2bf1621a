#!/usr/bin/env python3
"""http_bench.py — HTTP benchmarks with wrk on 127.0.0.1, each beside its ceiling measured in
the same run: a bare libmicrohttpd server (bench_hello) with the same thread settings
answering a fixed JSON body. Bounded: each wrk run lasts DURATION seconds.

Measures GET /api/v1/customers/{id} (reads), POST /api/v1/cases (durable case creation)
at 64 connections, and the server's peak resident memory (VmHWM) under that load.
Usage: bench/http_bench.py BUILD_DIR [DURATION]   Prints a Markdown table.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
import harness  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
DURATION = int(sys.argv[2]) if len(sys.argv) > 2 else 10
CONNS = 64


def wrk(url, headers=(), script=None):
    cmd = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % DURATION, "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=DURATION + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def vmhwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    rows = []
    port = harness.free_port()
    hello = subprocess.Popen([os.path.join(BUILD, "bench_hello"), str(port)])
    time.sleep(0.3)
    try:
        c_rps, c_p99, _ = wrk("http://127.0.0.1:%d/" % port)
    finally:
        hello.send_signal(signal.SIGTERM)
        hello.wait()
    rows.append(("ceiling: bare libmicrohttpd, fixed JSON", c_rps, c_p99, "", ""))

    harness.BIN = os.path.join(BUILD, "smile")
    srv = harness.Server(extra_args=["--log-level", "warn"])
    try:
        srv.add_user("bench", "admin")
        token = srv.token("bench", "crm:read,crm:write")
        c = srv.client(token=token)
        r = c.post("/api/v1/customers", {"kind": "person", "name": "张伟",
                                          "phones": ["13812345678"],
                                          "emails": ["zhang.wei@example.com"]})
        assert r.status == 201, r
        cid = r.json["id"]
        auth = "Authorization: Bearer " + token
        rps, p99, bad = wrk("http://127.0.0.1:%d/api/v1/customers/%d" % (srv.port, cid), [auth])
        rows.append(("GET /api/v1/customers/{id}", rps, p99, "%.0f%%" % (100 * rps / c_rps),
                     "%d non-2xx" % bad))
        lua = os.path.join(tempfile.mkdtemp(), "case.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.body = \'{"type":"complaint","subject":"漏水 water leak","customer_id":%d}\'\n'
                    % cid)
        before = srv.sql("select count(*) as n from cases")[0]["n"]
        rps, p99, bad = wrk("http://127.0.0.1:%d/api/v1/cases" % srv.port, [auth], lua)
        after = srv.sql("select count(*) as n from cases")[0]["n"]
        rows.append(("POST /api/v1/cases (durable)", rps, p99, "%.0f%%" % (100 * rps / c_rps),
                     "%d non-2xx; %d rows stored" % (bad, after - before)))
        rss = vmhwm(srv.proc.pid)
    finally:
        srv.stop()
        if not os.environ.get("SMILE_BENCH_KEEP"):
            shutil.rmtree(srv.dir, ignore_errors=True)
    print("| benchmark (64 connections, %d s, 2 cores shared with wrk) | requests/s | p99 ms | of ceiling | notes |" % DURATION)
    print("|---|---:|---:|---:|---|")
    for name, rps, p99, ratio, note in rows:
        print("| %s | %.0f | %.2f | %s | %s |" % (name, rps, p99, ratio, note))
    print("\npeak resident memory of smile serve under this load: %.1f MB (goal < 50 MB)" % rss)


if __name__ == "__main__":
    main()
