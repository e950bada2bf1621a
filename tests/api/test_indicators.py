"""test_indicators.py — indicators end to end: a hand-computed month (6 staff in 2 teams) is
posted as events, the runtime folds it into measurements and the kpi rollups, and
GET /api/v1/indicators answers every indicator as worked out by hand below; the access rule
(agents read only their own), the time series, the CSV and XLSX exports (read back with
openpyxl), a late event that re-folds a subject, `smile rebuild` reproducing the rollups, and
rejected requests writing nothing."""
import csv
import http.client
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, wait_folded, ev  # noqa: E402


def at(day, hms):
    return "2026-11-%02dT%s.000Z" % (day, hms)


def call(n, day, agent, delay_s):
    """A call offered at 02:00:00 UTC (10:00 Shanghai) on the day, ringing at agent 1 s later,
    answered by the agent delay_s seconds after the ring."""
    s = "call:%d" % n
    return [ev("call.offered", s, at(day, "02:00:00"), data={"queue": "phone"}),
            ev("call.ringing", s, at(day, "02:00:01"), data={"agent": agent}),
            ev("call.answered", s, at(day, "02:00:%02d" % (1 + delay_s)), actor=agent)]


# The month. Phone team: ann, bob, cat; mail team: dan, eve, fay. Calendar: China (UTC+8,
# 5 s rings: 3 rings = 15 s). Expected values worked out by hand:
#
# ring_at_agent (pick up within 3 rings = 15 s, charged to the agent), ring → answer:
#   ann: 5 s (11-02), 8 s (11-03), 20 s (11-04)  → met, met, breached: compliance 2/3
#   bob: 10 s (11-05), 12 s (11-10)                 → 2/2 = 1
#   cat: 16 s (11-11), 30 s (11-12)                 → 0/2 = 0
# answer (within 15 s of the offer, charged to the queue "phone"): offer → answer is 1 s more:
#   6, 9, 21, 11, 13, 17, 31 → met 4, breached 3; plus call:8 abandoned after 30 s (breached,
#   abandoned) and call:9 abandoned after 2 s (excluded): compliance 4/8, abandonment 1/8.
# Email (reply within 24 h, charged to the replier):
#   dan: 1 h (11-02), 2 h (11-16) → 2/2;  eve: 30 h (11-03) breached, 1 h (11-17) met → 1/2
# Counter (greet within 5 s, charged to data.staff): fay: 3 s (11-09) met, 7 s (11-20) breached.
# Case: case:1 opened 11-18, resolved by eve 11-19, survey 5 on 11-20 → fcr 1/1, satisfaction 5.
# Customer 1 (tags vip, 业主) wrote mail:1 (met) and mail:3 (breached): reply compliance 1/2
# under each tag.
MONTH = (call(1, 2, "ann", 5) + call(2, 3, "ann", 8) + call(3, 4, "ann", 20) +
         call(4, 5, "bob", 10) + call(5, 10, "bob", 12) + call(6, 11, "cat", 16) +
         call(7, 12, "cat", 30) + [
    ev("call.offered", "call:8", at(13, "02:00:00"), data={"queue": "phone"}),
    ev("call.abandoned", "call:8", at(13, "02:00:30")),
    ev("call.offered", "call:9", at(13, "03:00:00"), data={"queue": "phone"}),
    ev("call.abandoned", "call:9", at(13, "03:00:02")),
    ev("email.received", "mail:1", at(2, "01:00:00"), customer="1"),
    ev("email.sent", "mail:1", at(2, "02:00:00"), actor="dan"),
    ev("email.received", "mail:2", at(16, "01:00:00")),
    ev("email.sent", "mail:2", at(16, "03:00:00"), actor="dan"),
    ev("email.received", "mail:3", at(3, "01:00:00"), customer="1"),
    ev("email.sent", "mail:3", at(4, "07:00:00"), actor="eve"),
    ev("email.received", "mail:4", at(17, "01:00:00")),
    ev("email.sent", "mail:4", at(17, "02:00:00"), actor="eve"),
    ev("visit.arrived", "visit:1", at(9, "02:00:00"), data={"staff": "fay", "desk": "front"}),
    ev("visit.greeted", "visit:1", at(9, "02:00:03"), actor="fay"),
    ev("visit.arrived", "visit:2", at(20, "02:00:00"), data={"staff": "fay", "desk": "front"}),
    ev("visit.greeted", "visit:2", at(20, "02:00:07"), actor="fay"),
    ev("case.opened", "case:1", at(18, "02:00:00"), data={"type": "complaint"}),
    ev("case.resolved", "case:1", at(19, "02:00:00"), actor="eve"),
    ev("survey.answered", "case:1", at(20, "02:00:00"), data={"score": 5}),
])

