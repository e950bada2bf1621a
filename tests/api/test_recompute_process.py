"""test_recompute_process.py — recompute history after a PROCESS change, end to end.

Calendar "Week" (Asia/Shanghai, Monday–Friday 09:00–18:00: 9 working hours a day) with
Wednesday 2026-11-04 a holiday. Process "Complaint BD": a complaint (case.opened) is resolved
(case.resolved) within 3 business days, charged to whoever resolved it. "N business days" is
the same local time N working days later; its target in business ms is the working time up
to that moment (docs/processes.md §7). Version 1 was in force in November; version 2,
published now, tightens the standard to 2 business days. Five complaints (Shanghai times,
H = one working hour = 3,600,000 ms):

  case  by   opened          resolved        elapsed (working)          v1: 3 bd          v2: 2 bd
  K1    ann  Mon 11-02 10:00 Thu 11-05 15:00 Mon 8 + Tue 9 + Thu 6 = 23H deadline Fri 10:00  Thu 10:00
                                                                       8+9+9+1 = 27H met  8+9+1 = 18H breached
  K2    bob  Tue 11-03 09:00 Thu 11-05 17:00 Tue 9 + Thu 8 = 17H        Mon 11-09 09:00   Fri 09:00
                                                                       9+9+9 = 27H met    9+9 = 18H met
  K3    cai  Thu 11-05 14:00 Tue 11-10 11:00 Thu 4 + Fri 9 + Mon 9 + Tue 2 = 24H
                                                                       Tue 14:00: 27H met Mon 14:00: 18H breached
  K4    dan  Mon 11-02 09:00 Fri 11-06 12:00 9 + 9 + 9 + 3 = 30H        Fri 09:00: 27H breached
                                                                                          Thu 09:00: 18H breached
  K5    ann  Mon 11-09 10:00 Thu 11-12 10:00 Mon 8 + Tue 9 + Wed 9 + Thu 1 = 27H
                                                                       Thu 10:00: 27H met (at the deadline)
                                                                                          Wed 10:00: 18H breached

(The holiday is skipped both in the elapsed time and in counting working days: from Tue the
next working day is Thu.)

Scorecard "complaints": compliance of Complaint BD/resolve, floor 0, target 1, score =
compliance × 100. Before: ann 2/2 = 100, bob 1/1 = 100, cai 1/1 = 100, dan 0/1 = 0; cai's
evaluation is published and frozen.

Re-pinning the week [Mon 11-02, Sat 11-07) (K1–K4) to version 2: 4 measurements compared, 4
changed (every target 27H → 18H), results flipped met→breached twice (K1, K3), no elapsed time
or charged person changed. Evaluations of 2026-11: ann 100 → 50 (K1 breached, K5 still met),
bob 100 unchanged, dan 0 unchanged, cai 100 → 0 would-be (frozen: stays 100, diff recorded).
Then "instances started from Mon 11-09" (no end): K5 → breached, ann 50 → 0.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, wait_folded  # noqa: E402

H = 3600 * 1000
WEEK_FROM, WEEK_TO = "2026-11-02T00:00:00+08:00", "2026-11-07T00:00:00+08:00"
NEXT_FROM = "2026-11-09T00:00:00+08:00"

CALENDAR = {
    "name": "Week",
    "time_zone": "Asia/Shanghai",
    "versions": [{
        "effective_from": "2026-01-01",
        "ring_ms": 5000,
        "week": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-11-04"],
    }],
}


def process(days):
    return {
        "name": "Complaint BD",
        "calendar": "Week",
        "trigger": {"type": "case.opened"},
        "steps": [{
            "key": "resolve",
            "title": {"en": "Resolve within %d business days" % days,
                      "zh": "%d个工作日内解决" % days},
            "function": "resolve",
            "done_on": {"type": "case.resolved"},
            "standard": {"within": "%d business days" % days},
            "charge_to": "actor",
        }],
    }


# (subject, resolver, opened UTC, resolved UTC): Shanghai = UTC+8.
CASES = [
    ("case:k1", "ann", "2026-11-02T02:00:00Z", "2026-11-05T07:00:00Z"),
    ("case:k2", "bob", "2026-11-03T01:00:00Z", "2026-11-05T09:00:00Z"),
    ("case:k3", "cai", "2026-11-05T06:00:00Z", "2026-11-10T03:00:00Z"),
    ("case:k4", "dan", "2026-11-02T01:00:00Z", "2026-11-06T04:00:00Z"),
    ("case:k5", "ann", "2026-11-09T02:00:00Z", "2026-11-12T02:00:00Z"),
]

TEMPLATE = {
    "name": "complaints",
    "title": {"en": "Complaints resolved in time", "zh": "投诉按时解决"},
    "role": "agent",
    "period": "month",
    "items": [{"key": "resolve", "indicator": "compliance",
               "filter": {"process": "Complaint BD", "step": "resolve"},
               "weight": 1, "floor": 0, "target": 1}],
}


def side(result, elapsed, target, actor, version):
    return {"result": result, "elapsed_ms": elapsed, "target_ms": target,
            "charged_actor": actor, "version": version}


class TestRecomputeProcess(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.add_user("ada", "admin")
        srv.add_user("sam", "supervisor")
        for u in ("ann", "bob", "cai", "dan"):
            srv.add_user(u, "agent")
        cls.adm = srv.login("ada")
        cls.sam = srv.login("sam")
        cls.ann = srv.login("ann")
        st, _, b = cls.adm.post("/api/v1/calendars", CALENDAR)
        assert st == 201, b
        st, _, b = cls.adm.post("/api/v1/processes", process(3))
        assert st == 201, b
        cls.pid = b["id"]
        st, _, b = cls.adm.post("/api/v1/processes/%d/publish" % cls.pid, {})
        assert st == 201, b
        # Version 1 dated back to October (in force for November), then a definition change
        # (a calendar created) so the runtime reloads.
        srv.sql_write("update process_versions set published_at = 1790812800000,"
                      " document = json_set(document, '$.published_at',"
                      " '2026-10-01T00:00:00.000Z') where process_id = %d" % cls.pid)
        st, _, b = cls.adm.post("/api/v1/calendars", dict(CALENDAR, name="Other"))
        assert st == 201, b
        evs = []
        for subj, who, tin, tout in CASES:
            evs.append({"type": "case.opened", "subject": subj, "occurred_at": tin,
                        "source": "test", "source_id": subj + "/open"})
            evs.append({"type": "case.resolved", "subject": subj, "occurred_at": tout,
                        "actor": who, "source": "test", "source_id": subj + "/resolved"})
        cls.w = srv.client(srv.token("ada", "events:write,kpi:read"))
        st, _, b = cls.w.post("/api/v1/events", {"events": evs})
        assert st == 201, b
        wait_folded(srv, cls.w)
        # Version 2, published now: 2 business days. Instances of November stay on 1.
        st, h, b = cls.adm.get("/api/v1/processes/%d" % cls.pid)
        st, h, b = cls.adm.patch("/api/v1/processes/%d" % cls.pid, process(2),
                                 headers={"If-Match": h["etag"]})
        assert st == 200, b
        st, _, b = cls.adm.post("/api/v1/processes/%d/publish" % cls.pid, {})
        assert st == 201 and b["number"] == 2, b
        wait_folded(srv, cls.w)
        st, _, b = cls.adm.post("/api/v1/scorecards/templates", TEMPLATE)
        assert st == 201, b
        st, _, b = cls.sam.post("/api/v1/evaluations/compute",
                                {"period": "2026-11", "template": "complaints"})
        assert st == 200, b
        cls.cai_eval = cls.evals()["cai"]["id"]
        for step in ("publish", "freeze"):
            st, _, b = cls.sam.post("/api/v1/evaluations/%d/%s" % (cls.cai_eval, step), {})
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
        rows = self.srv.sql("select subject, version, result, elapsed_ms, target_ms"
                            " from measurements where process_id = %d order by subject"
                            % self.pid)
        return {r["subject"]: (r["version"], r["result"], r["elapsed_ms"], r["target_ms"])
                for r in rows}

    def compliance(self):
        """compliance by staff from the kpi rollups (GET /api/v1/indicators)."""
        st, _, b = self.w.get("/api/v1/indicators?name=compliance&by=staff&period=2026-11"
                              "&process=%d" % self.pid)
        self.assertEqual(st, 200, b)
        return {r["key"]: (r["value"], r["count"]) for r in b["rows"]}

    def state(self):
        """Everything a recompute may write, to check that nothing was."""
        return self.srv.sql(
            "select (select count(*) from audit) audit,"
            " (select count(*) from recompute_runs) runs,"
            " (select count(*) from recompute_diffs) diffs,"
            " (select count(*) from instance_pins) pins,"
            " (select count(*) from recompute_changes) changes,"
            " (select group_concat(id || ':' || coalesce(score, '-') || ':' || version, ',')"
            "  from evaluations) evals,"
            " (select group_concat(subject || ':' || version || ':' || coalesce(pin_id, '-'),"
            "  ',') from instances) insts,"
            " (select group_concat(subject || ':' || version || ':' || result || ':'"
            "  || elapsed_ms || ':' || target_ms, ',') from measurements) meas,"
            " (select coalesce(sum(updated_at), 0) from measurements) mt,"
            " (select group_concat(day || staff || step || met || ':' || breached, ',')"
            "  from kpi_daily) kpi")[0]

    def recompute(self, body, c=None):
        return (c or self.adm).post("/api/v1/recompute", body)

    def test_1_repin_week_then_from_date(self):
        self.assertEqual(self.meas(), {
            "case:k1": (1, "met", 23 * H, 27 * H), "case:k2": (1, "met", 17 * H, 27 * H),
            "case:k3": (1, "met", 24 * H, 27 * H), "case:k4": (1, "breached", 30 * H, 27 * H),
            "case:k5": (1, "met", 27 * H, 27 * H)})
        e = self.evals()
        self.assertEqual([e[u]["score"] for u in ("ann", "bob", "cai", "dan")],
                         [100, 100, 100, 0])
        self.assertEqual(self.compliance(), {"ann": (1.0, 2), "bob": (1.0, 1),
                                             "cai": (1.0, 1), "dan": (0.0, 1)})

        # Dry run for the week: the diff report, nothing written.
        before = self.state()
        body = {"process": self.pid, "version": 2, "from": WEEK_FROM, "to": WEEK_TO,
                "reason": "complaint standard tightened to 2 working days (memo 2026-11-20)"}
        r = self.recompute(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.state(), before, "the dry run wrote something")
        j = r.json
        self.assertEqual((j["dry_run"], j["kind"]), (True, "process"))
        self.assertEqual(j["process"], {"id": self.pid, "name": "Complaint BD", "version": 2})
        self.assertEqual(j["instances"], {"in_range": 4, "repinned": 4, "already": 0,
                                          "from_versions": {"1": 4}})
        self.assertEqual((j["processes"], j["subjects"]), ([self.pid], 4))
        self.assertEqual(j["from"], "2026-11-01T16:00:00.000Z")
        self.assertEqual(j["to"], "2026-11-06T16:00:00.000Z")
        m = j["measurements"]
        self.assertEqual((m["compared"], m["changed"], m["result_changed"], m["elapsed_changed"],
                          m["target_changed"], m["charge_changed"]), (4, 4, 2, 0, 4, 0))
        self.assertEqual(m["flips"], {"met→breached": 2})
        ex = {x["subject"]: x for x in m["examples"]}
        self.assertEqual(sorted(ex), ["case:k1", "case:k2", "case:k3", "case:k4"])
        self.assertEqual(ex["case:k1"]["before"], side("met", 23 * H, 27 * H, "ann", 1))
        self.assertEqual(ex["case:k1"]["after"], side("breached", 23 * H, 18 * H, "ann", 2))
        self.assertEqual(ex["case:k2"]["after"], side("met", 17 * H, 18 * H, "bob", 2))
        self.assertEqual(ex["case:k3"]["before"], side("met", 24 * H, 27 * H, "cai", 1))
        self.assertEqual(ex["case:k3"]["after"], side("breached", 24 * H, 18 * H, "cai", 2))
        self.assertEqual(ex["case:k4"]["after"], side("breached", 30 * H, 18 * H, "dan", 2))
        self.assertEqual((ex["case:k1"]["step"], ex["case:k1"]["staff"]), ("resolve", "ann"))
        ev = j["evaluations"]
        self.assertEqual((ev["changed"], ev["unchanged"], ev["frozen"]), (2, 2, 1))
        items = {x["username"]: x for x in ev["items"]}
        self.assertEqual(sorted(items), ["ann", "cai"])
        self.assertEqual((items["ann"]["before"], items["ann"]["after"], items["ann"]["delta"],
                          items["ann"]["frozen"]), (100, 50, -50, False))
        self.assertEqual((items["cai"]["before"], items["cai"]["after"], items["cai"]["delta"],
                          items["cai"]["frozen"]), (100, 0, -100, True))
        self.assertIn("will not change", items["cai"]["note"])
        token = j["confirm"]
        self.assertRegex(token, "^[0-9a-f]{16}$")

        # The token of this dry run for another version or range: 409, nothing written.
        for other in ({"version": 1}, {"to": "2026-11-06T00:00:00+08:00"}):
            r = self.recompute(dict(body, dry_run=False, confirm=token, **other))
            self.assertEqual(r.status, 409, (other, r))
            self.assertEqual(self.state(), before)

        # Applied.
        frozen_row = self.srv.sql("select * from evaluations where id = %d" % self.cai_eval)
        r = self.recompute(dict(body, dry_run=False, confirm=token))
        self.assertEqual(r.status, 200, r)
        run = r.json["run_id"]
        self.assertEqual(r.json["measurements"]["flips"], {"met→breached": 2})
        self.assertEqual(self.meas(), {
            "case:k1": (2, "breached", 23 * H, 18 * H), "case:k2": (2, "met", 17 * H, 18 * H),
            "case:k3": (2, "breached", 24 * H, 18 * H),
            "case:k4": (2, "breached", 30 * H, 18 * H),
            "case:k5": (1, "met", 27 * H, 27 * H)})  # started after the week: untouched
        # The kpi rollups follow (the indicators read them, never the raw measurements).
        self.assertEqual(self.compliance(), {"ann": (0.5, 2), "bob": (1.0, 1),
                                             "cai": (0.0, 1), "dan": (0.0, 1)})
        # A what-if's live side measures as the runtime now does: k1-k4 under their pinned
        # version 2 (18 h: k1 23 h, k3 24 h, k4 30 h breached; k2 17 h met), k5 under version
        # 1 (27 h, met) → live met 2, breached 3. The draft (3 business days = 27 h for all):
        # k1, k2, k3, k5 met, k4 breached → met 4, breached 1. (Without the pins the live
        # side would take version 1 for every case, as the draft: met 4, breached 1.)
        st, _, b = self.adm.post("/api/v1/processes/%d/whatif" % self.pid,
                                 {"draft": process(3), "from": "2026-11-01T00:00:00+08:00",
                                  "to": "2026-12-01T00:00:00+08:00"})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["totals"]["live"]["met"], b["totals"]["live"]["breached"]), (2, 3))
        self.assertEqual((b["totals"]["draft"]["met"], b["totals"]["draft"]["breached"]), (4, 1))
        e = self.evals()
        self.assertEqual((e["ann"]["score"], e["bob"]["score"], e["dan"]["score"]), (50, 100, 0))
        self.assertEqual(self.srv.sql("select * from evaluations where id = %d" % self.cai_eval),
                         frozen_row)
        self.assertEqual(self.srv.sql("select run_id, evaluation_id, old_score, new_score"
                                      " from recompute_diffs"),
                         [{"run_id": run, "evaluation_id": self.cai_eval, "old_score": 100.0,
                           "new_score": 0.0}])
        pins = self.srv.sql("select subject, version, previous_version, run_id, by_user, reason"
                            " from instance_pins order by subject")
        self.assertEqual([(p["subject"], p["version"], p["previous_version"], p["run_id"],
                           p["by_user"]) for p in pins],
                         [("case:k%d" % i, 2, 1, run, "ada") for i in (1, 2, 3, 4)])
        self.assertEqual(pins[0]["reason"], body["reason"])
        a = self.srv.sql("select actor, action, after from audit where entity = 'recompute'"
                         " and entity_id = %d" % run)
        self.assertEqual([(x["actor"], x["action"]) for x in a], [("ada", "apply")])
        self.assertIn('"repinned":4', a[0]["after"].replace(" ", ""))

        # Visible in the instance and measurement API: version, pin and why.
        st, _, b = self.w.get("/api/v1/subjects/case:k1/timeline")
        self.assertEqual(st, 200, b)
        inst = [i for i in b["instances"] if i["process_id"] == self.pid][0]
        self.assertEqual(inst["version"], 2)
        self.assertEqual(inst["version_reason"], "re-pinned by a recompute")
        self.assertEqual([(p["version"], p["previous_version"], p["run_id"], p["by"], p["reason"])
                          for p in inst["pins"]], [(2, 1, run, "ada", body["reason"])])
        self.assertEqual(inst["pin_id"], inst["pins"][0]["id"])
        self.assertEqual(inst["steps"][0]["pin_id"], inst["pin_id"])
        st, _, b = self.w.get("/api/v1/subjects/case:k5/timeline")
        inst5 = [i for i in b["instances"] if i["process_id"] == self.pid][0]
        self.assertEqual((inst5["version"], inst5["pin_id"], inst5["pins"]), (1, None, []))
        self.assertEqual(inst5["version_reason"], "the version in force when it started")
        st, _, b = self.w.get("/api/v1/measurements?process=%d" % self.pid)
        self.assertEqual({x["subject"]: x["pin_id"] is not None for x in b["items"]},
                         {"case:k1": True, "case:k2": True, "case:k3": True, "case:k4": True,
                          "case:k5": False})
        # The run through the API.
        st, _, b = self.adm.get("/api/v1/recompute/runs/%d" % run)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["kind"], b["process_id"], b["version"], b["calendar_id"],
                          b["repinned"], b["frozen_diffs"], b["reason"]),
                         ("process", self.pid, 2, None, 4, 1, body["reason"]))
        self.assertEqual(b["pins"], [{"subject": "case:k%d" % i, "previous_version": 1,
                                      "version": 2} for i in (1, 2, 3, 4)])
        self.assertEqual(b["report"]["measurements"]["changed"], 4)
        self.assertEqual(b["changes"], 4)
        # Every changed measurement, paged (the report keeps at most 50 examples).
        st, _, p1 = self.adm.get("/api/v1/recompute/runs/%d/changes?limit=3" % run)
        self.assertEqual(st, 200, p1)
        self.assertEqual(len(p1["items"]), 3)
        self.assertIsNotNone(p1["next_cursor"])
        st, _, p2 = self.adm.get("/api/v1/recompute/runs/%d/changes?limit=3&cursor=%s"
                                 % (run, p1["next_cursor"]))
        self.assertEqual((st, p2["next_cursor"]), (200, None), p2)
        ch = {x["subject"]: x for x in p1["items"] + p2["items"]}
        self.assertEqual(sorted(ch), ["case:k1", "case:k2", "case:k3", "case:k4"])
        self.assertEqual((ch["case:k3"]["step"], ch["case:k3"]["staff"], ch["case:k3"]["before"],
                          ch["case:k3"]["after"]),
                         ("resolve", "cai", side("met", 24 * H, 27 * H, "cai", 1),
                          side("breached", 24 * H, 18 * H, "cai", 2)))
        self.assertEqual(self.adm.get("/api/v1/recompute/runs/999/changes").status, 404)
        self.assertEqual(self.sam.get("/api/v1/recompute/runs/%d/changes" % run).status, 403)
        self.assertEqual(self.adm.get("/api/v1/recompute/runs/%d/changes?limit=0" % run).status,
                         422)

        # A late event re-folds K1 live: it stays on the version it was pinned to.
        st, _, b = self.w.post("/api/v1/events", {"events": [{
            "type": "case.replied", "subject": "case:k1", "occurred_at": "2026-11-03T02:00:00Z",
            "data": {"by": "staff"}, "actor": "ann", "source": "test", "source_id": "k1/late"}]})
        self.assertEqual(st, 201, b)
        wait_folded(self.srv, self.w)
        self.assertEqual(self.meas()["case:k1"], (2, "breached", 23 * H, 18 * H))

        # The same token again: the state changed (pins, measurements): 409.
        r = self.recompute(dict(body, dry_run=False, confirm=token))
        self.assertEqual(r.status, 409, r)
        # The week again: every instance already on version 2, nothing to re-pin.
        r = self.recompute(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["instances"], {"in_range": 4, "repinned": 0, "already": 4,
                                               "from_versions": {}})
        self.assertEqual((r.json["subjects"], r.json["measurements"]["compared"]), (0, 0))

        # "Instances started from Mon 11-09" (no end): K5 → 2 business days, breached.
        nb = {"process": self.pid, "version": 2, "from": NEXT_FROM}
        r = self.recompute(nb)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["to"])
        self.assertEqual(r.json["instances"]["repinned"], 1)
        ex = r.json["measurements"]["examples"]
        self.assertEqual([(x["subject"], x["before"], x["after"]) for x in ex],
                         [("case:k5", side("met", 27 * H, 27 * H, "ann", 1),
                           side("breached", 27 * H, 18 * H, "ann", 2))])
        items = {x["username"]: x for x in r.json["evaluations"]["items"]}
        self.assertEqual((items["ann"]["before"], items["ann"]["after"]), (50, 0))
        token2 = r.json["confirm"]
        # The process changes between the dry run and the confirmation (version 3 published):
        # 409, nothing written.
        st, h, b = self.adm.get("/api/v1/processes/%d" % self.pid)
        st, h, b = self.adm.patch("/api/v1/processes/%d" % self.pid, process(1),
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % self.pid, {})
        self.assertEqual((st, b["number"]), (201, 3), b)
        wait_folded(self.srv, self.w)
        before = self.state()
        r = self.recompute(dict(nb, dry_run=False, confirm=token2))
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.state(), before)
        # Reviewed again and applied.
        r = self.recompute(nb)
        self.assertEqual(r.status, 200, r)
        r = self.recompute(dict(nb, dry_run=False, confirm=r.json["confirm"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.meas()["case:k5"], (2, "breached", 27 * H, 18 * H))
        self.assertEqual(self.evals()["ann"]["score"], 0)
        self.assertEqual(self.compliance()["ann"], (0.0, 2))
        st, _, b = self.adm.get("/api/v1/recompute/runs")
        self.assertEqual([(x["kind"], x["version"], x["to"], x["repinned"]) for x in b["items"]],
                         [("process", 2, None, 1), ("process", 2, "2026-11-06T16:00:00.000Z", 4)])

    def test_2_rejected_requests_write_nothing(self):
        admin_token = self.srv.client(self.srv.token("ada", "admin"))  # (audited: before)
        before = self.state()
        p = self.pid
        cases = [
            ({"process": p, "from": WEEK_FROM, "to": WEEK_TO}, 422, "/version"),
            ({"process": p, "version": 9, "from": WEEK_FROM, "to": WEEK_TO}, 422, "/version"),
            ({"process": p, "version": 0, "from": WEEK_FROM, "to": WEEK_TO}, 422, "/version"),
            ({"process": p, "version": "2", "from": WEEK_FROM, "to": WEEK_TO}, 422, "/version"),
            ({"process": 999, "version": 1, "from": WEEK_FROM, "to": WEEK_TO}, 422, "/process"),
            ({"process": "x", "version": 1, "from": WEEK_FROM}, 422, "/process"),
            ({"process": p, "version": 2, "from": WEEK_TO, "to": WEEK_FROM}, 422, "/to"),
            ({"process": p, "version": 2, "from": "2024-01-01T00:00:00Z"}, 422, "/from"),
            ({"process": p, "version": 2, "from": "2025-01-01T00:00:00Z",
              "to": "2026-11-07T00:00:00Z"}, 422, "/to"),
            ({"process": p, "version": 2}, 422, "/from"),
            ({"process": p, "version": 2, "from": WEEK_FROM, "reason": "x" * 501}, 422,
             "/reason"),
            ({"process": p, "version": 2, "from": WEEK_FROM, "reason": 7}, 422, "/reason"),
            ({"calendar": 1, "version": 2, "from": WEEK_FROM, "to": WEEK_TO}, 422, "/version"),
            ({"process": p, "version": 2, "from": WEEK_FROM, "dry_run": False}, 422,
             "/confirm"),
            ({"process": p, "version": 9, "from": WEEK_FROM, "dry_run": False,
              "confirm": "0123456789abcdef"}, 422, "/version"),
            ({"process": p, "version": 2, "from": WEEK_FROM, "dry_run": False,
              "confirm": "0123456789abcdef"}, 409, None),
        ]
        for body, want, pointer in cases:
            r = self.recompute(body)
            self.assertEqual(r.status, want, (body, r))
            if pointer:
                self.assertIn(pointer, [e["pointer"] for e in r.json["errors"]], body)
            self.assertEqual(self.state(), before, body)
        # Only admins: supervisors, agents and tokens without the admin scope may not.
        body = {"process": p, "version": 2, "from": WEEK_FROM, "to": WEEK_TO}
        for c in (self.sam, self.ann, self.w):
            r = self.recompute(body, c=c)
            self.assertEqual(r.status, 403, r)
        r = self.recompute(body, c=admin_token)  # a dry run: nothing written either
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.state(), before)


if __name__ == "__main__":
    unittest.main()
