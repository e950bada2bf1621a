"""What-if through the API and the command line: ten customer e-mails with known reply
delays are posted to the ledger; the built-in "Customer email" process (reply within 24 h,
wall time, charged to whoever replied) is replayed live against a draft that tightens it to
12 h, and every figure is checked against values worked out by hand below. The replay
writes nothing: the ledger, the derived tables and the definitions are counted before and
after every request, accepted or rejected."""
import copy
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server  # noqa: E402

H = 3600 * 1000
T0 = 1793577600000  # 2026-11-02T00:00:00Z: (20,759 days since 1970-01-01) × 86,400,000
FROM, TO = "2026-11-02T00:00:00Z", "2026-11-06T00:00:00Z"
DELAYS = [1, 2, 5, 8, 11, 13, 16, 20, 23, 30]  # hours; ann replies to 1-5, bob to 6-10
TABLES = ("events", "instances", "measurements", "measurement_log", "deadlines", "processes",
          "process_versions", "audit")


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


class WhatIfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ann", "agent")
        cls.srv.add_user("sue", "supervisor")
        cls.srv.add_user("ada", "admin")
        cls.agent = cls.srv.login("ann")
        cls.sup = cls.srv.login("sue")
        cls.admin = cls.srv.login("ada")
        cls.crm_tok = cls.srv.client(token=cls.srv.token("ada", "crm:read,crm:write"))
        cls.kpi_tok = cls.srv.client(token=cls.srv.token("sue", "kpi:read"))
        # Customers for the customer_tag filter: VIP wrote e-mails 7-10, the owner (业主)
        # e-mails 1 and 6; the received mail names the customer, the reply does not.
        ids = {}
        for name, tags in (("VIP Co", ["vip"]), ("王业主", ["业主", "repeat"])):
            st, _, c = cls.crm_tok.post("/api/v1/customers", {"kind": "person", "name": name,
                                                               "tags": tags})
            assert st == 201, c
            ids[tags[0]] = str(c["id"])
        cls.customer_of = {7: ids["vip"], 8: ids["vip"], 9: ids["vip"], 10: ids["vip"],
                           1: ids["业主"], 6: ids["业主"]}
        evs = []
        for i, d in enumerate(DELAYS, start=1):
            at = T0 + i * H
            subj = "email:%d" % i
            evs.append({"type": "email.received", "subject": subj, "occurred_at": iso(at),
                        "source": "test", "source_id": subj + "/in"})
            if i in cls.customer_of:
                evs[-1]["customer"] = cls.customer_of[i]
            evs.append({"type": "email.sent", "subject": subj, "occurred_at": iso(at + d * H),
                        "actor": "ann" if i <= 5 else "bob", "source": "test",
                        "source_id": subj + "/out"})
        st, _, b = cls.admin.post("/api/v1/events", {"events": evs})
        assert st in (200, 201), b
        cls.pid = cls.srv.sql("select id from processes where name = 'Customer email'")[0]["id"]
        st, _, p = cls.admin.get("/api/v1/processes/%d" % cls.pid)
        cls.doc = p["draft"]
        cls.draft = copy.deepcopy(cls.doc)
        cls.draft["steps"][0]["standard"]["within"] = "12h"
        # Let the runtime fold them, so that counts before and after are stable.
        want = cls.srv.sql("select max(id) as n from events")[0]["n"]
        for _ in range(500):
            st, _, s = cls.admin.get("/api/v1/runtime/status")
            if s["pending_subjects"] == 0 and s["last_event_id_folded"] >= want:
                break
            time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def counts(self):
        q = "select " + ", ".join("(select count(*) from %s) as %s" % (t, t) for t in TABLES)
        return self.srv.sql(q)[0]

    def whatif(self, body, c=None, pid=None):
        return (c or self.sup).post("/api/v1/processes/%d/whatif" % (pid or self.pid), body)

    def test_empty_period(self):
        """A period without any event (October 2026 here: every e-mail is in November)
        replays nothing: 0 subjects, no staff rows, null compliance on both sides — and the
        server stays up (an empty staff list once reached qsort(NULL, 0), which UBSan stops)."""
        r = self.whatif({"draft": self.draft, "from": "2026-10-01T00:00:00+08:00",
                         "to": "2026-11-01T00:00:00+08:00", "target": 0.8})
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual((j["subjects"], j["events"], j["staff"]), (0, 0, []))
        self.assertEqual(j["totals"]["live"]["count"], 0)
        self.assertIsNone(j["totals"]["live"]["compliance"])
        self.assertEqual(j["target"]["newly_below"], [])
        st, _, _ = self.sup.get("/api/v1/runtime/status")
        self.assertEqual(st, 200)

    def test_tightening_24h_to_12h(self):
        before = self.counts()
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "target": 0.8})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.counts(), before, "the replay wrote something")
        j = r.json
        self.assertEqual(j["process"]["name"], "Customer email")
        self.assertEqual(j["process"]["live_versions"], [1])
        self.assertEqual((j["subjects"], j["events"]), (10, 20))
        self.assertEqual(j["instances"], {"live": 10, "draft": 10})
        # Live, 24 h: delays 1 … 23 met (9), 30 breached (1): compliance 9/10 = 0.9.
        # Draft, 12 h: 1 2 5 8 11 met (5), 13 16 20 23 30 breached (5): 0.5.
        # Elapsed sorted (h): 1 2 5 8 11 13 16 20 23 30 — the same on both sides;
        # nearest rank p50 = 5th = 11 h, p90 = 9th = 23 h.
        lv, dr, de = j["totals"]["live"], j["totals"]["draft"], j["totals"]["delta"]
        self.assertEqual((lv["count"], lv["met"], lv["breached"], lv["open"]), (10, 9, 1, 0))
        self.assertEqual((dr["count"], dr["met"], dr["breached"], dr["open"]), (10, 5, 5, 0))
        self.assertAlmostEqual(lv["compliance"], 0.9)
        self.assertAlmostEqual(dr["compliance"], 0.5)
        self.assertEqual((lv["p50_ms"], lv["p90_ms"]), (11 * H, 23 * H))
        self.assertEqual((dr["p50_ms"], dr["p90_ms"]), (11 * H, 23 * H))
        self.assertAlmostEqual(de["compliance"], -0.4)
        self.assertEqual((de["met"], de["breached"], de["p50_ms"]), (-4, 4, 0))
        self.assertEqual([s["step"] for s in j["steps"]], ["reply"])
        self.assertEqual(j["steps"][0]["title"]["zh"], "客户来信24小时内回复")
        # Staff: ann 5/5 on both sides; bob 4/5 = 0.8 live, 0/5 = 0 in the draft.
        staff = {s["staff"]: s for s in j["staff"]}
        self.assertEqual(sorted(staff), ["ann", "bob"])
        self.assertAlmostEqual(staff["ann"]["live"]["compliance"], 1.0)
        self.assertAlmostEqual(staff["ann"]["draft"]["compliance"], 1.0)
        self.assertAlmostEqual(staff["bob"]["live"]["compliance"], 0.8)
        self.assertAlmostEqual(staff["bob"]["draft"]["compliance"], 0.0)
        # ann's elapsed 1 2 5 8 11: p50 = 3rd = 5 h; bob's 13 16 20 23 30: p90 = 5th = 30 h.
        self.assertEqual(staff["ann"]["live"]["p50_ms"], 5 * H)
        self.assertEqual(staff["bob"]["draft"]["p90_ms"], 30 * H)
        # Target 0.8: bob's 0.8 is not below it live; his 0 is in the draft.
        t = j["target"]
        self.assertEqual((t["live"]["below"], t["live"]["of"]), (0, 2))
        self.assertEqual((t["draft"]["below"], t["draft"]["of"], t["draft"]["staff"]),
                         (1, 2, ["bob"]))
        self.assertEqual((t["newly_below"], t["no_longer_below"]), (["bob"], []))

    def test_stored_draft_and_period(self):
        # Without a draft the stored draft is used: the seeded draft is the live document,
        # so both sides agree and every delta is 0.
        r = self.whatif({"from": FROM, "to": TO})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["totals"]["delta"]["compliance"], 0)
        self.assertIsNone(r.json["target"])
        # A period holding only e-mails 1-3 (arrived at T0 + 1, 2, 3 h): from T0 to T0 + 3 h
        # catches 1 and 2 (3 starts at the end, excluded) — all met on both sides.
        r = self.whatif({"draft": self.draft, "from": FROM, "to": iso(T0 + 3 * H)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["totals"]["live"]["count"], r.json["totals"]["draft"]["met"]),
                         (2, 2))
        # Token with kpi:read may replay.
        self.assertEqual(self.whatif({"from": FROM, "to": TO}, c=self.kpi_tok).status, 200)

    def test_customer_tag(self):
        """Only the subjects whose customer has the tag are replayed."""
        before = self.counts()
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "customer_tag": "vip",
                         "target": 0.8})
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual(j["customer_tag"], "vip")
        # VIP: e-mails 7-10, delays 16, 20, 23, 30 h, all bob's. Live (24 h): 16 20 23 met,
        # 30 breached = 3/4 = 0.75; draft (12 h): all four breached = 0/4.
        # Sorted elapsed 16 20 23 30: p50 = rank ceil(0.5 × 4) = 2nd = 20 h, p90 = rank
        # ceil(0.9 × 4) = 4th = 30 h.
        self.assertEqual((j["subjects"], j["events"]), (4, 8))
        lv, dr = j["totals"]["live"], j["totals"]["draft"]
        self.assertEqual((lv["count"], lv["met"], lv["breached"]), (4, 3, 1))
        self.assertEqual((dr["count"], dr["met"], dr["breached"]), (4, 0, 4))
        self.assertAlmostEqual(lv["compliance"], 0.75)
        self.assertAlmostEqual(dr["compliance"], 0.0)
        self.assertEqual((lv["p50_ms"], lv["p90_ms"]), (20 * H, 30 * H))
        self.assertEqual([s["staff"] for s in j["staff"]], ["bob"])
        # Target 0.8: bob 0.75 live and 0 in the draft: below on both sides, so not "newly".
        self.assertEqual((j["target"]["live"]["below"], j["target"]["draft"]["below"]), (1, 1))
        self.assertEqual(j["target"]["newly_below"], [])
        # 业主 (a tag in Chinese, the customer's first of two tags): e-mails 1 (1 h, ann) and
        # 6 (13 h, bob): live 2/2; draft 1 met (1 h), 1 breached (13 h) = 0.5.
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "customer_tag": "业主"})
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual(j["subjects"], 2)
        self.assertAlmostEqual(j["totals"]["live"]["compliance"], 1.0)
        self.assertAlmostEqual(j["totals"]["draft"]["compliance"], 0.5)
        staff = {s["staff"]: s for s in j["staff"]}
        self.assertEqual((staff["ann"]["draft"]["met"], staff["bob"]["draft"]["breached"]),
                         (1, 1))
        # Her second tag selects the same two e-mails.
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "customer_tag": "repeat"})
        self.assertEqual(r.json["subjects"], 2)
        # A tag nobody has: nothing replayed; null customer_tag is no filter (all ten).
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "customer_tag": "nobody"})
        self.assertEqual((r.json["subjects"], r.json["totals"]["live"]["count"]), (0, 0))
        r = self.whatif({"draft": self.draft, "from": FROM, "to": TO, "customer_tag": None})
        self.assertEqual((r.json["subjects"], r.json["customer_tag"]), (10, None))
        self.assertEqual(self.counts(), before, "the replay wrote something")

    def test_hotline_reads_event_data(self):
        """The hotline's ring_at_agent step is per data.agent and charged to it: the replay
        must read call.ringing's data (the e-mail process reads none). One call on
        2026-11-07 (outside the e-mail tests' period): offered 00:00:00, ringing at ann
        00:00:01, answered by ann 00:00:09, 8 s after it rang. Live ring_at_agent: 3 rings
        (15 s at the 5 s cadence, and 8 s is under 3 rings at any cadence above 2.7 s) → met;
        draft 1 ring (5 s) → breached. Charged per data.agent: ann, one occurrence a side."""
        day = T0 + 5 * 24 * H
        evs = [{"type": "call.offered", "subject": "call:w1", "occurred_at": iso(day),
                "data": {"queue": "hotline"}, "source": "test", "source_id": "w1/1"},
               {"type": "call.ringing", "subject": "call:w1", "occurred_at": iso(day + 1000),
                "data": {"agent": "ann"}, "source": "test", "source_id": "w1/2"},
               {"type": "call.answered", "subject": "call:w1", "occurred_at": iso(day + 9000),
                "actor": "ann", "source": "test", "source_id": "w1/3"}]
        st, _, b = self.admin.post("/api/v1/events", {"events": evs})
        self.assertIn(st, (200, 201), b)
        pid = self.srv.sql("select id from processes where name = 'Phone hotline'")[0]["id"]
        st, _, p = self.admin.get("/api/v1/processes/%d" % pid)
        draft = copy.deepcopy(p["draft"])
        ring = [s for s in draft["steps"] if s["key"] == "ring_at_agent"][0]
        ring["standard"]["within"] = "1 ring"
        r = self.whatif({"draft": draft, "from": iso(day), "to": iso(day + 24 * H)}, pid=pid)
        self.assertEqual(r.status, 200, r)
        steps = {s["step"]: s for s in r.json["steps"]}
        ra = steps["ring_at_agent"]
        self.assertEqual((ra["live"]["met"], ra["live"]["breached"]), (1, 0))
        self.assertEqual((ra["draft"]["met"], ra["draft"]["breached"]), (0, 1))
        staff = {s["staff"]: s for s in r.json["staff"]}
        self.assertEqual(staff["ann"]["live"]["count"], 1)
        self.assertEqual(staff["ann"]["draft"]["breached"], 1)

    def test_rejected_requests_write_nothing(self):
        before = self.counts()
        bad = copy.deepcopy(self.draft)
        bad["steps"][0]["standard"]["within"] = "soon"
        r = self.whatif({"draft": bad, "from": FROM, "to": TO})
        self.assertEqual(r.status, 422, r)
        self.assertIn("/draft/steps/0/standard/within", [e["pointer"] for e in r.json["errors"]])
        r = self.whatif({"from": "yesterday", "to": TO, "target": 1.5, "extra": 1})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]),
                         ["/extra", "/from", "/target"])
        r = self.whatif({"from": TO, "to": FROM})
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/to"])
        r = self.whatif({"from": "2026-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"})
        self.assertEqual(r.status, 422)  # more than 400 days
        r = self.whatif({"draft": [1], "from": FROM, "to": TO})
        self.assertEqual(r.status, 422)
        self.assertEqual(self.sup.req("POST", "/api/v1/processes/%d/whatif" % self.pid,
                                      raw=b"{not json",
                                      headers={"Content-Type": "application/json"}).status, 400)
        for bad_tag in ("", 5, ["vip"], "x" * 33):
            r = self.whatif({"from": FROM, "to": TO, "customer_tag": bad_tag})
            self.assertEqual(r.status, 422, (bad_tag, r))
            self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/customer_tag"])
        self.assertEqual(self.whatif({"from": FROM, "to": TO}, pid=999999).status, 404)
        self.assertEqual(self.whatif({"from": FROM, "to": TO}, c=self.agent).status, 403)
        self.assertEqual(self.whatif({"from": FROM, "to": TO}, c=self.crm_tok).status, 403)
        self.assertEqual(self.whatif({"from": FROM, "to": TO}, c=self.srv.client()).status, 401)
        self.assertEqual(self.counts(), before)

    def test_cli_replay(self):
        path = os.path.join(self.srv.dir, "draft.json")
        with open(path, "w") as f:
            json.dump(self.draft, f)
        before = self.counts()
        p = subprocess.run([BIN, "replay", "--process", "Customer email", "--draft", path,
                            "--from", FROM, "--to", TO, "--target", "0.8", "--json",
                            "--db", self.srv.db], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertAlmostEqual(j["totals"]["draft"]["compliance"], 0.5)
        self.assertEqual(j["target"]["newly_below"], ["bob"])
        # Dates: 2026-11-02 … 2026-11-05 is 00:00 +08:00 on the 2nd to the end of the 5th
        # (+08:00) = 2026-11-01T16:00Z … 2026-11-05T16:00Z: all ten e-mails (T0+1 h … T0+10 h).
        p = subprocess.run([BIN, "replay", "--process", "Customer email", "--draft", path,
                            "--from", "2026-11-02", "--to", "2026-11-05", "--target", "0.8",
                            "--db", self.srv.db], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("90.0% (9/10)", p.stdout)
        self.assertIn("50.0% (5/10)", p.stdout)
        self.assertIn("-40.0 pts", p.stdout)
        self.assertIn("Would fall below: bob", p.stdout)
        # --customer-tag: the VIP's four e-mails (see test_customer_tag): 3/4 live, 0/4 draft.
        p = subprocess.run([BIN, "replay", "--process", "Customer email", "--draft", path,
                            "--from", FROM, "--to", TO, "--customer-tag", "vip",
                            "--db", self.srv.db], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("customers tagged vip", p.stdout)
        self.assertIn("75.0% (3/4)", p.stdout)
        self.assertIn("0.0% (0/4)", p.stdout)
        p = subprocess.run([BIN, "replay", "--process", "Nope", "--from", FROM, "--to", TO,
                            "--db", self.srv.db], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no process named", p.stderr)
        self.assertEqual(self.counts(), before)


if __name__ == "__main__":
    unittest.main()
