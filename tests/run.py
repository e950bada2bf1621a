#!/usr/bin/env python3
"""run.py — runs every test of Smile and ends with one line "N passed, N failed".

Order: source checks (checksrc, and the optimised build/ that `make run` uses), C unit tests and fuzz-corpus replays (every test Meson knows in the
sanitizer build, TAP output, each "ok"/"not ok" counted), then the API tests against a
real server (tests/api, unittest), then browser tests (tests/e2e) when present.
Exit status is 1 if anything failed. Usage: tests/run.py BUILD_DIR [--only NAME...]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = 0
failed = 0
failures = []


def record(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        failures.append(name + (": " + detail if detail else ""))
        print("FAIL " + name + (": " + detail if detail else ""), flush=True)


def run_tap(name, cmd, env, cwd, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                           timeout=timeout, errors="replace")
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = "timeout after %ds" % timeout, -1
    oks = len(re.findall(r"^ok \d+", out, re.M))
    bad = re.findall(r"^not ok \d+.*$", out, re.M)
    for _ in range(oks):
        record(name, True)
    for line in bad:
        record(name, False, line)
    if rc != 0 and not bad:
        tail = "\n".join((err or "").strip().splitlines()[-15:])
        record(name, False, "exit %s\n%s" % (rc, tail))
    print("%-28s %3d ok %3d not ok  %.1fs" % (name, oks, len(bad) + (rc != 0 and not bad),
                                              time.time() - t0), flush=True)


def meson_tests(build):
    p = subprocess.run(["meson", "introspect", "--tests", build], capture_output=True,
                       text=True, check=True)
    return json.loads(p.stdout)


class CountingResult(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        record(test.id(), True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        record(test.id(), False, self._exc_info_to_string(err, test).splitlines()[-1])

    def addError(self, test, err):
        super().addError(test, err)
        record(test.id(), False, self._exc_info_to_string(err, test).splitlines()[-1])

    def addSkip(self, test, reason):
        # A silent skip is not allowed: a skipped test counts as failed.
        super().addSkip(test, reason)
        record(test.id(), False, "skipped: " + reason)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-san"
    build = os.path.abspath(build)
    only = sys.argv[3:] if len(sys.argv) > 2 and sys.argv[2] == "--only" else None
    # Every server the API and browser tests start keeps its database in a directory of its
    # own (~300 of them a run, a few hundred MB): all of them go under one scratch directory,
    # removed after a green run (SMILE_TEST_KEEP=1, or a failure, keeps it for a look).
    scratch = tempfile.mkdtemp(prefix="smile-run-")
    # Traversable by others, as /tmp is: the mail tests' Dovecot reads its files as the
    # dovecot user (mailservers.py).
    os.chmod(scratch, 0o755)
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    base_env = dict(os.environ)
    base_env.update({
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "CMOCKA_MESSAGE_OUTPUT": "TAP",
    })

    if not only or "checks" in only:
        p = subprocess.run([os.path.join(ROOT, "tools", "checksrc.sh")], cwd=ROOT,
                           capture_output=True, text=True)
        record("checksrc", p.returncode == 0, p.stdout + p.stderr)
        # The optimised build `make` and `make run` use: -O2 finds warnings (e.g.
        # -Wformat-truncation) that the sanitizer build's -O0 does not, and -Werror makes them
        # errors, so a green sanitizer run alone could hide a broken `make run`.
        rel = os.path.join(ROOT, "build")
        p = None
        if not os.path.exists(os.path.join(rel, "build.ninja")):
            p = subprocess.run(["meson", "setup", rel, "--buildtype=debugoptimized"], cwd=ROOT,
                               capture_output=True, text=True)
        if p is None or p.returncode == 0:
            p = subprocess.run(["ninja", "-C", rel], cwd=ROOT, capture_output=True, text=True)
        record("release build (make run's build/, -O2 -Werror)", p.returncode == 0,
               (p.stdout + p.stderr)[-3000:])

    if not only or "unit" in only:
        for t in meson_tests(build):
            env = dict(base_env)
            env.update(t.get("env") or {})
            run_tap(t["name"], t["cmd"], env, t.get("workdir") or build, 600)

    if not only or "api" in only:
        env_bin = os.path.join(build, "smile")
        os.environ["SMILE_BIN"] = env_bin
        os.environ.update({k: v for k, v in base_env.items() if k.endswith("SAN_OPTIONS")})
        sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
        suite = unittest.defaultTestLoader.discover(os.path.join(ROOT, "tests", "api"),
                                                    pattern="test_*.py",
                                                    top_level_dir=os.path.join(ROOT, "tests", "api"))
        runner = unittest.TextTestRunner(resultclass=CountingResult, verbosity=1, stream=sys.stdout)
        runner.run(suite)

    e2e = os.path.join(ROOT, "tests", "e2e", "run.mjs")
    if (not only or "e2e" in only) and os.path.exists(e2e):
        p = subprocess.run(["node", e2e, os.path.join(build, "smile")], cwd=ROOT,
                           capture_output=True, text=True, timeout=900)
        print(p.stdout[-4000:], p.stderr[-4000:])
        oks = len(re.findall(r"^ok \d+", p.stdout, re.M))
        bad = re.findall(r"^not ok \d+.*$", p.stdout, re.M)
        for _ in range(oks):
            record("e2e", True)
        for line in bad:
            record("e2e", False, line)
        if p.returncode != 0 and not bad:
            record("e2e", False, "exit %d" % p.returncode)

    if failures:
        print("\nfailures:")
        for f in failures:
            print("  " + f.splitlines()[0])
    if failed or os.environ.get("SMILE_TEST_KEEP"):
        print("test files kept in %s" % scratch)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