STAFF = {"ann": "phone", "bob": "phone", "cat": "phone", "dan": "mail", "eve": "mail",
         "fay": "mail"}


class TestIndicators(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.cli("team", "add", "phone")
        cls.srv.cli("team", "add", "mail")
        for name, team in STAFF.items():
            cls.srv.add_user(name, "agent", team=team)
        cls.srv.add_user("sam", "supervisor", team="phone")
        cls.srv.add_user("ada", "admin")
        cls.w = cls.srv.client(cls.srv.token("ada", "events:write,events:read"))
        cls.sup = cls.srv.client(cls.srv.token("sam", "kpi:read"))
        cls.ann = cls.srv.login("ann")
        crm = cls.srv.client(cls.srv.token("ada", "crm:write"))
        st, _, b = crm.post("/api/v1/customers", {"kind": "person", "name": "王小明",
                                                   "tags": ["vip", "业主"]})
        assert st == 201 and b["id"] == 1, b
        st, _, b = cls.w.post("/api/v1/events", {"events": MONTH})
        assert st == 201, b
        wait_folded(cls.srv, cls.sup)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, c=None, **q):
        qs = "&".join("%s=%s" % kv for kv in q.items())
        st, _, b = (c or self.sup).get("/api/v1/indicators?" + qs)
        self.assertEqual(st, 200, b)
        return b

    def one(self, **q):
        q.setdefault("period", "2026-11")
        rows = self.get(**q)["rows"]
        self.assertEqual(len(rows), 1)
        return rows[0]

    def test_compliance_by_staff(self):
        b = self.get(name="compliance", by="staff", period="2026-11", step="ring_at_agent")
        self.assertEqual(b["unit"], "ratio")
        self.assertTrue(b["higher_is_better"])
        self.assertEqual(b["period"], {"from": "2026-11-01", "to": "2026-11-30"})
        got = {r["key"]: (round(r["value"], 6), r["count"]) for r in b["rows"]}
        self.assertEqual(got, {"ann": (round(2 / 3, 6), 3), "bob": (1.0, 2), "cat": (0.0, 2)})
        # each row links to its measurements: November in Shanghai is
        # 2026-10-31T16:00Z .. 2026-11-30T16:00Z; ann's link lists her 3 ring_at_agent clocks
        ann = [r for r in b["rows"] if r["key"] == "ann"][0]
        self.assertEqual(ann["measurements"],
                         "/api/v1/measurements?step=ring_at_agent&staff=ann"
                         "&from=2026-10-31T16%3A00%3A00.000Z&to=2026-11-30T16%3A00%3A00.000Z")
        st, _, m = self.sup.get(ann["measurements"])
        self.assertEqual(st, 200, m)
        self.assertEqual(sorted(i["result"] for i in m["items"]), ["breached", "met", "met"])
        # event indicators have no such link
        b2 = self.get(name="calls_answered", by="staff", period="2026-11")
        self.assertIsNone(b2["rows"][0]["measurements"])
        # email: dan 2/2, eve 1/2
        b = self.get(name="compliance", by="staff", period="2026-11", step="reply")
        got = {r["key"]: (r["value"], r["count"]) for r in b["rows"]}
        self.assertEqual(got, {"dan": (1.0, 2), "eve": (0.5, 2)})
        # counter: fay 1/2
        r = self.one(name="compliance", staff="fay", step="greet")
        self.assertEqual((r["value"], r["count"]), (0.5, 2))

    def test_queue_answer_and_abandonment(self):
        r = self.one(name="compliance", team="phone", step="answer")
        self.assertEqual((r["value"], r["count"]), (0.5, 8))
        r = self.one(name="breached", team="phone", step="answer")
        self.assertEqual(r["value"], 4)
        r = self.one(name="abandonment", team="phone")
        self.assertEqual((r["value"], r["count"]), (0.125, 8))

    def test_elapsed(self):
        # ann's ring → answer: 5 s, 8 s, 20 s. mean 11 s; p50 (rank 2) 8 s; p90 (rank 3) 20 s,
        # within the histogram's 4.45 %
        r = self.one(name="elapsed_mean", staff="ann", step="ring_at_agent")
        self.assertAlmostEqual(r["value"], 11000.0, places=3)
        r = self.one(name="elapsed_p50", staff="ann", step="ring_at_agent")
        self.assertLess(abs(r["value"] - 8000) / 8000, 0.0445)
        r = self.one(name="elapsed_p90", staff="ann", step="ring_at_agent")
        self.assertLess(abs(r["value"] - 20000) / 20000, 0.0445)
        r = self.one(name="elapsed_p99", staff="ann", step="ring_at_agent")
        self.assertLess(abs(r["value"] - 20000) / 20000, 0.0445)

    def test_volumes(self):
        b = self.get(name="calls_answered", by="team", period="2026-11")
        got = {r["key"]: r["value"] for r in b["rows"]}
        self.assertEqual(got["phone"], 7)
        self.assertEqual(self.one(name="calls_answered", staff="ann")["value"], 3)
        self.assertEqual(self.one(name="emails_replied", team="mail")["value"], 4)
        self.assertEqual(self.one(name="visits_received", staff="fay")["value"], 2)
        self.assertEqual(self.one(name="cases_resolved", staff="eve")["value"], 1)
        # volume (steps done): ann's ring_at_agent 3
        self.assertEqual(self.one(name="volume", staff="ann", step="ring_at_agent")["value"], 3)

    def test_cases_and_satisfaction(self):
        r = self.one(name="fcr", staff="eve")
        self.assertEqual((r["value"], r["count"]), (1.0, 1))
        self.assertEqual(self.one(name="reopen_rate", staff="eve")["value"], 0.0)
        r = self.one(name="satisfaction", staff="eve")
        self.assertEqual((r["value"], r["count"]), (5.0, 1))
        r = self.one(name="satisfaction", staff="ann")
        self.assertEqual((r["value"], r["has_data"]), (None, False))

    def test_backlog(self):
        # every clock of the month stopped except none: the complaint's callback step ran
        # from the resolve (11-19) to the survey (11-20); at the end of 11-19 it is open
        r = self.one(name="backlog", period="2026-11-19", step="callback")
        self.assertEqual(r["value"], 1)
        r = self.one(name="backlog", period="2026-11-20", step="callback")
        self.assertEqual(r["value"], 0)

    def test_time_series(self):
        # ann's ring_at_agent by week: W45 (11-02..11-08) holds all three → 2/3; W44 is only
        # 11-01 (a Sunday) and has no data; W46..W49 none
        b = self.get(name="compliance", by="week", period="2026-11", staff="ann",
                     step="ring_at_agent")
        keys = [r["key"] for r in b["rows"]]
        self.assertEqual(keys, ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48",
                                "2026-W49"])
        self.assertEqual(b["rows"][0]["from"], "2026-11-01")
        self.assertEqual(b["rows"][0]["to"], "2026-11-01")
        self.assertFalse(b["rows"][0]["has_data"])
        self.assertIsNone(b["rows"][0]["value"])
        self.assertAlmostEqual(b["rows"][1]["value"], 2 / 3)
        b = self.get(name="volume", by="day", period="2026-11-01..2026-11-05", staff="ann",
                     step="ring_at_agent")
        self.assertEqual([r["value"] or 0 for r in b["rows"]], [0, 1, 1, 1, 0])
        b = self.get(name="compliance", by="month", period="2026-Q4", step="reply")
        self.assertEqual([r["key"] for r in b["rows"]], ["2026-10", "2026-11", "2026-12"])
        self.assertEqual(b["rows"][1]["value"], 0.75)

    def test_compare_previous(self):
        # 11-16..11-30 against the 15 days before (11-01..11-15), email replies by staff:
        # now dan 1/1 (mail:2), eve 1/1 (mail:4); before dan 1/1 (mail:1), eve 0/1 (mail:3)
        b = self.get(name="compliance", by="staff", period="2026-11-16..2026-11-30",
                     step="reply", compare="previous")
        self.assertEqual(b["previous_period"], {"from": "2026-11-01", "to": "2026-11-15"})
        got = {r["key"]: (r["value"], r["previous"]["value"], r["previous"]["count"])
               for r in b["rows"]}
        self.assertEqual(got, {"dan": (1.0, 1.0, 1), "eve": (1.0, 0.0, 1)})
        # a month against the month before: October has nothing
        r = self.get(name="compliance", period="2026-11", step="reply",
                     compare="previous")
        self.assertEqual(r["previous_period"], {"from": "2026-10-01", "to": "2026-10-31"})
        self.assertEqual(r["rows"][0]["previous"], {"value": None, "count": 0,
                                                    "has_data": False})
        # a time series compares its whole span
        r = self.get(name="volume", by="week", period="2026-11-16..2026-11-29", step="reply",
                     compare="previous")
        self.assertEqual(r["previous_period"]["value"], 2)  # mail:1, mail:3 (11-02, 11-03)
        st, _, b = self.sup.get("/api/v1/indicators?name=volume&compare=next")
        self.assertEqual(st, 422, b)

    def test_customer_tags(self):
        r = self.one(name="compliance", tag="vip", step="reply")
        self.assertEqual((r["value"], r["count"]), (0.5, 2))
        b = self.get(name="compliance", by="tag", period="2026-11", step="reply")
        got = {r["key"]: (r["value"], r["count"]) for r in b["rows"]}
        self.assertEqual(got, {"vip": (0.5, 2), "业主": (0.5, 2)})
        # the untagged figures count every mail once: 3/4
        self.assertEqual(self.one(name="compliance", step="reply")["value"], 0.75)
        r = self.one(name="compliance", tag="nobody", step="reply")
        self.assertFalse(r["has_data"])

    def test_customer_tag_name(self):
        """customer_tag is the parameter's name (tag, its older name, still works): the tag
        is the customer's — cases have no tags — so the same figures as test_customer_tags."""
        b = self.get(name="compliance", customer_tag="vip", step="reply", period="2026-11")
        self.assertEqual((b["rows"][0]["value"], b["rows"][0]["count"]), (0.5, 2))
        self.assertEqual(b["filters"], {"customer_tag": "vip", "step": "reply"})
        # 业主 percent-encoded in the query: mail:1 met, mail:3 breached = 1/2.
        b = self.get(name="compliance", customer_tag="%E4%B8%9A%E4%B8%BB", step="reply",
                     period="2026-11")
        self.assertEqual((b["rows"][0]["value"], b["filters"]["customer_tag"]), (0.5, "业主"))
        b = self.get(name="compliance", by="customer_tag", period="2026-11", step="reply")
        self.assertEqual(b["by"], "customer_tag")
        self.assertEqual([r["key"] for r in b["rows"]], sorted(["vip", "业主"]))
        # the older by=tag answers under the new name
        self.assertEqual(self.get(name="volume", by="tag", period="2026-11")["by"],
                         "customer_tag")
        # both names for the same tag are fine; for two different tags refused
        self.get(name="compliance", customer_tag="vip", tag="vip", period="2026-11")
        st, _, b = self.sup.get("/api/v1/indicators?name=compliance&customer_tag=vip&tag=x")
        self.assertEqual(st, 422, b)
        self.assertEqual([e["pointer"] for e in b["errors"]], ["/query/tag"])
        st, _, b = self.sup.get("/api/v1/indicators?name=compliance&by=case_tag")
        self.assertEqual(st, 422, b)
        self.assertIn("customer_tag", b["errors"][0]["detail"])

    def test_agent_reads_only_own(self):
        b = self.get(self.ann, name="compliance", by="staff", period="2026-11")
        self.assertEqual([r["key"] for r in b["rows"]], ["ann"])
        self.assertEqual(b["filters"]["staff"], "ann")
        st, _, b = self.ann.get("/api/v1/indicators?name=compliance&staff=bob&period=2026-11")
        self.assertEqual(st, 403, b)
        st, _, b = self.ann.get("/api/v1/indicators/export?name=compliance&staff=bob")
        self.assertEqual(st, 403, b)
        # a supervisor reads anyone's
        self.assertEqual(self.one(name="volume", staff="bob", step="ring_at_agent")["value"], 2)

    def test_rejected_requests_write_nothing(self):
        before = self.srv.sql("select count(*) as n, coalesce(sum(met),0) as m from kpi_daily")
        nev = self.srv.sql("select count(*) as n from events")
        for qs, ptr in [("name=nonsense", "/query/name"), ("", "/query/name"),
                        ("name=compliance,volume", "/query/name"),
                        ("name=compliance&by=fortnight", "/query/by"),
                        ("name=compliance&period=2026-13", "/query/period"),
                        ("name=compliance&period=2026-11-30..2026-11-01", "/query/period"),
                        ("name=compliance&process=x", "/query/process")]:
            st, _, b = self.sup.get("/api/v1/indicators?" + qs)
            self.assertEqual(st, 422, (qs, b))
            self.assertIn(ptr, [e["pointer"] for e in b["errors"]], qs)
        st, _, b = self.sup.get("/api/v1/indicators/export?name=compliance&format=pdf")
        self.assertEqual(st, 422, b)
        self.assertEqual(self.srv.sql("select count(*) as n, coalesce(sum(met),0) as m "
                                      "from kpi_daily"), before)
        self.assertEqual(self.srv.sql("select count(*) as n from events"), nev)

    def test_catalog(self):
        st, _, b = self.sup.get("/api/v1/indicators/catalog")
        self.assertEqual(st, 200, b)
        names = [i["name"] for i in b["items"]]
        for n in ("compliance", "breached", "elapsed_p50", "elapsed_p90", "elapsed_p99",
                  "elapsed_mean", "volume", "calls_answered", "emails_replied",
                  "visits_received", "cases_resolved", "abandonment", "fcr", "reopen_rate",
                  "satisfaction", "backlog"):
            self.assertIn(n, names)
        comp = [i for i in b["items"] if i["name"] == "compliance"][0]
        self.assertEqual(comp["title"]["zh"], "达标率")

    def test_export_csv(self):
        st, h, raw = self.sup.get("/api/v1/indicators/export?format=csv&name=compliance,volume"
                                  "&by=staff&period=2026-11&step=ring_at_agent")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        text = raw.decode() if isinstance(raw, bytes) else raw
        self.assertIn("\r\n", text)
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], ["staff", "from", "to", "compliance", "compliance_count",
                                   "volume", "volume_count"])
        body = {r[0]: r[1:] for r in rows[1:]}
        self.assertEqual(sorted(body), ["ann", "bob", "cat"])
        self.assertAlmostEqual(float(body["ann"][2]), 2 / 3, places=6)
        self.assertEqual(body["ann"][3], "3")
        self.assertEqual(body["cat"][2:], ["0", "2", "2", "2"])

    def test_export_xlsx(self):
        try:
            import openpyxl
        except ImportError:  # Debian's python3-openpyxl, when python3 is another build
            sys.path.append("/usr/lib/python3/dist-packages")
            import openpyxl
        # the harness decodes bodies as text: fetch the workbook's bytes directly
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        conn.request("GET", "/api/v1/indicators/export?format=xlsx&name=compliance,"
                     "calls_answered&by=staff&period=2026-11",
                     headers={"Authorization": "Bearer " + self.sup.token})
        r = conn.getresponse()
        st, h, raw = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        conn.close()
        self.assertEqual(st, 200)
        self.assertIn("spreadsheetml", h["content-type"])
        self.assertIn("indicators.xlsx", h["content-disposition"])
        wb = openpyxl.load_workbook(io.BytesIO(raw))
        ws = wb.active
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        self.assertEqual(rows[0], ["staff", "from", "to", "compliance", "compliance_count",
                                   "calls_answered", "calls_answered_count"])
        body = {r[0]: r[1:] for r in rows[1:]}
        self.assertEqual(body["bob"][4], 2)  # bob answered 2 calls
        self.assertEqual(body["dan"][2], 1.0)  # dan's replies 2/2
        # dan answered no call: 0 (dan has figures this month, so 0 is data, not a gap)
        self.assertEqual(body["dan"][4], 0)
        self.assertIsNone(body["ann"][6] if len(body["ann"]) > 6 else None)


