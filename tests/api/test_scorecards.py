"""test_scorecards.py — scorecards end to end over a hand-computed month: 6 agents in 2 teams,
November 2026 events with explicit occurred_at posted to the ledger and measured by the
runtime, a template with three compliance items (one critical), evaluations computed on
demand: every person's score, the ranking within role and team (with a tie), the critical
item zeroing a total, the no-data item and the no-data person, publish → comment → freeze,
recompute refused with 409 after freeze (nothing written), agents seeing only their own
published evaluations, the drill-down finding the single late reply, CSV and XLSX exports
(read back with openpyxl), `smile report scorecard`, digests per supervisor, template
validation with JSON Pointers and the automatic computation of the last ended period.

Worked by hand (compliance = met / (met + breached); points = clamp((v − 0.5) / (1 − 0.5)) × 100;
items: reply w 2, greet w 1 critical, ring w 1):

| person | team    | reply       | greet           | ring        | total                      |
|--------|---------|-------------|-----------------|-------------|----------------------------|
| ann    | hotline | 3/4 → 50    | no data         | 2/2 → 100   | (2×50 + 100)/3 = 66.67     |
| bob    | hotline | 4/4 → 100   | no data         | 1/2 → 0     | (2×100 + 0)/3 = 66.67      |
| cai    | hotline | 1/1 → 100   | no data         | 2/2 → 100   | 100                        |
| dan    | care    | 2/4 → 0     | 2/2 → 100       | no data     | (0 + 100)/3 = 33.33        |
| eve    | care    | 1/1 → 100   | 1/3 < floor 0.5 | no data     | 0 (critical greet)         |
| fay    | care    | no data     | no data         | no data     | none (no_data)             |

Role ranks: cai 1, ann 2, bob 2 (tie), dan 4, eve 5, fay unranked; 5 scored.
Team ranks: hotline cai 1, ann 2, bob 2; care dan 1, eve 2.
"""
import csv
import http.client
import io
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, wait_folded, ev  # noqa: E402

H = 3600 * 1000


def iso(day, hh, mm=0, ss=0):
    return "2026-11-%02dT%02d:%02d:%02dZ" % (day, hh, mm, ss)


EVENTS = []
_n = [0]


def email(who, day, late=False):
    """A customer email on 2026-11-<day> 02:00Z answered by who after 2 h (met) or 25 h
    (breached: 24 h wall-clock standard)."""
    _n[0] += 1
    s = "email:t%d" % _n[0]
    EVENTS.append(ev("email.received", s, iso(day, 2)))
    if late:
        EVENTS.append(ev("email.sent", s, iso(day + 1, 3), actor=who))
    else:
        EVENTS.append(ev("email.sent", s, iso(day, 4), actor=who))
    return s


def call(who, day, late=False):
    """A call ringing at who, answered after 4 s (met) or 19 s (breached: 3 rings = 15 s)."""
    _n[0] += 1
    s = "call:c%d" % _n[0]
    EVENTS.append(ev("call.offered", s, iso(day, 3, 0, 0), data={"queue": "hotline"}))
    EVENTS.append(ev("call.ringing", s, iso(day, 3, 0, 1), data={"agent": who}))
    EVENTS.append(ev("call.answered", s, iso(day, 3, 0, 20 if late else 5), actor=who))
    return s


def visit(who, day, late=False):
    """A visitor greeted by who after 3 s (met) or 7 s (breached: 5 s standard)."""
    _n[0] += 1
    s = "visit:v%d" % _n[0]
    EVENTS.append(ev("visit.arrived", s, iso(day, 5, 0, 0), data={"staff": who, "desk": "front"}))
    EVENTS.append(ev("visit.greeted", s, iso(day, 5, 0, 7 if late else 3), actor=who))
    return s


# ann: 3 replies met, 1 late (the one the drill-down must find); 2 calls met.
for d in (2, 3, 4):
    email("ann", d)
LATE_ANN = email("ann", 5, late=True)
call("ann", 2)
call("ann", 3)
# bob: 4 replies met; 1 call met, 1 late.
for d in (2, 3, 4, 5):
    email("bob", d)
call("bob", 4)
call("bob", 5, late=True)
# cai: 1 reply, 2 calls, all met.
email("cai", 6)
call("cai", 6)
call("cai", 9)
# dan: 2 replies met, 2 late; 2 greetings met.
email("dan", 2)
email("dan", 3)
email("dan", 10, late=True)
email("dan", 11, late=True)
visit("dan", 2)
visit("dan", 3)
# eve: 1 reply met; greetings 1 met, 2 late (1/3 below the critical floor).
email("eve", 12)
visit("eve", 12)
LATE_EVE = [visit("eve", 13, late=True), visit("eve", 16, late=True)]
# fay: nothing.
# An October email by ann: outside November, must not count.
EVENTS.append(ev("email.received", "email:oct", "2026-10-30T02:00:00Z"))
EVENTS.append(ev("email.sent", "email:oct", "2026-10-31T05:00:00Z", actor="ann"))

TEMPLATE = {
    "name": "agent-month",
    "title": {"en": "Agent monthly scorecard", "zh": "坐席月度评分卡"},
    "role": "agent",
    "period": "month",
    "items": [
        {"key": "reply", "indicator": "compliance", "filter": {"step": "reply"},
         "label": {"en": "Emails answered within 24 h", "zh": "24小时内回复邮件"},
         "weight": 2, "floor": 0.5, "target": 1.0},
        {"key": "greet", "indicator": "compliance", "filter": {"step": "greet"},
         "label": {"en": "Visitors greeted within 5 s", "zh": "5秒内接待访客"},
         "weight": 1, "floor": 0.5, "target": 1.0, "critical": True},
        {"key": "ring", "indicator": "compliance", "filter": {"step": "ring_at_agent"},
         "weight": 1, "floor": 0.5, "target": 1.0},
    ],
}


