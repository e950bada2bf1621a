"""test_recompute.py — recompute history after a calendar change, end to end.

A calendar "Test" (Asia/Shanghai, Monday–Friday 09:00–18:00: 9 working hours a day) and a
process "Email BH" on it: every customer email replied within 24 BUSINESS hours, charged to
whoever replied. Four emails in the week of Monday 2026-11-02 (times in Shanghai, UTC+8):

  A  ann  in Mon 02 09:00, out Wed 04 11:00   Mon 9 + Tue 9 + Wed 2        = 20 bh  met
  B  bob  in Mon 02 09:00, out Thu 05 12:00   Mon 9 + Tue 9 + Wed 9 + Thu 3 = 30 bh  breached
  C  ann  in Thu 05 09:00, out Fri 06 15:00   Thu 9 + Fri 6                = 15 bh  met
  D  cai  in Mon 02 10:00, out Thu 05 13:00   Mon 8 + Tue 9 + Wed 9 + Thu 4 = 30 bh  breached

A scorecard "agent-bh" with one item, compliance of Email BH/reply, floor 0, target 1, so
score = compliance × 100: ann 2/2 → 100, bob 0/1 → 0, cai 0/1 → 0. bob's evaluation is
published and frozen.

Then Tuesday 2026-11-03 becomes a holiday ("2026 OFF 11-03"). Applied from a date (the
default), nothing measured changes. Recomputed for November:

  A  Mon 9 + Tue 0 + Wed 2         = 11 bh  met       (elapsed changed)
  B  Mon 9 + Tue 0 + Wed 9 + Thu 3 = 21 bh  met       (breached → met)
  C  unchanged (15 bh, met)
  D  Mon 8 + Tue 0 + Wed 9 + Thu 4 = 21 bh  met       (breached → met)

so 4 compared, 3 changed, 2 results flipped breached→met, 3 elapsed changed; evaluations:
ann 100 → 100 (unchanged), bob 0 → 100 (frozen: will not change, diff recorded),
cai 0 → 100 (+100, recomputed).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, wait_folded  # noqa: E402

H = 3600 * 1000
FROM, TO = "2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00"

CALENDAR = {
    "name": "Test",
    "time_zone": "Asia/Shanghai",
    "versions": [{
        "effective_from": "2026-01-01",
        "ring_ms": 5000,
        "week": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    }],
}

PROCESS = {
    "name": "Email BH",
    "calendar": "Test",
    "trigger": {"type": "email.received"},
    "steps": [{
        "key": "reply",
        "title": {"en": "Reply within 24 business hours", "zh": "24个工作小时内回复"},
        "function": "reply",
        "repeat": True,
        "starts_on": {"type": "email.received"},
        "done_on": {"type": "email.sent"},
        "standard": {"within": "24h", "time": "business"},
        "charge_to": "actor",
    }],
}

# (subject, replier, received UTC, sent UTC): Shanghai 09:00 = 01:00Z.
EMAILS = [
    ("email:a", "ann", "2026-11-02T01:00:00Z", "2026-11-04T03:00:00Z"),
    ("email:b", "bob", "2026-11-02T01:00:00Z", "2026-11-05T04:00:00Z"),
    ("email:c", "ann", "2026-11-05T01:00:00Z", "2026-11-06T07:00:00Z"),
    ("email:d", "cai", "2026-11-02T02:00:00Z", "2026-11-05T05:00:00Z"),
]

TEMPLATE = {
    "name": "agent-bh",
    "title": {"en": "Email replies", "zh": "邮件回复"},
    "role": "agent",
    "period": "month",
    "items": [{"key": "reply", "indicator": "compliance",
               "filter": {"process": "Email BH", "step": "reply"},
               "weight": 1, "floor": 0, "target": 1}],
}


class TestRecompute(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.add_user("ada", "admin")
        srv.add_user("sam", "supervisor")
        for u in ("ann", "bob", "cai"):
            srv.add_user(u, "agent")
        cls.adm = srv.login("ada")
        cls.sam = srv.login("sam")
        cls.ann = srv.login("ann")
        st, _, b = cls.adm.post("/api/v1/calendars", CALENDAR)
        assert st == 201, b
        cls.cal = b["id"]
        st, _, b = cls.adm.post("/api/v1/processes", PROCESS)
        assert st == 201, b
        cls.pid = b["id"]
        st, _, b = cls.adm.post("/api/v1/processes/%d/publish" % cls.pid, {})
        assert st == 201, b
        # Published "now" (2026-11-29 or later) it would not be in force for emails of
        # 2026-11-02: date it back to October, then make the runtime reload its definitions
        # (a calendar created changes their signature).
        srv.sql_write("update process_versions set published_at = 1790812800000,"
                      " document = json_set(document, '$.published_at',"
                      " '2026-10-01T00:00:00.000Z') where process_id = %d" % cls.pid)
        st, _, b = cls.adm.post("/api/v1/calendars", dict(CALENDAR, name="Other"))
        assert st == 201, b
        evs = []
        for subj, who, tin, tout in EMAILS:
            evs.append({"type": "email.received", "subject": subj, "occurred_at": tin,
                        "source": "test", "source_id": subj + "/in"})
            evs.append({"type": "email.sent", "subject": subj, "occurred_at": tout,
                        "actor": who, "source": "test", "source_id": subj + "/out"})
        w = srv.client(srv.token("ada", "events:write,kpi:read"))
        st, _, b = w.post("/api/v1/events", {"events": evs})
        assert st == 201, b
        wait_folded(srv, w)
        st, _, b = cls.adm.post("/api/v1/scorecards/templates", TEMPLATE)
        assert st == 201, b
        st, _, b = cls.sam.post("/api/v1/evaluations/compute",
                                {"period": "2026-11", "template": "agent-bh"})
        assert st == 200, b
        ev = cls.evals()
        cls.bob_eval = ev["bob"]["id"]
        for step in ("publish", "freeze"):
            st, _, b = cls.sam.post("/api/v1/evaluations/%d/%s" % (cls.bob_eval, step), {})
            assert st == 200, b

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    @classmethod
    def evals(cls):
        rows = cls.srv.sql("select id, username, score, state, version from evaluations"
                           " where period = '2026-11'")
        return {r["username"]: r for r in rows}

    def meas(self):
        rows = self.srv.sql("select subject, result, elapsed_ms from measurements"
                            " where process_id = %d order by subject" % self.pid)
        return {r["subject"]: (r["result"], r["elapsed_ms"]) for r in rows}

    def state(self):
        """Everything a recompute may write, to check that nothing was."""
        return self.srv.sql(
            "select (select count(*) from audit) audit,"
            " (select count(*) from recompute_runs) runs,"
            " (select count(*) from recompute_diffs) diffs,"
            " (select group_concat(id || ':' || coalesce(score, '-') || ':' || version, ',')"
            "  from evaluations) evals,"
            " (select group_concat(subject || ':' || result || ':' || elapsed_ms, ',')"
            "  from measurements) meas,"
            " (select coalesce(sum(updated_at), 0) from measurements) mt")[0]

    def recompute(self, body, c=None):
        return (c or self.adm).post("/api/v1/recompute", body)

    def test_recompute(self):
        # Measured before the change (24 bh = 86,400,000 ms of working time).
        self.assertEqual(self.meas(), {
            "email:a": ("met", 20 * H), "email:b": ("breached", 30 * H),
            "email:c": ("met", 15 * H), "email:d": ("breached", 30 * H)})
        e = self.evals()
        self.assertEqual((e["ann"]["score"], e["bob"]["score"], e["cai"]["score"]),
                         (100, 0, 0))
        self.assertEqual(e["bob"]["state"], "frozen")

        # The holiday, applied from a date: history stays as measured.
        st, h, b = self.adm.req("GET", "/api/v1/calendars/%d" % self.cal)
        r = self.adm.req("POST", "/api/v1/calendars/%d/holidays" % self.cal,
                         raw=b"2026 OFF 11-03\n", headers={"Content-Type": "text/plain"})
        self.assertIn(r.status, (200, 201), r)
        w = self.srv.client(self.srv.token("ada", "kpi:read"))
        wait_folded(self.srv, w)
        self.assertEqual(self.meas()["email:b"], ("breached", 30 * H))

        # Dry run: the diff report, nothing written.
        before = self.state()
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.state(), before, "the dry run wrote something")
        j = r.json
        self.assertTrue(j["dry_run"])
        self.assertEqual(j["calendar"], {"id": self.cal, "name": "Test"})
        self.assertEqual(j["processes"], [self.pid])
        self.assertEqual(j["subjects"], 4)
        m = j["measurements"]
        self.assertEqual((m["compared"], m["changed"], m["result_changed"], m["elapsed_changed"]),
                         (4, 3, 2, 3))
        self.assertEqual(m["flips"], {"breached→met": 2})
        ex = {x["subject"]: x for x in m["examples"]}
        self.assertEqual(sorted(ex), ["email:a", "email:b", "email:d"])
        # Each side: result, elapsed, the target (24 bh, unchanged by a holiday), who is
        # charged and the version measured under.
        self.assertEqual(ex["email:a"]["before"], {"result": "met", "elapsed_ms": 20 * H,
                                                   "target_ms": 24 * H, "charged_actor": "ann",
                                                   "version": 1})
        self.assertEqual(ex["email:a"]["after"], {"result": "met", "elapsed_ms": 11 * H,
                                                  "target_ms": 24 * H, "charged_actor": "ann",
                                                  "version": 1})
        self.assertEqual(ex["email:b"]["after"], {"result": "met", "elapsed_ms": 21 * H,
                                                  "target_ms": 24 * H, "charged_actor": "bob",
                                                  "version": 1})
        self.assertEqual((m["target_changed"], m["charge_changed"]), (0, 0))
        self.assertEqual(j["kind"], "calendar")
        self.assertEqual((ex["email:d"]["staff"], ex["email:d"]["after"]["elapsed_ms"]),
                         ("cai", 21 * H))
        ev = j["evaluations"]
        self.assertEqual((ev["changed"], ev["unchanged"], ev["frozen"]), (2, 1, 1))
        items = {x["username"]: x for x in ev["items"]}
        self.assertEqual(sorted(items), ["bob", "cai"])
        self.assertEqual((items["bob"]["before"], items["bob"]["after"], items["bob"]["delta"],
                          items["bob"]["frozen"]), (0, 100, 100, True))
        self.assertIn("will not change", items["bob"]["note"])
        self.assertEqual((items["cai"]["before"], items["cai"]["after"], items["cai"]["delta"],
                          items["cai"]["frozen"]), (0, 100, 100, False))
        token = j["confirm"]
        self.assertRegex(token, "^[0-9a-f]{16}$")

        # A wrong token: 409, nothing written.
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": False,
                            "confirm": "0123456789abcdef"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.state(), before)
        # The right token for another period: 409 too (what was reviewed is what is applied).
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": "2026-11-20T00:00:00Z",
                            "dry_run": False, "confirm": token})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.state(), before)

        # Applied.
        frozen_row = self.srv.sql("select * from evaluations where id = %d" % self.bob_eval)
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": False,
                            "confirm": token})
        self.assertEqual(r.status, 200, r)
        run = r.json["run_id"]
        self.assertEqual(r.json["measurements"]["changed"], 3)
        self.assertEqual(self.meas(), {
            "email:a": ("met", 11 * H), "email:b": ("met", 21 * H),
            "email:c": ("met", 15 * H), "email:d": ("met", 21 * H)})
        e = self.evals()
        self.assertEqual((e["ann"]["score"], e["cai"]["score"]), (100, 100))
        # The frozen evaluation never changes; its diff is recorded beside it.
        self.assertEqual(self.srv.sql("select * from evaluations where id = %d" % self.bob_eval),
                         frozen_row)
        self.assertEqual(self.srv.sql("select run_id, evaluation_id, old_score, new_score"
                                      " from recompute_diffs"),
                         [{"run_id": run, "evaluation_id": self.bob_eval, "old_score": 0.0,
                           "new_score": 100.0}])
        a = self.srv.sql("select actor, action from audit where entity = 'recompute'"
                         " and entity_id = %d" % run)
        self.assertEqual(a, [{"actor": "ada", "action": "apply"}])
        # The run and its diffs through the API.
        st, _, b = self.adm.get("/api/v1/recompute/runs")
        self.assertEqual(st, 200, b)
        self.assertEqual([(x["id"], x["kind"], x["calendar_id"], x["process_id"], x["by"],
                           x["frozen_diffs"], x["repinned"]) for x in b["items"]],
                         [(run, "calendar", self.cal, None, "ada", 1, 0)])
        st, _, b = self.adm.get("/api/v1/recompute/runs/%d" % run)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["diffs"], [{"evaluation_id": self.bob_eval, "old_score": 0,
                                       "new_score": 100}])
        self.assertEqual(b["report"]["measurements"]["flips"], {"breached→met": 2})
        self.assertEqual(self.adm.get("/api/v1/recompute/runs/999").status, 404)
        self.assertEqual(self.sam.get("/api/v1/recompute/runs").status, 403)
                # The token is spent: the state changed.
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": False,
                            "confirm": token})
        self.assertEqual(r.status, 409, r)
        # Again: nothing left to change but the frozen evaluation's would-be score.
        r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["measurements"]["changed"], 0)
        self.assertEqual(r.json["evaluations"]["changed"], 1)  # bob, frozen at 0

    def test_rejected_requests_write_nothing(self):
        before = self.state()
        cases = [
            ({"from": FROM, "to": TO}, 422),
            ({"process": self.pid, "from": FROM, "to": TO}, 422),  # no version
            ({"process": self.pid, "calendar": self.cal, "version": 1, "from": FROM,
              "to": TO}, 422),
            ({"calendar": "x", "from": FROM, "to": TO}, 422),
            ({"calendar": self.cal, "from": TO, "to": FROM}, 422),
            ({"calendar": self.cal, "from": "yesterday", "to": TO}, 422),
            ({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": False}, 422),
            ({"calendar": self.cal, "from": FROM, "to": TO, "dry_run": "no"}, 422),
            ({"calendar": self.cal, "from": FROM, "to": TO, "bogus": 1}, 422),
            ({"calendar": 999, "from": FROM, "to": TO}, 404),
            ({"calendar": 999, "from": FROM, "to": TO, "dry_run": False,
              "confirm": "0123456789abcdef"}, 409),
        ]
        for body, want in cases:
            r = self.recompute(body)
            self.assertEqual(r.status, want, (body, r))
            self.assertEqual(self.state(), before, body)
        r = self.adm.req("POST", "/api/v1/recompute", raw=b"{", headers={
            "Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        # Supervisors and agents may not.
        for c in (self.sam, self.ann):
            r = self.recompute({"calendar": self.cal, "from": FROM, "to": TO}, c=c)
            self.assertEqual(r.status, 403, r)
        self.assertEqual(self.state(), before)


if __name__ == "__main__":
    unittest.main()