class TestLateAndRebuild(unittest.TestCase):
    """A late event re-folds a subject and the rollups follow; `smile rebuild` reproduces
    them exactly."""

    def test_late_event_and_rebuild(self):
        srv = Server()
        try:
            srv.add_user("ada", "admin")
            w = srv.client(srv.token("ada", "events:write,events:read,kpi:read"))
            st, _, b = w.post("/api/v1/events", {"events": MONTH})
            self.assertEqual(st, 201, b)
            wait_folded(srv, w)
            q = ("/api/v1/indicators?name=compliance&staff=cat&step=ring_at_agent"
                 "&period=2026-11")
            _, _, b = w.get(q)
            self.assertEqual(b["rows"][0]["value"], 0.0)
            # cat's 30 s call (call:7) was in fact answered by cat 10 s after the ring: the
            # late event re-folds call:7 and cat's compliance becomes 1/2
            late = ev("call.answered", "call:7", at(12, "02:00:11"), actor="cat")
            late["source_id"] = "late-1"
            st, _, b = w.post("/api/v1/events", {"events": [late]})
            self.assertEqual(st, 201, b)
            wait_folded(srv, w)
            _, _, b = w.get(q)
            r = b["rows"][0]
            self.assertEqual((r["value"], r["count"]), (0.5, 2))
            dump = ("select day, staff, team, process_id, step, channel, met, breached, excluded,"
                    " done, cancelled, sum_ms, offered, abandoned, opened, closed, answered,"
                    " replied, visits, resolved, cases, fcr, reopened, surveys, survey_sum,"
                    " hex(hist) as hist from kpi_daily"
                    " order by day, staff, team, process_id, step, channel")
            srv.stop()  # nothing folds any more: the live state is final
            live = srv.sql(dump)
            self.assertGreater(len(live), 10)
            srv.cli("rebuild")
            self.assertEqual(srv.sql(dump), live)
            srv.start()
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