def load_openpyxl():
    """openpyxl from Debian's python3-openpyxl, also when python3 is another interpreter."""
    try:
        import openpyxl
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        import openpyxl
    return openpyxl


def raw_get(client, path):
    """GET returning the body as bytes (the harness decodes bodies as text; XLSX is binary)."""
    h = {}
    if client.token:
        h["Authorization"] = "Bearer " + client.token
    if client.cookies:
        h["Cookie"] = "; ".join("%s=%s" % kv for kv in client.cookies.items())
    conn = http.client.HTTPConnection("127.0.0.1", client.server.port, timeout=60)
    try:
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def counts(srv):
    return srv.sql("select (select count(*) from score_templates) t,"
                   " (select count(*) from evaluations) e,"
                   " (select coalesce(sum(version),0) from evaluations) ev,"
                   " (select count(*) from evaluation_comments) c,"
                   " (select count(*) from score_digests) d,"
                   " (select count(*) from audit) a")[0]


class TestScorecards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.cli("team", "add", "hotline")
        srv.cli("team", "add", "care")
        srv.add_user("ada", "admin")
        srv.add_user("sam", "supervisor", team="hotline")
        srv.add_user("sue", "supervisor", team="care")
        for u in ("ann", "bob", "cai"):
            srv.add_user(u, "agent", team="hotline")
        for u in ("dan", "eve", "fay"):
            srv.add_user(u, "agent", team="care")
        cls.adm = srv.login("ada")
        cls.sam = srv.login("sam")
        cls.sue = srv.login("sue")
        cls.ann = srv.login("ann")
        cls.bob = srv.login("bob")
        ids = {r["username"]: r["id"] for r in srv.sql("select id, username from users")}
        for team, sup in (("hotline", "sam"), ("care", "sue")):
            tid = srv.sql("select id from teams where name = '%s'" % team)[0]["id"]
            st, h, b = cls.adm.get("/api/v1/teams/%d" % tid)
            st, _, b = cls.adm.patch("/api/v1/teams/%d" % tid, {"supervisor_id": ids[sup]},
                                     headers={"If-Match": h["etag"]})
            assert st == 200, b
        w = srv.client(srv.token("ada", "events:write,kpi:read"))
        st, _, b = w.post("/api/v1/events", {"events": EVENTS})
        assert st == 201, b
        wait_folded(srv, w)
        st, _, b = cls.adm.post("/api/v1/scorecards/templates", TEMPLATE)
        assert st == 201, b
        cls.tid = b["id"]
        st, _, b = cls.sam.post("/api/v1/evaluations/compute",
                                {"period": "2026-11", "template": "agent-month"})
        assert st == 200, b
        cls.compute = b

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def evals(self, client=None, query="period=2026-11"):
        st, _, b = (client or self.sam).get("/api/v1/evaluations?" + query)
        self.assertEqual(st, 200, b)
        return {e["user"]["username"]: e for e in b["items"]}

    def full(self, user, client=None):
        e = self.evals()[user]
        st, _, b = (client or self.sam).get("/api/v1/evaluations/%d" % e["id"])
        self.assertEqual(st, 200, b)
        return b

    # -- the numbers ------------------------------------------------------------------

    def test_01_compute_result(self):
        self.assertEqual(self.compute["computed"], 6)
        self.assertEqual(self.compute["kept_frozen"], 0)
        self.assertEqual(self.compute["from"], "2026-11-01")
        self.assertEqual(self.compute["to"], "2026-11-30")

    def test_02_scores(self):
        e = self.evals()
        self.assertEqual(sorted(e), ["ann", "bob", "cai", "dan", "eve", "fay"])
        self.assertAlmostEqual(e["ann"]["score"], 66.67, places=2)
        self.assertAlmostEqual(e["bob"]["score"], 66.67, places=2)
        self.assertEqual(e["cai"]["score"], 100)
        self.assertAlmostEqual(e["dan"]["score"], 33.33, places=2)
        self.assertEqual(e["eve"]["score"], 0)
        self.assertIsNone(e["fay"]["score"])
        for u in ("ann", "bob", "cai", "dan"):
            self.assertEqual(e[u]["status"], "scored")
        self.assertEqual(e["eve"]["status"], "zeroed")
        self.assertEqual(e["fay"]["status"], "no_data")
        for u in e:
            self.assertEqual(e[u]["state"], "draft")
            self.assertEqual(e[u]["period"], "2026-11")

    def test_03_ranks(self):
        e = self.evals()
        role = {u: e[u]["rank"]["role"] for u in e}
        self.assertEqual(role, {"cai": 1, "ann": 2, "bob": 2, "dan": 4, "eve": 5, "fay": None})
        team = {u: e[u]["rank"]["team"] for u in e}
        self.assertEqual(team, {"cai": 1, "ann": 2, "bob": 2, "dan": 1, "eve": 2, "fay": None})
        self.assertEqual(e["ann"]["rank"]["role_size"], 5)
        self.assertEqual(e["ann"]["rank"]["team_size"], 3)
        self.assertEqual(e["dan"]["rank"]["team_size"], 2)
        self.assertEqual(e["ann"]["team"], "hotline")
        self.assertEqual(e["dan"]["team"], "care")

    def test_04_items(self):
        ann = self.full("ann")
        items = {i["key"]: i for i in ann["items"]}
        self.assertEqual(items["reply"]["value"], 0.75)
        self.assertEqual(items["reply"]["count"], 4)  # the October reply is not counted
        self.assertEqual(items["reply"]["points"], 50)
        self.assertEqual(items["reply"]["label"]["zh"], "24小时内回复邮件")
        self.assertEqual(items["greet"]["status"], "no_data")
        self.assertIsNone(items["greet"]["points"])
        self.assertIsNone(items["greet"]["value"])
        self.assertEqual(items["ring"]["points"], 100)
        # default labels for an item without one, in both languages
        self.assertEqual(items["ring"]["label"]["en"], "Compliance with the standard")
        self.assertEqual(items["ring"]["label"]["zh"], "达标率")
        bob = {i["key"]: i for i in self.full("bob")["items"]}
        self.assertEqual(bob["ring"]["value"], 0.5)
        self.assertEqual(bob["ring"]["points"], 0)
        self.assertFalse(bob["ring"]["below_floor"])  # at the floor is not below it

    def test_05_critical_reason(self):
        eve = self.full("eve")
        greet = eve["items"][1]
        self.assertAlmostEqual(greet["value"], 1 / 3, places=9)
        self.assertTrue(greet["below_floor"])
        self.assertEqual(greet["points"], 0)
        self.assertEqual(eve["items"][0]["points"], 100)  # reply still shown
        self.assertIn("critical item greet", eve["reason"])
        self.assertIn("floor 0.5", eve["reason"])
        self.assertEqual(eve["reason_zh"], "关键项 greet（5秒内接待访客）低于下限：0.333333，下限 0.5；总分记为 0")
        fay = self.full("fay")
        self.assertEqual([i["status"] for i in fay["items"]], ["no_data"] * 3)
        self.assertIn("no item has data", fay["reason"])
        self.assertEqual(fay["reason_zh"], "本期没有任何评分项有数据")
        self.assertIsNone(self.full("cai")["reason_zh"])

    # -- drill-down -----------------------------------------------------------------

    def test_06_drill_down_late_reply(self):
        ann = self.full("ann")
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/0/measurements?result=breached"
                                % ann["id"])
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["items"]), 1)
        m = b["items"][0]
        self.assertEqual(m["subject"], LATE_ANN)
        self.assertEqual(m["step"], "reply")
        self.assertEqual(m["result"], "breached")
        self.assertEqual(m["charged_to"], "ann")
        # received 11-05 02:00Z, sent 11-06 03:00Z: 25 h against 24 h → 1 h over
        self.assertEqual(m["elapsed_ms"], 25 * H)
        self.assertEqual(m["target_ms"], 24 * H)
        self.assertEqual(m["over_ms"], 1 * H)
        self.assertEqual(m["started_at"], "2026-11-05T02:00:00.000Z")
        self.assertEqual(m["done_at"], "2026-11-06T03:00:00.000Z")
        # all four of the item (three met + the late one); the October one is outside
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/0/measurements" % ann["id"])
        self.assertEqual(len(b["items"]), 4)
        # paging
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/0/measurements?limit=3"
                                % ann["id"])
        self.assertEqual(len(b["items"]), 3)
        st, _, b2 = self.sam.get("/api/v1/evaluations/%d/items/0/measurements?limit=3&cursor=%s"
                                 % (ann["id"], b["next_cursor"]))
        self.assertEqual(len(b2["items"]), 1)
        self.assertIsNone(b2["next_cursor"])
        # eve's two late greetings behind the critical item
        eve = self.full("eve")
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/1/measurements?result=breached"
                                % eve["id"])
        self.assertEqual(sorted(m["subject"] for m in b["items"]), sorted(LATE_EVE))
        self.assertEqual({m["over_ms"] for m in b["items"]}, {2000})
        # bad item / result
        st, _, _ = self.sam.get("/api/v1/evaluations/%d/items/3/measurements" % ann["id"])
        self.assertEqual(st, 404)
        st, _, _ = self.sam.get("/api/v1/evaluations/%d/items/x/measurements" % ann["id"])
        self.assertEqual(st, 404)
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/0/measurements?result=late"
                                % ann["id"])
        self.assertEqual(st, 422, b)

    # -- states, visibility, comments, freeze ----------------------------------------

    def test_07_states(self):
        ann = self.evals()["ann"]
        bob = self.evals()["bob"]
        # agents see nothing while draft
        self.assertEqual(self.evals(self.ann), {})
        st, _, _ = self.ann.get("/api/v1/evaluations/%d" % ann["id"])
        self.assertEqual(st, 404)
        # freeze before publish: 409, nothing written
        before = counts(self.srv)
        st, _, b = self.sam.post("/api/v1/evaluations/%d/freeze" % ann["id"], {})
        self.assertEqual(st, 409, b)
        self.assertEqual(counts(self.srv), before)
        st, _, b = self.sam.post("/api/v1/evaluations/%d/publish" % ann["id"], {})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["state"], "published")
        self.assertEqual(b["published_by"], "sam")
        st, _, b = self.sam.post("/api/v1/evaluations/%d/publish" % ann["id"], {})
        self.assertEqual(st, 409, b)
        # ann sees her own, not bob's (still draft) nor, once published, bob's
        mine = self.evals(self.ann)
        self.assertEqual(list(mine), ["ann"])
        st, _, b = self.ann.get("/api/v1/evaluations/%d" % ann["id"])
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["items"]), 3)
        self.sam.post("/api/v1/evaluations/%d/publish" % bob["id"], {})
        st, _, _ = self.ann.get("/api/v1/evaluations/%d" % bob["id"])
        self.assertEqual(st, 404)
        self.assertEqual(list(self.evals(self.ann, "period=2026-11&user=bob")), [])
        # ann may drill into her own published item, not bob's
        st, _, b = self.ann.get("/api/v1/evaluations/%d/items/0/measurements?result=breached"
                                % ann["id"])
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["items"]), 1)
        st, _, _ = self.ann.get("/api/v1/evaluations/%d/items/0/measurements" % bob["id"])
        self.assertEqual(st, 404)
        # comments: ann on hers; not on bob's; empty body refused; nothing written on errors
        before = counts(self.srv)
        st, _, b = self.ann.post("/api/v1/evaluations/%d/comments" % bob["id"], {"body": "hi"})
        self.assertEqual(st, 404, b)
        st, _, b = self.ann.post("/api/v1/evaluations/%d/comments" % ann["id"], {"body": ""})
        self.assertEqual(st, 422, b)
        self.assertEqual(b["errors"][0]["pointer"], "/body")
        st, _, b = self.ann.post("/api/v1/evaluations/%d/comments" % ann["id"], raw=b"{nope",
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        self.assertEqual(counts(self.srv), before)
        st, _, b = self.ann.post("/api/v1/evaluations/%d/comments" % ann["id"],
                                 {"body": "The late reply on 5 Nov waited on 工程部."})
        self.assertEqual(st, 201, b)
        self.assertEqual(b["author"], "ann")
        st, _, b = self.sam.post("/api/v1/evaluations/%d/comments" % ann["id"],
                                 {"body": "Noted; it still counts."})
        self.assertEqual(st, 201, b)
        st, _, b = self.ann.get("/api/v1/evaluations/%d" % ann["id"])
        self.assertEqual([c["author"] for c in b["comments"]], ["ann", "sam"])
        # freeze (signed off by sam)
        st, _, b = self.sam.post("/api/v1/evaluations/%d/freeze" % ann["id"], {})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["state"], "frozen")
        self.assertEqual(b["frozen_by"], "sam")
        audit = self.srv.sql("select action, actor from audit where entity = 'evaluation' and "
                             "entity_id = %d order by id" % ann["id"])
        self.assertEqual([a["action"] for a in audit],
                         ["publish", "comment", "comment", "freeze"])
        self.assertEqual(audit[-1]["actor"], "sam")
        # frozen: no comments, no recompute (nothing written)
        before = counts(self.srv)
        st, _, b = self.ann.post("/api/v1/evaluations/%d/comments" % ann["id"], {"body": "x"})
        self.assertEqual(st, 409, b)
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month"})
        self.assertEqual(st, 409, b)
        self.assertIn("frozen", b["detail"])
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month", "user": "ann"})
        self.assertEqual(st, 409, b)
        st, _, b = self.sam.post("/api/v1/evaluations/%d/publish" % ann["id"], {})
        self.assertEqual(st, 409, b)
        self.assertEqual(counts(self.srv), before)
        # skip_frozen recomputes the others and leaves the frozen one as it was
        frozen = self.srv.sql("select * from evaluations where id = %d" % ann["id"])[0]
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month",
                                  "skip_frozen": True})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["computed"], 5)
        self.assertEqual(b["kept_frozen"], 1)
        self.assertEqual(self.srv.sql("select * from evaluations where id = %d" % ann["id"])[0],
                         frozen)
        e = self.evals()
        self.assertEqual(e["bob"]["state"], "published")  # recompute keeps the state
        self.assertEqual(e["cai"]["rank"]["role"], 1)
        # the frozen one is still visible to ann
        self.assertEqual(self.evals(self.ann)["ann"]["state"], "frozen")

    # -- rejected computes -------------------------------------------------------------

    def test_08_compute_rejected(self):
        before = counts(self.srv)
        for body, ptr in (({"template": "agent-month"}, "/period"),
                          ({"period": "2026-13", "template": "agent-month"}, "/period"),
                          ({"period": "2026-11"}, "/template"),
                          ({"period": "2026-11", "template": "nonesuch"}, "/template"),
                          ({"period": "2026-11", "template": "agent-month", "user": "nobody"},
                           "/user"),
                          ({"period": "2026-11", "template": "agent-month", "user": "sam"},
                           "/user"),
                          ({"period": "2026-11", "template": "agent-month",
                            "skip_frozen": "yes"}, "/skip_frozen")):
            st, _, b = self.sam.post("/api/v1/evaluations/compute", body)
            self.assertEqual(st, 422, (body, b))
            self.assertIn(ptr, [e["pointer"] for e in b["errors"]], b)
        st, _, b = self.ann.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month"})
        self.assertEqual(st, 403, b)
        self.assertEqual(counts(self.srv), before)
        st, _, b = self.sam.get("/api/v1/evaluations?period=11-2026")
        self.assertEqual(st, 422, b)
        st, _, b = self.sam.get("/api/v1/evaluations?state=done")
        self.assertEqual(st, 422, b)

    def test_09_week_and_quarter(self):
        # ISO week 45 of 2026 is Mon 2 – Sun 8 November (computed for ann only).
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-W45", "template": "agent-month",
                                  "user": "ann"})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["from"], b["to"]), ("2026-11-02", "2026-11-08"))
        e = self.evals(query="period=2026-W45")
        # W45 = 2–8 Nov: ann's replies 2, 3, 4 Nov met and 5 Nov late → 3/4 → 50; calls 2/2
        self.assertAlmostEqual(e["ann"]["score"], 66.67, places=2)
        self.assertEqual(list(e), ["ann"])

    # -- exports -------------------------------------------------------------------

    def test_10_export_csv(self):
        # a display name a spreadsheet would run as a formula is exported as text
        self.srv.sql_write("update evaluations set display_name = '=1+2' where username = 'fay'"
                           " and period = '2026-11'")
        st, h, raw = self.sam.get("/api/v1/evaluations/export?period=2026-11&format=csv")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        text = raw.decode() if isinstance(raw, bytes) else raw
        rows = list(csv.DictReader(io.StringIO(text)))
        by = {r["username"]: r for r in rows}
        self.assertEqual(sorted(by), ["ann", "bob", "cai", "dan", "eve", "fay"])
        self.assertEqual(float(by["cai"]["score"]), 100)
        self.assertAlmostEqual(float(by["dan"]["score"]), 33.33, places=2)
        self.assertEqual(by["fay"]["score"], "")
        self.assertEqual(by["fay"]["display_name"], "'=1+2")
        self.assertEqual(by["eve"]["status"], "zeroed")
        self.assertEqual(by["bob"]["rank_role"], "2")
        st, _, raw = self.sam.get("/api/v1/evaluations/export?period=2026-11&detail=items")
        text = raw.decode() if isinstance(raw, bytes) else raw
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(len(rows), 18)
        late = [r for r in rows if r["username"] == "ann" and r["key"] == "reply"][0]
        self.assertEqual(float(late["value"]), 0.75)
        self.assertEqual(late["label_zh"], "24小时内回复邮件")
        before = counts(self.srv)
        st, _, b = self.sam.get("/api/v1/evaluations/export?period=2026-11&format=pdf")
        self.assertEqual(st, 422, b)
        st, _, b = self.ann.get("/api/v1/evaluations/export?period=2026-11")
        self.assertEqual(st, 403, b)
        self.assertEqual(counts(self.srv), before)

    def test_11_export_xlsx(self):
        openpyxl = load_openpyxl()
        st, h, raw = raw_get(self.sam, "/api/v1/evaluations/export?period=2026-11&format=xlsx")
        self.assertEqual(st, 200)
        self.assertIn("spreadsheetml", h["content-type"])
        self.assertIn("scorecards-2026-11.xlsx", h["content-disposition"])
        wb = openpyxl.load_workbook(io.BytesIO(raw))
        self.assertEqual(wb.sheetnames, ["Evaluations", "Items"])
        ws = wb["Evaluations"]
        head = [c.value for c in ws[1]]
        rows = [dict(zip(head, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
        by = {r["username"]: r for r in rows}
        self.assertEqual(by["cai"]["score"], 100)  # a number, not text
        self.assertAlmostEqual(by["ann"]["score"], 66.67, places=2)
        self.assertEqual(by["eve"]["score"], 0)
        self.assertIsNone(by["fay"]["score"])
        self.assertEqual(by["dan"]["rank_team"], 1)
        wi = wb["Items"]
        head = [c.value for c in wi[1]]
        items = [dict(zip(head, [c.value for c in r])) for r in wi.iter_rows(min_row=2)]
        self.assertEqual(len(items), 18)
        g = [i for i in items if i["username"] == "eve" and i["key"] == "greet"][0]
        self.assertTrue(g["below_floor"])
        self.assertEqual(g["label_zh"], "5秒内接待访客")

    def test_12_cli_report(self):
        openpyxl = load_openpyxl()
        out = os.path.join(tempfile.mkdtemp(), "nov.xlsx")
        self.srv.cli("report", "scorecard", "--period", "2026-11", "--format", "xlsx",
                     "--template", "agent-month", "--out", out)
        wb = openpyxl.load_workbook(out)
        names = sorted(r[3].value for r in wb["Evaluations"].iter_rows(min_row=2))
        self.assertEqual(names, ["ann", "bob", "cai", "dan", "eve", "fay"])
        p = self.srv.cli("report", "scorecard", "--period", "2026-11", "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(p.stdout)))
        self.assertEqual(len(rows), 6)
        p = self.srv.cli("report", "scorecard", "--period", "2026-14", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("period", p.stderr)
        p = self.srv.cli("report", "scorecard", "--period", "2026-11", "--format", "pdf",
                         check=False)
        self.assertEqual(p.returncode, 2)

    # -- digests ---------------------------------------------------------------------

    def test_13_digests(self):
        st, _, b = self.sam.get("/api/v1/digests?period=2026-11")
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["items"]), 1)
        d = b["items"][0]
        self.assertEqual(d["team"], "hotline")
        self.assertEqual(d["supervisor"]["username"], "sam")
        self.assertEqual(d["summary"]["people"], 3)
        # mean of 66.67, 66.67, 100 = 233.33/3 = 77.78
        self.assertAlmostEqual(d["summary"]["mean"], 77.78, places=2)
        self.assertEqual([s["username"] for s in d["scores"]], ["cai", "ann", "bob"])
        self.assertIn("zh", d["title"])
        # weakest item of hotline: reply (50, 100, 100 → 83.33) vs ring (100, 0, 100 → 66.67)
        self.assertEqual(d["worst_items"][0]["key"], "ring")
        self.assertAlmostEqual(d["worst_items"][0]["mean_points"], 66.67, places=2)
        self.assertIsNone(d["delivered_at"])
        st, _, b = self.adm.get("/api/v1/digests?period=2026-11")
        teams = sorted(x["team"] for x in b["items"])
        self.assertEqual(teams, ["care", "hotline"])
        care = [x for x in b["items"] if x["team"] == "care"][0]
        self.assertEqual(care["summary"], {"people": 3, "scored": 2, "zeroed": 1, "no_data": 1,
                                           "mean": 16.67})
        st, _, b = self.sam.get("/api/v1/digests?period=nov")
        self.assertEqual(st, 422, b)
        st, _, b = self.ann.get("/api/v1/digests")
        self.assertEqual(st, 403, b)

    # -- templates -------------------------------------------------------------------

    def test_14_templates(self):
        st, h, b = self.ann.get("/api/v1/scorecards/templates/%d" % self.tid)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["items"][1]["critical"], True)
        self.assertEqual(b["items"][0]["direction"], "higher")  # from the indicator
        st, _, b = self.ann.get("/api/v1/scorecards/indicators")
        self.assertEqual(st, 200, b)
        comp = [i for i in b["items"] if i["name"] == "compliance"][0]
        self.assertEqual(comp["direction"], "higher")
        self.assertEqual(comp["label"]["zh"], "达标率")
        before = counts(self.srv)
        bad = {"name": "Bad Name", "role": "chief", "period": "year", "extra": 1,
               "items": [{"indicator": "nonesuch", "floor": 0.5, "target": 1},
                         {"indicator": "compliance", "floor": 0.9, "target": 0.8},
                         {"indicator": "compliance", "floor": 1, "target": 2, "weight": 0,
                          "critical": "yes", "filter": {"process": "nonesuch", "queue": "x"}},
                         {"indicator": "compliance", "target": 1, "direction": "up"}]}
        st, _, b = self.adm.post("/api/v1/scorecards/templates", bad)
        self.assertEqual(st, 422, b)
        ptrs = sorted(e["pointer"] for e in b["errors"])
        self.assertEqual(ptrs, sorted(["/name", "/role", "/period", "/extra",
                                       "/items/0/indicator", "/items/1/target",
                                       "/items/2/weight", "/items/2/critical",
                                       "/items/2/filter/process", "/items/2/filter/queue",
                                       "/items/3/floor", "/items/3/direction"]))
        st, _, b = self.adm.post("/api/v1/scorecards/templates", {**TEMPLATE})
        self.assertEqual(st, 409, b)
        st, _, b = self.sam.post("/api/v1/scorecards/templates", {**TEMPLATE, "name": "x"})
        self.assertEqual(st, 403, b)
        self.assertEqual(counts(self.srv), before)
        # lower is better: elapsed items with floor above target; a process by name
        procs = self.srv.sql("select id, name from processes order by id")
        low = {"name": "agent-speed", "role": "agent", "auto": False,
               "items": [{"indicator": "elapsed_mean", "floor": 60000, "target": 20000,
                          "filter": {"process": procs[0]["name"]}}]}
        st, h, b = self.adm.post("/api/v1/scorecards/templates", low)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["items"][0]["direction"], "lower")
        self.assertEqual(b["items"][0]["filter"]["process"], procs[0]["id"])
        # replace needs If-Match; stale is 412; delete likewise
        before = counts(self.srv)
        r = self.adm.req("PUT", "/api/v1/scorecards/templates/%d" % b["id"], low)
        self.assertEqual(r.status, 428)
        r = self.adm.req("PUT", "/api/v1/scorecards/templates/%d" % b["id"], low,
                         headers={"If-Match": '"7"'})
        self.assertEqual(r.status, 412)
        self.assertEqual(counts(self.srv), before)
        low["items"][0]["weight"] = 3
        r = self.adm.req("PUT", "/api/v1/scorecards/templates/%d" % b["id"], low,
                         headers={"If-Match": h["etag"]})
        self.assertEqual(r.status, 200, r)
        st, h2, b2 = self.adm.get("/api/v1/scorecards/templates/%d" % b["id"])
        self.assertEqual(b2["items"][0]["weight"], 3)
        self.assertEqual(b2["version"], 2)
        r = self.adm.req("DELETE", "/api/v1/scorecards/templates/%d" % b["id"],
                         headers={"If-Match": h2["etag"]})
        self.assertEqual(r.status, 204)
        st, _, _ = self.adm.get("/api/v1/scorecards/templates/%d" % b["id"])
        self.assertEqual(st, 404)
        actions = [a["action"] for a in self.srv.sql(
            "select action from audit where entity = 'score_template' and entity_id = %d "
            "order by id" % b["id"])]
        self.assertEqual(actions, ["create", "update", "delete"])

    # -- a whole period at once, and the change against the previous period -----------

    def test_15_bulk_and_previous(self):
        # October: only ann's reply of 30 Oct, sent 27 h later → reply 0/1 → 0 points;
        # the other items have no data, so her total is 0 (scored, not zeroed: reply is not
        # critical); everyone else has no data.
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-10", "template": "agent-month"})
        self.assertEqual(st, 200, b)
        oct_ = self.evals(query="period=2026-10")
        self.assertEqual(oct_["ann"]["score"], 0)
        self.assertEqual(oct_["ann"]["status"], "scored")
        self.assertEqual(oct_["bob"]["status"], "no_data")
        before = counts(self.srv)
        for body, ptr in (({"template": "agent-month"}, "/period"),
                          ({"period": "2026-10", "template": 999}, "/template"),
                          ({"period": "2026-10", "template": "agent-month", "team": 7}, "/team")):
            st, _, b = self.sam.post("/api/v1/evaluations/publish", body)
            self.assertEqual(st, 422, b)
            self.assertEqual(b["errors"][0]["pointer"], ptr)
        st, _, b = self.ann.post("/api/v1/evaluations/publish",
                                 {"period": "2026-10", "template": "agent-month"})
        self.assertEqual(st, 403, b)
        self.assertEqual(counts(self.srv), before)
        st, _, b = self.sam.post("/api/v1/evaluations/publish",
                                 {"period": "2026-10", "template": "agent-month",
                                  "team": "hotline"})
        self.assertEqual((st, b["changed"]), (200, 3), b)
        st, _, b = self.sam.post("/api/v1/evaluations/freeze",
                                 {"period": "2026-10", "template": "agent-month"})
        self.assertEqual((st, b["changed"]), (200, 3), b)  # only the published ones
        st, _, b = self.sam.post("/api/v1/evaluations/publish",
                                 {"period": "2026-10", "template": "agent-month"})
        self.assertEqual((st, b["changed"]), (200, 3), b)  # the care team's drafts
        st, _, b = self.sam.post("/api/v1/evaluations/publish",
                                 {"period": "2026-10", "template": "agent-month"})
        self.assertEqual((st, b["changed"]), (200, 0), b)
        states = {e["user"]["username"]: e["state"]
                  for e in self.evals(query="period=2026-10").values()}
        self.assertEqual(states, {"ann": "frozen", "bob": "frozen", "cai": "frozen",
                                  "dan": "published", "eve": "published", "fay": "published"})
        n = self.srv.sql("select count(*) n from audit where entity = 'evaluation' and "
                         "action = 'freeze'")[0]["n"]
        self.assertGreaterEqual(n, 3)
        # November against October: ann 66.67 now, 0 before → +66.67; bob had no score
        ann = self.full("ann")
        self.assertEqual(ann["previous"], {"period": "2026-10", "score": 0, "change": 66.67})
        bob = self.full("bob")
        self.assertEqual(bob["previous"], {"period": "2026-10", "score": None, "change": None})

    def test_16_team_scope(self):
        # A team lead's scorecard measures the team (charged_team), not the person. Calls are
        # charged to the queue's team "hotline": ring_at_agent met by ann 2, bob 1, cai 2,
        # breached by bob 1 → 5/6 = 0.8333 → (0.8333 − 0.5)/0.5 = 66.67. The care team has
        # no calls → sue's evaluation has no data.
        lead = {"name": "lead-month", "role": "supervisor", "scope": "team", "auto": False,
                "items": [{"key": "ring", "indicator": "compliance",
                           "filter": {"step": "ring_at_agent"}, "floor": 0.5, "target": 1.0}]}
        st, _, b = self.adm.post("/api/v1/scorecards/templates", lead)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["scope"], "team")
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "lead-month"})
        self.assertEqual((st, b["computed"]), (200, 2), b)
        e = self.evals(query="period=2026-11&template=lead-month")
        self.assertEqual(sorted(e), ["sam", "sue"])
        self.assertAlmostEqual(e["sam"]["score"], 66.67, places=2)
        self.assertEqual(e["sue"]["status"], "no_data")
        st, _, b = self.sam.get("/api/v1/evaluations/%d/items/0/measurements?result=breached"
                                % e["sam"]["id"])
        self.assertEqual(st, 200, b)
        self.assertEqual([m["charged_to"] for m in b["items"]], ["bob"])
        self.assertEqual(b["items"][0]["charged_team"], "hotline")
        st, _, b = self.adm.post("/api/v1/scorecards/templates",
                                 dict(lead, name="bad-scope", scope="desk"))
        self.assertEqual(st, 422, b)
        self.assertEqual(b["errors"][0]["pointer"], "/scope")

    def test_17_dry_run(self):
        # Two late replies arrive for November (20 Nov): bob 4/5 = 0.8 → 60 points, total
        # (2×60 + 0)/3 = 40 (−26.67); ann, frozen, would get 3/5 = 0.6 → 20, total
        # (2×20 + 100)/3 = 46.67 (−20). A dry run shows both, ann flagged frozen, and writes
        # nothing; the others are unchanged.
        w = self.srv.client(self.srv.token("ada", "events:write,kpi:read"))
        late = [ev("email.received", "email:late-bob", iso(20, 2)),
                ev("email.sent", "email:late-bob", iso(21, 3), actor="bob"),
                ev("email.received", "email:late-ann", iso(20, 2)),
                ev("email.sent", "email:late-ann", iso(21, 3), actor="ann")]
        st, _, b = w.post("/api/v1/events", {"events": late})
        self.assertEqual(st, 201, b)
        wait_folded(self.srv, w)
        before = counts(self.srv)
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month",
                                  "dry_run": True})
        self.assertEqual(st, 200, b)
        self.assertTrue(b["dry_run"])
        ch = {c["username"]: c for c in b["changes"]}
        self.assertEqual(sorted(ch), ["ann", "bob"])
        self.assertEqual((ch["bob"]["before"], ch["bob"]["after"], ch["bob"]["change"]),
                         (66.67, 40, -26.67))
        self.assertEqual(ch["bob"]["state"], "published")
        self.assertFalse(ch["bob"]["frozen"])
        self.assertEqual((ch["ann"]["after"], ch["ann"]["change"]), (46.67, -20))
        self.assertTrue(ch["ann"]["frozen"])
        self.assertEqual(b["unchanged"], 4)
        self.assertEqual(counts(self.srv), before)
        self.assertAlmostEqual(self.evals()["bob"]["score"], 66.67, places=2)
        st, _, b = self.sam.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "agent-month",
                                  "dry_run": "yes"})
        self.assertEqual(st, 422, b)


