"""test_demo.py — the demo history (`smile demo`, `smile serve --demo`): sizes in the ranges
the generator aims at, the China calendar's working days, holidays and make-up days in the
shape of the traffic, the PBX path (queue_log → agent_map → call.* events), measurements of
all four default processes with both met and breached results, the same seed giving the
same data, and refusal (writing nothing) on a database that is not new."""
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402

END = "2026-11-29T12:00:00Z"  # 20:00 in Beijing, a Sunday


class FullDemo(unittest.TestCase):
    """One full-size demo (default seed size: 2,000 customers, 91 days), built once."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(start=False)
        t0 = time.time()
        p = cls.srv.cli("demo", "--seed", "7", "--end", END, "--queue-log",
                        os.path.join(cls.srv.dir, "queue_log"), timeout=900)
        cls.seconds = time.time() - t0
        cls.out = p.stdout
        m = re.search(r"sign in with: (\S+)", p.stdout)
        cls.password = m.group(1) if m else None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.srv.dir, ignore_errors=True)

    def n(self, q):
        return self.srv.sql(q)[0]["n"]

    def test_report_and_calendar_days(self):
        # The window is the 91 local days ending Sunday 2026-11-29: Mon 2026-08-31 … Sun
        # 2026-11-29 = 13 whole weeks = 65 weekdays. Weekday holidays inside it (State Council
        # 2026 notice): 09-25 (Fri, Mid-Autumn) and 10-01, 10-02, 10-05, 10-06, 10-07 (National
        # Day; 10-03/10-04 are a weekend) = 6. Make-up working days: Sun 09-20 and Sat 10-10 = 2.
        # Working days = 65 - 6 + 2 = 61. Holiday days (days off next to a weekday off):
        # 09-25..09-27 (3) and 10-01..10-07 (7) = 10.
        self.assertIn("91 days from 2026-08-30T16:00:00.000Z", self.out)
        self.assertIn("(61 working days, 10 holidays)", self.out)
        self.assertIsNotNone(self.password)
        print("\n  demo fill+fold: %.1f s wall; %s" % (self.seconds, self.out.strip()),
              file=sys.stderr)

    def test_sizes_in_range(self):
        self.assertEqual(self.n("select count(*) n from customers"), 2000)
        self.assertEqual(self.n("select count(*) n from properties"), 2000)
        self.assertEqual(self.n("select count(*) n from contracts"), 2000)
        self.assertEqual(self.n("select count(*) n from teams"), 3)
        self.assertEqual(self.n("select count(*) n from users"), 25)
        self.assertEqual(self.n("select count(*) n from users where role='supervisor'"), 3)
        self.assertEqual(self.n("select count(distinct project) n from properties"), 2)
        calls = self.n("select count(*) n from events where type='call.offered'")
        self.assertTrue(5000 <= calls <= 11000, calls)
        emails = self.n("select count(distinct subject) n from events where type='email.received'")
        self.assertTrue(600 <= emails <= 1500, emails)
        visits = self.n("select count(*) n from events where type='visit.arrived'")
        self.assertTrue(1500 <= visits <= 3000, visits)
        complaints = self.n("select count(*) n from cases where type='complaint'")
        self.assertTrue(250 <= complaints <= 800, complaints)
        self.assertTrue(self.n("select count(*) n from cases where type='repair'") > 100)
        self.assertTrue(self.n("select count(*) n from interactions") > 2000)
        # every case went through the CRM: its case.opened event is in the ledger
        self.assertEqual(self.n("select count(*) n from cases"),
                         self.n("select count(*) n from events where type='case.opened'"))

    def test_realistic_people(self):
        names = [r["name"] for r in self.srv.sql("select name from customers")]
        self.assertTrue(all(2 <= len(x) <= 4 for x in names))
        # 王, 李 and 张 are each ~7 % of China; with 2,000 draws each is far above 3 %.
        for s in "王李张":
            share = sum(1 for x in names if x.startswith(s)) / len(names)
            self.assertTrue(0.03 < share < 0.14, (s, share))
        phones = self.srv.sql("select value from customer_contacts where kind='phone'")
        self.assertTrue(all(re.fullmatch(r"1[3-9]\d{9}", r["value"]) for r in phones))
        with_email = self.n("select count(distinct customer_id) n from customer_contacts "
                            "where kind='email'")
        self.assertTrue(400 < with_email < 1200, with_email)

    def test_pbx_path(self):
        # 10 hotline agents (11 hotline staff minus the supervisor) mapped Agent/10xx → user
        rows = self.srv.sql("select agent, username from agent_map order by agent")
        self.assertEqual(len(rows), 10)
        self.assertTrue(all(r["agent"].startswith("Agent/10") for r in rows))
        self.assertEqual(self.n("select count(*) n from events where source='asterisk' and "
                                "type='call.answered' and actor is null"), 0)
        with open(os.path.join(self.srv.dir, "queue_log")) as f:
            lines = f.read().splitlines()
        self.assertTrue(any("|ENTERQUEUE|" in x for x in lines))
        self.assertTrue(any("|CONNECT|" in x for x in lines))
        self.assertEqual(len(lines), int(re.search(r"(\d+) queue_log lines", self.out).group(1)))

    def test_busy_mondays_quiet_holiday(self):
        per_day = {r["d"]: r["n"] for r in self.srv.sql(
            "select date((occurred_at/1000) + 8*3600, 'unixepoch') d, count(*) n from events "
            "where type='call.offered' group by d")}
        mondays = [per_day.get(d, 0) for d in ("2026-11-02", "2026-11-09", "2026-11-16",
                                               "2026-11-23")]
        wednesdays = [per_day.get(d, 0) for d in ("2026-11-04", "2026-11-11", "2026-11-18",
                                                  "2026-11-25")]
        self.assertGreater(sum(mondays), sum(wednesdays) * 1.15)
        national_day = sum(per_day.get("2026-10-0%d" % i, 0) for i in range(1, 8))
        # seven ordinary working days would have ~7 × 100 calls; the holiday week has few
        self.assertLess(national_day, 200)
        # the make-up working day Saturday 10-10 is busy like a weekday, unlike Sat 10-17
        self.assertGreater(per_day.get("2026-10-10", 0), 2 * per_day.get("2026-10-17", 0))

    def test_measurements_met_and_breached_for_every_process(self):
        rows = self.srv.sql(
            "select p.name, m.result, count(*) n from measurements m join processes p "
            "on p.id = m.process_id group by 1, 2")
        got = {(r["name"], r["result"]): r["n"] for r in rows}
        for proc in ("Phone hotline", "Customer email", "Counter reception",
                     "Complaint handling"):
            self.assertGreater(got.get((proc, "met"), 0), 0, proc)
            self.assertGreater(got.get((proc, "breached"), 0), 0, proc)
            met, br = got[(proc, "met")], got[(proc, "breached")]
            self.assertGreater(met, br, proc)  # a decent service centre, not a perfect one
        # some staff excellent, some slow: the slow hotline agent (zhang.wei) breaches the
        # email reply standard more often than the excellent one (wang.fang)
        def rate(user):
            r = self.srv.sql("select sum(result='breached') b, count(*) n from measurements "
                             "where step_key='reply' and charged_actor='%s'" % user)[0]
            return r["b"] / max(r["n"], 1)
        self.assertGreater(rate("zhang.wei"), rate("wang.fang"))

    def test_staff_can_sign_in_and_see_measurements(self):
        srv = Server(start=False, dbdir=self.srv.dir)
        srv.start()
        try:
            c = srv.login("zhou.ting", self.password)
            st, _, b = c.get("/api/v1/measurements?limit=5")
            self.assertEqual(st, 200, b)
            self.assertEqual(len(b["items"]), 5)
            st, _, b = c.get("/api/v1/cases?type=complaint&limit=3")
            self.assertEqual(st, 200, b)
            self.assertEqual(len(b["items"]), 3)
        finally:
            srv.stop()

    def test_refused_on_a_database_with_customers(self):
        before = self.n("select count(*) n from events")
        p = self.srv.cli("demo", "--seed", "8", "--end", END, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already has 2000 customers", p.stderr)
        self.assertEqual(self.n("select count(*) n from events"), before)
        self.assertEqual(self.n("select count(*) n from users"), 25)


class SmallDemo(unittest.TestCase):
    """Small fills (14 days, 200 customers) for determinism and refusal."""

    ARGS = ("--days", "14", "--customers", "200", "--end", END, "--no-fold")

    def fill(self, seed):
        srv = Server(start=False)
        self.addCleanup(shutil.rmtree, srv.dir, True)
        srv.cli("demo", "--seed", str(seed), *self.ARGS, timeout=600)
        return srv

    def snapshot(self, srv):
        return (srv.sql("select name from customers order by id"),
                srv.sql("select type, count(*) n from events group by type order by type"),
                srv.sql("select subject, type, status from cases order by id"),
                srv.sql("select type, occurred_at, subject, actor from events "
                        "order by occurred_at, type, subject limit 500"))

    def test_same_seed_same_data(self):
        a, b, c = self.fill(3), self.fill(3), self.fill(4)
        self.assertEqual(self.snapshot(a), self.snapshot(b))
        self.assertNotEqual(self.snapshot(a)[0], self.snapshot(c)[0])
        self.assertEqual(len(self.snapshot(a)[0]), 200)

    def test_refused_on_a_database_with_staff_or_customers_writing_nothing(self):
        srv = Server(start=False)
        self.addCleanup(shutil.rmtree, srv.dir, True)
        srv.cli("init")
        srv.add_user("ann", "agent")
        p = srv.cli("demo", *self.ARGS, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already has 1 staff accounts", p.stderr)
        self.assertEqual(srv.sql("select count(*) n from users")[0]["n"], 1)
        self.assertEqual(srv.sql("select count(*) n from events")[0]["n"], 0)
        self.assertEqual(srv.sql("select count(*) n from teams")[0]["n"], 0)

    def test_bad_flags(self):
        srv = Server(start=False)
        self.addCleanup(shutil.rmtree, srv.dir, True)
        for args in (("--seed", "x"), ("--end", "yesterday"), ("--days", "0"), ("--bogus",)):
            p = srv.cli("demo", *args, check=False)
            self.assertEqual(p.returncode, 2, args)
        self.assertFalse(os.path.exists(srv.db))

    def test_serve_demo_folds_and_serves(self):
        d = tempfile.mkdtemp(prefix="smile-test-")
        self.addCleanup(shutil.rmtree, d, True)
        srv = Server(start=False, dbdir=d,
                     extra_args=["--bootstrap-admin", "--demo", "--seed", "5", "--days", "14",
                                 "--customers", "300", "--end", END], start_timeout=300)
        srv.start()
        try:
            deadline = time.time() + 120
            while "measurements complete" not in srv.read_log() and time.time() < deadline:
                time.sleep(0.2)
            log = srv.read_log()
            self.assertIn("measurements complete", log)
            admin_pw = re.search(r"first admin account: admin / (\S+)", log).group(1)
            c = srv.login("admin", admin_pw)
            st, _, b = c.get("/api/v1/customers?limit=1")
            self.assertEqual(st, 200, b)
            self.assertEqual(srv.sql("select count(*) n from customers")[0]["n"], 300)
            self.assertGreater(srv.sql("select count(*) n from measurements where "
                                       "result='met'")[0]["n"], 100)
        finally:
            srv.stop()
        # a second start with --demo refuses (the database has customers) and exits 1
        again = Server(start=False, dbdir=d, extra_args=["--demo"])
        with self.assertRaises(AssertionError):
            again.start()
        self.assertIn("already has 300 customers", again.read_log())
        self.assertEqual(srv.sql("select count(*) n from customers")[0]["n"], 300)


if __name__ == "__main__":
    unittest.main()