class TestCustomerTagItems(unittest.TestCase):
    """An item limited to one customer tag scores only the measurements of customers with
    that tag. Customer 1 is tagged vip. November e-mails (reply within 24 h):
      ann: vip 1 met + 1 late, others 2 met;  bob: vip 1 met, others 1 late.
    Items (floor 0.5, target 1.0, weight 1 each): "all" = reply compliance, "vip" = the same
    for customer_tag vip.
      ann: all 3/4 = 0.75 → (0.75 − 0.5)/0.5 = 50;  vip 1/2 = 0.5 → 0;    total 25
      bob: all 1/2 = 0.5  → 0;                      vip 1/1 = 1.0 → 100; total 50"""

    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.cli("team", "add", "care")
        srv.add_user("ada", "admin")
        srv.add_user("sue", "supervisor", team="care")
        for u in ("ann", "bob"):
            srv.add_user(u, "agent", team="care")
        cls.adm = srv.login("ada")
        cls.sue = srv.login("sue")
        st, _, c = cls.adm.post("/api/v1/customers", {"kind": "person", "name": "VIP 王",
                                                      "tags": ["vip"]})
        assert st == 201, c
        cid = str(c["id"])
        evs, n = [], 0
        for who, day, late, vip in (("ann", 2, False, True), ("ann", 3, True, True),
                                    ("ann", 4, False, False), ("ann", 5, False, False),
                                    ("bob", 2, False, True), ("bob", 3, True, False)):
            n += 1
            s = "email:tag%d" % n
            e = ev("email.received", s, iso(day, 2))
            if vip:
                e["customer"] = cid
            evs.append(e)
            evs.append(ev("email.sent", s, iso(day + 1, 3) if late else iso(day, 4), actor=who))
        w = srv.client(srv.token("ada", "events:write,kpi:read"))
        st, _, b = w.post("/api/v1/events", {"events": evs})
        assert st == 201, b
        wait_folded(srv, w)
        cls.template = {"name": "vip-month", "role": "agent", "period": "month", "auto": False,
                        "items": [{"key": "all", "indicator": "compliance",
                                   "filter": {"step": "reply"}, "floor": 0.5, "target": 1.0},
                                  {"key": "vip", "indicator": "compliance",
                                   "filter": {"step": "reply", "customer_tag": "vip"},
                                   "floor": 0.5, "target": 1.0}]}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_scores(self):
        st, _, t = self.adm.post("/api/v1/scorecards/templates", self.template)
        self.assertEqual(st, 201, t)
        self.assertEqual(t["items"][1]["filter"], {"step": "reply", "customer_tag": "vip"})
        st, _, b = self.sue.post("/api/v1/evaluations/compute",
                                 {"period": "2026-11", "template": "vip-month"})
        self.assertEqual(st, 200, b)
        st, _, b = self.sue.get("/api/v1/evaluations?period=2026-11&template=vip-month")
        self.assertEqual(st, 200, b)
        got = {e["user"]["username"]: e for e in b["items"]}
        self.assertAlmostEqual(got["ann"]["score"], 25, places=2)
        self.assertAlmostEqual(got["bob"]["score"], 50, places=2)
        st, _, e = self.sue.get("/api/v1/evaluations/%d" % got["ann"]["id"])
        self.assertEqual(st, 200, e)
        items = {i["key"]: i for i in e["items"]}
        self.assertEqual((items["all"]["value"], items["vip"]["value"]), (0.75, 0.5))
        self.assertEqual(items["vip"]["filter"], {"step": "reply", "customer_tag": "vip"})
        # Drill-down: the vip item is ann's two VIP e-mails (tag1 met, tag2 late), the "all"
        # item her four; breached vip: just tag2. One per page: tag1, then tag2, then none.
        base = "/api/v1/evaluations/%d/items/%%d/measurements" % got["ann"]["id"]
        st, _, b = self.sue.get(base % 1)
        self.assertEqual(st, 200, b)
        self.assertEqual(sorted(m["subject"] for m in b["items"]), ["email:tag1", "email:tag2"])
        st, _, b = self.sue.get(base % 0)
        self.assertEqual(len(b["items"]), 4)
        st, _, b = self.sue.get(base % 1 + "?result=breached")
        self.assertEqual([m["subject"] for m in b["items"]], ["email:tag2"])
        st, _, b = self.sue.get(base % 1 + "?limit=1")
        self.assertEqual(([m["subject"] for m in b["items"]], st), (["email:tag1"], 200), b)
        st, _, b2 = self.sue.get(base % 1 + "?limit=1&cursor=" + b["next_cursor"])
        self.assertEqual([m["subject"] for m in b2["items"]], ["email:tag2"])

    def test_rejected_filters_write_nothing(self):
        before = self.srv.sql("select count(*) as n from score_templates")[0]["n"]
        for bad, why in (("", "empty"), (7, "not a string"), ("x" * 33, "too long")):
            doc = dict(self.template, name="bad-tag")
            doc["items"] = [dict(self.template["items"][1],
                                 filter={"step": "reply", "customer_tag": bad})]
            st, _, b = self.adm.post("/api/v1/scorecards/templates", doc)
            self.assertEqual(st, 422, (why, b))
            self.assertEqual([e["pointer"] for e in b["errors"]],
                             ["/items/0/filter/customer_tag"], why)
        doc = dict(self.template, name="bad-key")
        doc["items"] = [dict(self.template["items"][1], filter={"case_tag": "vip"})]
        st, _, b = self.adm.post("/api/v1/scorecards/templates", doc)
        self.assertEqual(st, 422, b)
        self.assertIn("customer_tag", b["errors"][0]["detail"])
        self.assertEqual(self.srv.sql("select count(*) as n from score_templates")[0]["n"],
                         before)


class TestAutoCompute(unittest.TestCase):
    """The period-end check: at start (then once a minute) serve computes the last ended
    period of every auto template that has no evaluation for it yet."""

    def test_last_month_computed_at_start(self):
        srv = Server()
        try:
            srv.cli("team", "add", "hotline")
            srv.add_user("ada", "admin")
            srv.add_user("ann", "agent", team="hotline")
            adm = srv.login("ada")
            st, _, b = adm.post("/api/v1/scorecards/templates", TEMPLATE)
            self.assertEqual(st, 201, b)
            manual = dict(TEMPLATE, name="manual", auto=False)
            st, _, b = adm.post("/api/v1/scorecards/templates", manual)
            self.assertEqual(st, 201, b)
            self.assertEqual(srv.sql("select count(*) n from evaluations")[0]["n"], 0)
            srv.stop()
            srv.start()
            # today is in November 2026 or later: the last ended month is the one before
            t = time.gmtime(time.time() + 8 * 3600)
            y, m = (t.tm_year, t.tm_mon - 1) if t.tm_mon > 1 else (t.tm_year - 1, 12)
            want = "%04d-%02d" % (y, m)
            deadline = time.time() + 20
            rows = []
            while time.time() < deadline:
                rows = srv.sql("select e.period, e.username, e.status, t.name from evaluations e"
                               " join score_templates t on t.id = e.template_id")
                if rows:
                    break
                time.sleep(0.1)
            self.assertEqual(rows, [{"period": want, "username": "ann", "status": "no_data",
                                     "name": "agent-month"}])
            # restarting again computes nothing new
            srv.stop()
            srv.start()
            time.sleep(1)
            self.assertEqual(srv.sql("select count(*) n from evaluations")[0]["n"], 1)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
