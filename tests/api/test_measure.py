"""test_measure.py — "measure every step" end to end: events posted through the API are folded
by the runtime into measurements (checked one by one against values worked out by hand with
the China calendar), the scheduler fires sla.warning / sla.breached exactly once within 1 s of
due even across kill -9, `smile rebuild` reproduces the live state, and the calendars and
processes APIs (CRUD, add/diff, holidays, publish with JSON Pointers, version pinning)."""
import csv
import io
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, wait_folded  # noqa: E402

H = 3600 * 1000
M = 60 * 1000
S = 1000


def iso_ms(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def text(raw):
    return raw.decode() if isinstance(raw, bytes) else raw


def ev(type_, subject, t, actor=None, data=None, customer=None, sid=None):
    e = {"type": type_, "subject": subject, "occurred_at": t, "source": "test",
         "source_id": sid or ("%s@%s@%s" % (subject, type_, t))}
    if actor:
        e["actor"] = actor
    if customer:
        e["customer"] = customer
    if data:
        e["data"] = data
    return e


# A Tuesday in Shanghai (UTC+8; China calendar: Mon–Fri 09:00–12:00 and 13:30–18:00, 5 s rings,
# no holiday in March 2026).
DAY = [
    # Hotline. Standard 3 rings = 3 × 5000 ms = 15000 ms (wall); short abandon ≤ 5 s excluded.
    ev("call.offered", "call:h1", "2026-03-03T02:00:00Z", data={"queue": "hotline"}),
    ev("call.ringing", "call:h1", "2026-03-03T02:00:01Z", data={"agent": "ann"}),
    ev("call.answered", "call:h1", "2026-03-03T02:00:12Z", actor="ann"),
    ev("call.offered", "call:h2", "2026-03-03T03:00:00Z", data={"queue": "hotline"}),
    ev("call.answered", "call:h2", "2026-03-03T03:00:16Z", actor="bob"),
    ev("call.offered", "call:h3", "2026-03-03T04:00:00Z", data={"queue": "hotline"}),
    ev("call.abandoned", "call:h3", "2026-03-03T04:00:04Z"),
    ev("call.offered", "call:h4", "2026-03-03T05:00:00Z", data={"queue": "hotline"}),
    ev("call.abandoned", "call:h4", "2026-03-03T05:00:20Z"),
    # Email: every customer email answered within 24 h of wall time (the default says "24h",
    # "time": "wall": nights and weekends count).
    ev("email.received", "email:e1", "2026-03-03T01:00:00Z", customer="c1"),
    ev("email.sent", "email:e1", "2026-03-03T03:00:00Z", actor="ann"),
    ev("email.received", "email:e2", "2026-03-03T01:30:00Z", customer="c2"),
    ev("email.sent", "email:e2", "2026-03-04T07:30:00Z", actor="bob"),
    # Counter: greeted within 5 s (wall).
    ev("visit.arrived", "visit:v1", "2026-03-03T02:10:00Z", data={"staff": "cara", "desk": "front"}),
    ev("visit.greeted", "visit:v1", "2026-03-03T02:10:03Z", actor="cara"),
    ev("visit.arrived", "visit:v2", "2026-03-03T02:20:00Z", data={"staff": "dan", "desk": "front"}),
    ev("visit.greeted", "visit:v2", "2026-03-03T02:20:07Z", actor="dan"),
    # Complaint, opened Thu 2026-03-05 09:00 Shanghai.
    ev("case.opened", "case:c1", "2026-03-05T01:00:00Z", data={"type": "complaint"},
       customer="c9"),
    ev("case.assigned", "case:c1", "2026-03-05T01:10:00Z", actor="sam",
       data={"assignee": "eve", "team": "care"}),
    ev("case.replied", "case:c1", "2026-03-06T03:00:00Z", actor="eve", data={"by": "staff"}),
    ev("case.pending", "case:c1", "2026-03-06T08:00:00Z", actor="eve"),
    ev("case.replied", "case:c1", "2026-03-07T02:00:00Z", data={"by": "customer"}),
    ev("case.resolved", "case:c1", "2026-03-10T07:00:00Z", actor="eve"),
    ev("survey.answered", "case:c1", "2026-03-11T03:00:00Z", actor="fay"),
]


class TestMeasure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ada", "admin")
        cls.srv.add_user("sam", "supervisor")
        cls.srv.add_user("ann", "agent")
        cls.w = cls.srv.client(cls.srv.token("ada", "events:write,events:read"))
        cls.r = cls.srv.client(cls.srv.token("ann", "kpi:read"))
        cls.adm = cls.srv.client(cls.srv.token("ada", "admin,crm:write,kpi:read"))
        cls.sup = cls.srv.client(cls.srv.token("sam", "crm:write,kpi:read"))
        st, _, b = cls.w.post("/api/v1/events", {"events": DAY})
        assert st == 201, b
        wait_folded(cls.srv, cls.r)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def m(self, subject, step, occ=0):
        st, _, b = self.r.get("/api/v1/subjects/%s/timeline" % subject)
        self.assertEqual(st, 200, b)
        for inst in b["instances"]:
            for s in inst["steps"]:
                if s["step"] == step and s["occurrence"] == occ:
                    return s
        self.fail("no measurement %s %s %d in %r" % (subject, step, occ, b))

    def check(self, subject, step, result, elapsed, target, actor, occ=0, team=Ellipsis):
        m = self.m(subject, step, occ)
        self.assertEqual((m["result"], m["elapsed_ms"], m["target_ms"], m["charged_actor"]),
                         (result, elapsed, target, actor), m)
        if team is not Ellipsis:
            self.assertEqual(m["charged_team"], team, m)
        return m

    # --- the day, measurement by measurement -----------------------------------------------

    def test_hotline(self):
        # h1: offered 02:00:00, answered 02:00:12 → 12000 ms ≤ 15000 → met; the answer step is
        # charged to the team (charge_to team: the queue "hotline" set by call.offered).
        self.check("call:h1", "answer", "met", 12000, 15000, None, team="hotline")
        # The ring at ann: started at call.ringing 02:00:01, done when ann answers 02:00:12 →
        # 11000 ms, met, charged to the agent it rang at (charge_to per).
        self.check("call:h1", "ring_at_agent", "met", 11000, 15000, "ann")
        # h2: answered after 16 s > 15 s → breached.
        self.check("call:h2", "answer", "breached", 16000, 15000, None, team="hotline")
        # h3: abandoned after 4 s ≤ 5 s → excluded (short abandon).
        self.check("call:h3", "answer", "excluded", 4000, 15000, None)
        # h4: abandoned after 20 s, past the 15 s standard → breached.
        self.check("call:h4", "answer", "breached", 20000, 15000, None)

    def test_email(self):
        # e1: received 01:00, reply 03:00 → 2 h = 7,200,000 ms ≤ 24 h → met, charged to ann.
        self.check("email:e1", "reply", "met", 2 * H, 24 * H, "ann")
        # e2: received Tue 01:30, reply Wed 07:30 → 30 h of wall time (the standard is wall
        # time: the night counts) = 108,000,000 ms > 86,400,000 → breached, charged to bob.
        self.check("email:e2", "reply", "breached", 30 * H, 24 * H, "bob")

    def test_counter(self):
        self.check("visit:v1", "greet", "met", 3000, 5000, "cara")  # 3 s ≤ 5 s
        self.check("visit:v2", "greet", "breached", 7000, 5000, "dan")  # 7 s > 5 s

    def test_complaint(self):
        # Assign: 30 business minutes from Thu 09:00 local; assigned 09:10 (working time) →
        # 10 min = 600,000 ms → met; charged to the team (no actor).
        self.check("case:c1", "assign", "met", 10 * M, 30 * M, None)
        # First reply: 24 h wall from Thu 01:00Z; staff reply Fri 03:00Z → 26 h → breached,
        # charged to eve who replied.
        self.check("case:c1", "first_reply", "breached", 26 * H, 24 * H, "eve")
        # Resolve: 3 business days from Thu 09:00 local; target = working time Thu 09:00 →
        # Tue 09:00 = Thu 7.5 h + Fri 7.5 h + Mon 7.5 h = 22.5 h = 81,000,000 ms.
        # Running Thu 09:00 → Fri 16:00 (pending): Thu 7.5 h + Fri 09–12 (3 h) + 13:30–16
        # (2.5 h) = 13 h. Paused Fri 16:00 → Sat 10:00 (customer reply). Running Sat 10:00 →
        # Tue 15:00: Sat, Sun 0 + Mon 7.5 h + Tue 09–12 (3 h) + 13:30–15 (1.5 h) = 12 h.
        # Elapsed 25 h = 90,000,000 ms > 81,000,000 → breached. Charged (segments) to eve,
        # who held the running clock 24 h 50 min of it (nobody held the first 10 minutes).
        m = self.check("case:c1", "resolve", "breached", 25 * H, 81000000, "eve")
        self.assertEqual(sum(s["ms"] for s in m["segments"]), 25 * H, m["segments"])
        self.assertEqual([s["ms"] for s in m["segments"] if s["actor"] is None], [10 * M])
        kinds = [x["kind"] for x in m["log"]]
        self.assertEqual(kinds[0], "activate")
        self.assertIn("pause", kinds)
        self.assertIn("resume", kinds)
        self.assertIn("breach", kinds)
        self.assertEqual(kinds[-1], "fulfil")
        # Call-back: starts when resolve is done (Tue 07:00Z), survey answered Wed 03:00Z →
        # 20 h = 72,000,000 ms ≤ 48 h → met, charged to fay.
        self.check("case:c1", "callback", "met", 20 * H, 48 * H, "fay")

    def test_every_measurement_listed_once(self):
        # 5 hotline (h1 answer + ring, h2, h3, h4) + 2 email + 2 counter + 4 complaint = 13.
        st, _, b = self.r.get("/api/v1/measurements?limit=500")
        self.assertEqual(st, 200, b)
        got = {(m["subject"], m["step"], m["occurrence"]) for m in b["items"]}
        self.assertEqual(len(b["items"]), 13, b)
        self.assertEqual(len(got), 13)

    def test_filters_and_paging(self):
        st, _, b = self.r.get("/api/v1/measurements?result=breached&limit=500")
        self.assertEqual(sorted((m["subject"], m["step"]) for m in b["items"]),
                         sorted([("call:h2", "answer"), ("call:h4", "answer"),
                                 ("email:e2", "reply"), ("visit:v2", "greet"),
                                 ("case:c1", "first_reply"), ("case:c1", "resolve")]))
        st, _, b = self.r.get("/api/v1/measurements?staff=eve")
        self.assertEqual(sorted(m["step"] for m in b["items"]), ["first_reply", "resolve"])
        # The answer step is charged to the queue's team, whatever the outcome.
        st, _, b = self.r.get("/api/v1/measurements?team=hotline&step=answer&result=met")
        self.assertEqual(sorted(m["subject"] for m in b["items"]), ["call:h1"])
        st, _, b = self.r.get("/api/v1/measurements?team=hotline&step=answer")
        self.assertEqual(sorted(m["subject"] for m in b["items"]),
                         ["call:h1", "call:h2", "call:h3", "call:h4"])
        st, _, b = self.r.get("/api/v1/measurements?from=2026-03-05T00:00:00Z"
                              "&to=2026-03-06T00:00:00Z")
        # Started on Thu 03-05 UTC: assign, first_reply, resolve (callback starts on Tue).
        self.assertEqual(sorted(m["step"] for m in b["items"]),
                         ["assign", "first_reply", "resolve"])
        seen, cursor = [], None
        while True:
            q = "/api/v1/measurements?limit=4" + ("&cursor=" + cursor if cursor else "")
            st, _, b = self.r.get(q)
            self.assertEqual(st, 200, b)
            seen += [m["id"] for m in b["items"]]
            cursor = b["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), 13)
        self.assertEqual(len(set(seen)), 13)
        st, _, b = self.r.get("/api/v1/measurements?result=maybe")
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"][0]["pointer"], "/query/result")
        st, _, b = self.r.get("/api/v1/measurements?from=yesterday")
        self.assertEqual(st, 422)

    def test_export(self):
        st, h, raw = self.r.req("GET", "/api/v1/measurements/export?format=csv&process=1")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        rows = list(csv.reader(io.StringIO(text(raw)), lineterminator="\r\n"))
        self.assertEqual(rows[0][:4], ["measurement_id", "process_id", "version", "step"])
        # Hotline (process 1; warning at "1 ring left" = 10 s): h1 answer activate, warn (10 s),
        # fulfil (12 s) = 3; ring at ann activate, fulfil = 2 (no warnings); h2 activate,
        # warn, breach (15 s), fulfil (16 s) = 4; h3 activate, cancel (4 s) = 2; h4 activate,
        # warn, breach, cancel (20 s) = 4. 15 lines.
        self.assertEqual(len(rows) - 1, 15, rows)
        self.assertEqual([r[10] for r in rows[1:4]], ["activate", "warn", "fulfil"])
        self.assertEqual(rows[2][11], "2026-03-03T02:00:10.000Z")
        st, h, raw = self.r.req("GET", "/api/v1/measurements/export?format=jsonl")
        self.assertEqual(st, 200)
        lines = [json.loads(x) for x in text(raw).splitlines()]
        h2 = [x["metric_event"] for x in lines if x["subject"] == "call:h2"]
        self.assertEqual(h2, ["activate", "warn", "breach", "fulfil"])
        br = [x for x in lines if x["subject"] == "call:h2" and x["metric_event"] == "breach"]
        self.assertEqual(br[0]["at"], "2026-03-03T03:00:15.000Z")
        st, _, b = self.r.get("/api/v1/measurements/export?format=xml")
        self.assertEqual(st, 422)

    def test_timeline(self):
        st, _, b = self.r.get("/api/v1/subjects/case:c1/timeline")
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["events"]), 7)
        self.assertEqual(len(b["instances"]), 1)
        inst = b["instances"][0]
        self.assertEqual(inst["process"], "Complaint handling")
        self.assertEqual(inst["version"], 1)
        self.assertEqual([s["step"] for s in inst["steps"]],
                         ["assign", "first_reply", "resolve", "callback"])
        st, _, b = self.r.get("/api/v1/subjects/nothing:here/timeline")
        self.assertEqual((st, b["events"], b["instances"]), (200, [], []))

    def test_roles(self):
        anon = self.srv.client()
        self.assertEqual(anon.get("/api/v1/measurements").status, 401)
        ev_only = self.srv.client(self.w.token)
        self.assertEqual(ev_only.get("/api/v1/measurements").status, 403)
        # An agent's session reads every measurement.
        c = self.srv.login("ann")
        st, _, b = c.get("/api/v1/measurements?limit=500")
        self.assertEqual((st, len(b["items"])), (200, 13))

    # --- rebuild == live --------------------------------------------------------------------

    def dump(self, srv, ids=True):
        rows = self.dump_all(srv)
        if not ids:
            for r in rows:
                r.pop("start_event_id")
                r.pop("end_event_id")
                r["log"] = ";".join(x.split("#")[0] for x in r["log"].split(";"))
        return rows

    def dump_all(self, srv):
        return srv.sql(
            "select m.subject, m.process_id, m.version, m.step_key, m.occurrence, m.channel,"
            " m.customer, m.started_at, m.done_at, m.elapsed_ms, m.target_ms, m.deadline_at,"
            " m.result, m.state, m.charged_actor, m.charged_team, m.start_event_id,"
            " m.end_event_id,"
            " (select group_concat(coalesce(actor,'-')||'/'||from_at||'/'||to_at||'/'||ms, ';')"
            "   from (select * from measurement_segments s where s.measurement_id = m.id"
            "   order by seq)) as segs,"
            " (select group_concat(kind||'@'||at||'#'||coalesce(event_id,0), ';')"
            "   from (select * from measurement_log l where l.measurement_id = m.id"
            "   order by seq)) as log,"
            " (select group_concat(kind||idx||'@'||due_at||'/'||(fired_at is not null), ';')"
            "   from (select * from deadlines d where d.measurement_id = m.id"
            "   order by kind, idx)) as dl"
            " from measurements m order by m.subject, m.process_id, m.step_key, m.occurrence")

    def test_rebuild_equals_live(self):
        srv = Server()
        try:
            srv.add_user("ada", "admin")
            w = srv.client(srv.token("ada", "events:write,kpi:read"))
            # The day in three shuffled batches: late and out-of-order events re-fold.
            evs = list(reversed(DAY))
            for i in range(0, len(evs), 8):
                st, _, b = w.post("/api/v1/events", {"events": evs[i:i + 8]})
                self.assertEqual(st, 201, b)
            wait_folded(srv, w)
            live = self.dump(srv)
            self.assertEqual(len(live), 13)
            # The order of arrival does not matter (event ids differ between the servers).
            self.assertEqual(self.dump(srv, False), self.dump(self.srv, False))
            srv.stop()
            p = srv.cli("rebuild")
            self.assertIn("rebuilt 9 subjects", p.stdout)
            self.assertEqual(self.dump(srv), live)
            # A server started on the rebuilt database has nothing to catch up on.
            srv.start()
            b = wait_folded(srv, w)
            self.assertEqual(b["pending_subjects"], 0)
            self.assertEqual(self.dump(srv), live)
        finally:
            srv.stop()


class TestCrmFeedsTheRuntime(unittest.TestCase):
    """Case actions in the CRM emit case.* events into the ledger in their transaction; the
    runtime measures them with the default complaint process."""

    def test_complaint_case_through_the_crm(self):
        srv = Server()
        try:
            srv.add_user("ada", "admin")
            adm = srv.client(srv.token("ada", "admin,crm:read,crm:write,kpi:read"))
            st, _, team = adm.post("/api/v1/teams", {"name": "care"})
            self.assertEqual(st, 201, team)
            srv.add_user("eve", "agent", team="care")
            eve = srv.sql("select id from users where username = 'eve'")[0]["id"]
            st, _, case = adm.post("/api/v1/cases", {"type": "complaint", "subject": "noise"})
            self.assertEqual(st, 201, case)
            t_open = int(time.time() * 1000)
            st, _, b = adm.post("/api/v1/cases/%d/assign" % case["id"],
                                {"assignee_id": eve, "team_id": team["id"]})
            self.assertEqual(st, 200, b)
            t_assign = int(time.time() * 1000)
            wait_folded(srv, adm)
            subject = "case:%d" % case["id"]
            evs = srv.sql("select type, source, data from events where subject = '%s'"
                          " order by id" % subject)
            types = [e["type"] for e in evs]
            self.assertEqual(types[0], "case.opened")
            self.assertIn("case.assigned", types)
            self.assertTrue(all(e["source"] == "crm" for e in evs))
            assigned = json.loads([e for e in evs if e["type"] == "case.assigned"][0]["data"])
            self.assertEqual((assigned["assignee"], assigned["team"], assigned["assignee_id"]),
                             ("eve", "care", eve))
            self.assertEqual(json.loads(evs[0]["data"])["type"], "complaint")
            st, _, tl = adm.get("/api/v1/subjects/%s/timeline" % subject)
            self.assertEqual(tl["instances"][0]["process"], "Complaint handling")
            steps = {s["step"]: s for s in tl["instances"][0]["steps"]}
            # Assigned within moments of opening: met, charged to the team it was assigned to;
            # its business elapsed is at most the wall time between the two requests (zero if
            # the test runs outside Shanghai office hours).
            a = steps["assign"]
            self.assertEqual((a["result"], a["state"], a["charged_team"]), ("met", "done", "care"))
            self.assertLessEqual(a["elapsed_ms"], t_assign - t_open + 1000)
            self.assertEqual(steps["first_reply"]["state"], "running")
            self.assertEqual(steps["resolve"]["state"], "running")
            # A CRM change that fails writes neither the change nor an event.
            n = srv.sql("select count(*) as n from events where source = 'crm'")[0]["n"]
            st, _, b = adm.post("/api/v1/cases/%d/close" % case["id"])
            self.assertEqual(st, 409, b)
            self.assertEqual(srv.sql("select count(*) as n from events where source = 'crm'")
                             [0]["n"], n)
        finally:
            srv.stop()


QUICK = {
    "name": "Quick reaction",
    "trigger": {"type": "custom.quick_open"},
    "steps": [{"key": "react", "title": "React within 2 s", "function": "other",
               "done_on": {"type": "custom.quick_done"},
               "standard": {"within": "2s"}, "warn_at": [0.8]}],
}


class TestScheduler(unittest.TestCase):
    """A 2 s standard: warning at 80 % (1.6 s), breach at 2 s, fired through the ledger."""

    def setUp(self):
        self.srv = Server()
        self.srv.add_user("ada", "admin")
        self.adm = self.srv.client(self.srv.token("ada", "admin,crm:write,kpi:read,"
                                                         "events:write,events:read"))
        st, _, b = self.adm.post("/api/v1/processes", QUICK)
        self.assertEqual(st, 201, b)
        self.pid = b["id"]
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % self.pid)
        self.assertEqual(st, 201, b)

    def tearDown(self):
        self.srv.stop()

    def open(self, subject, t0):
        st, _, b = self.adm.post("/api/v1/events",
                                 ev("custom.quick_open", subject, iso_ms(t0)))
        self.assertEqual(st, 201, b)

    def sla(self, subject):
        return self.srv.sql(
            "select type, occurred_at, received_at, source_id from events where subject = '%s'"
            " and source = 'smile' order by occurred_at, type" % subject)

    def test_warning_and_breach_fire_once_within_1s(self):
        t0 = int(time.time() * 1000) + 300
        self.open("quick:1", t0)
        time.sleep(max(0, (t0 + 3500) / 1000 - time.time()))
        rows = self.sla("quick:1")
        self.assertEqual([r["type"] for r in rows], ["sla.warning", "sla.breached"], rows)
        # Due at t0 + 1600 (80 % of 2 s) and t0 + 2000; each event is dated 1 ms after its
        # due instant (the first instant past it) and fired within 1 s of due.
        self.assertEqual([r["occurred_at"] for r in rows], [t0 + 1601, t0 + 2001])
        for r in rows:
            self.assertGreaterEqual(r["received_at"], r["occurred_at"] - 1)
            self.assertLessEqual(r["received_at"] - (r["occurred_at"] - 1), 1000, rows)
        wait_folded(self.srv, self.adm)
        dl = self.srv.sql("select kind, idx, due_at, fired_at is not null as f from deadlines")
        self.assertEqual(sorted((d["kind"], d["due_at"], d["f"]) for d in dl),
                         [("breach", t0 + 2000, 1), ("warning", t0 + 1600, 1)])
        st, _, b = self.adm.get("/api/v1/subjects/quick:1/timeline")
        step = b["instances"][0]["steps"][0]
        # The sla.breached event at t0 + 2001 advances as_of: the open clock is breached (as
        # of its deadline t0 + 2000), elapsed 2001 ms.
        self.assertEqual((step["result"], step["state"], step["elapsed_ms"]),
                         ("breached", "running", 2001))
        self.assertEqual(step["log"][2]["at"], iso_ms(t0 + 2000))
        self.assertEqual([x["kind"] for x in step["log"]], ["activate", "warn", "breach"])
        # Done later: still breached, and nothing fires again.
        self.adm.post("/api/v1/events", ev("custom.quick_done", "quick:1", iso_ms(t0 + 2500)))
        wait_folded(self.srv, self.adm)
        time.sleep(1.2)
        self.assertEqual(len(self.sla("quick:1")), 2)
        # /metrics: the two deadlines fired, each created its event, nothing is left to fold.
        _, _, text = self.srv.client().get("/metrics")
        m = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
        self.assertEqual(int(m["smile_scheduler_fired_total"]), 2)
        self.assertEqual(int(m["smile_scheduler_events_created_total"]), 2)
        self.assertLessEqual(float(m["smile_scheduler_max_late_seconds"]), 1.0)
        self.assertEqual(int(m["smile_runtime_lag_events"]), 0)
        self.assertEqual(int(m["smile_runtime_errors_total"]), 0)

    def test_done_in_time_fires_warning_only(self):
        t0 = int(time.time() * 1000) + 200
        self.open("quick:2", t0)
        self.adm.post("/api/v1/events", ev("custom.quick_done", "quick:2", iso_ms(t0 + 1800)))
        time.sleep(max(0, (t0 + 3200) / 1000 - time.time()))
        rows = self.sla("quick:2")
        # Done at 1.8 s: the warning at 1.6 s had passed (the fold logs it; the scheduler
        # fires it if it had not yet), the breach never comes.
        self.assertEqual([r["type"] for r in rows if r["type"] == "sla.breached"], [])
        wait_folded(self.srv, self.adm)
        st, _, b = self.adm.get("/api/v1/subjects/quick:2/timeline")
        step = b["instances"][0]["steps"][0]
        self.assertEqual((step["result"], step["elapsed_ms"]), ("met", 1800))

    def test_exactly_once_across_kill9(self):
        t0 = int(time.time() * 1000) + 300
        self.open("quick:3", t0)
        # Kill between the warning (t0 + 1.6 s) and the breach (t0 + 2 s) ...
        time.sleep(max(0, (t0 + 1800) / 1000 - time.time()))
        self.srv.kill9()
        # ... and restart after the breach was due: it fires at start, once.
        time.sleep(max(0, (t0 + 2300) / 1000 - time.time()))
        self.srv.start()
        time.sleep(1.5)
        rows = self.sla("quick:3")
        self.assertEqual([r["type"] for r in rows], ["sla.warning", "sla.breached"], rows)
        # Killed again right away and restarted: nothing fires twice.
        self.srv.kill9()
        self.srv.start()
        time.sleep(1.2)
        self.assertEqual(len(self.sla("quick:3")), 2)
        wait_folded(self.srv, self.adm)
        dl = self.srv.sql("select count(*) as n from deadlines where fired_at is null")
        self.assertEqual(dl[0]["n"], 0)

    def test_version_pinning(self):
        t0 = int(time.time() * 1000)
        self.open("quick:pin1", t0)
        wait_folded(self.srv, self.adm)
        st, h, b = self.adm.get("/api/v1/processes/%d" % self.pid)
        draft = dict(b["draft"])
        draft["steps"] = [dict(draft["steps"][0], standard={"within": "10s"})]
        st, h, b = self.adm.patch("/api/v1/processes/%d" % self.pid, draft,
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % self.pid)
        self.assertEqual((st, b["number"]), (201, 2), b)
        time.sleep(0.01)
        t1 = int(time.time() * 1000)
        self.open("quick:pin2", t1)
        # A late event on the first subject re-folds it: still on version 1.
        self.adm.post("/api/v1/events", ev("custom.quick_done", "quick:pin1", iso_ms(t0 + 500)))
        wait_folded(self.srv, self.adm)
        rows = self.srv.sql("select subject, version, target_ms from measurements"
                            " where subject like 'quick:pin%' order by subject")
        self.assertEqual([(r["subject"], r["version"], r["target_ms"]) for r in rows],
                         [("quick:pin1", 1, 2000), ("quick:pin2", 2, 10000)])


CHINA_TEST = {
    "name": "Test China",
    "time_zone": "Asia/Shanghai",
    "versions": [{
        "effective_from": "2026-01-01", "ring_ms": 5000,
        "week": {d: [["09:00", "12:00"], ["13:30", "18:00"]]
                 for d in ("mon", "tue", "wed", "thu", "fri")},
    }],
}


class TestDefinitions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ada", "admin")
        cls.srv.add_user("sam", "supervisor")
        cls.srv.add_user("ann", "agent")
        cls.adm = cls.srv.client(cls.srv.token("ada", "admin,crm:write,kpi:read"))
        cls.sup = cls.srv.client(cls.srv.token("sam", "crm:write,kpi:read"))
        cls.agent = cls.srv.client(cls.srv.token("ann", "kpi:read"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def count(self, table):
        return self.srv.sql("select count(*) as n from %s" % table)[0]["n"]

    def test_seeded(self):
        st, _, b = self.agent.get("/api/v1/calendars")
        self.assertEqual(st, 200, b)
        self.assertIn("China", [c["name"] for c in b["items"]])
        st, _, b = self.agent.get("/api/v1/processes")
        seeded = {p["name"]: p for p in b["items"] if p["id"] <= 4}
        self.assertEqual(sorted(seeded), ["Complaint handling", "Counter reception",
                                          "Customer email", "Phone hotline"])
        self.assertTrue(all(p["latest_version"] == 1 for p in seeded.values()))
        # Seeding again (smile init) changes nothing.
        n = self.count("process_versions")
        self.srv.cli("init")
        self.assertEqual(self.count("process_versions"), n)

    def china_id(self):
        st, _, b = self.agent.get("/api/v1/calendars")
        return [c["id"] for c in b["items"] if c["name"] == "China"][0]

    def test_add_and_diff(self):
        cid = self.china_id()
        # Fri 2026-02-13 17:00 Shanghai + 3 business days: Sat 02-14 is a make-up working day
        # (1), 02-15..02-23 are the Spring Festival holidays, Tue 02-24 (2), Wed 02-25 (3) at
        # 17:00 local = 09:00Z.
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=2026-02-13T09:00:00Z"
                                  "&duration=3%%20business%%20days" % cid)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["end"], b["duration"]), ("2026-02-25T09:00:00.000Z",
                                                     "3 business days"))
        # Working time in between: Fri 17–18 (1 h) + Sat 7.5 + Tue 7.5 + Wed 09–12, 13:30–17
        # (6.5 h) = 22.5 h.
        self.assertEqual(b["business_ms"], int(22.5 * H))
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=2026-03-03T02:00:00Z"
                                  "&duration=3%%20rings" % cid)
        self.assertEqual((b["end"], b["wall_ms"]), ("2026-03-03T02:00:15.000Z", 15000))
        # 4 business hours from Fri 2026-03-06 16:00 local: Fri 16–18 + Mon 09–11 → Mon 11:00
        # local = 03:00Z.
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=2026-03-06T08:00:00Z"
                                  "&duration=4%%20business%%20hours" % cid)
        self.assertEqual(b["end"], "2026-03-09T03:00:00.000Z")
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=2026-03-06T08:00:00Z"
                                  "&duration=24h" % cid)
        self.assertEqual(b["end"], "2026-03-07T08:00:00.000Z")
        st, _, b = self.agent.get("/api/v1/calendars/%d/diff?from=2026-03-06T08:00:00Z"
                                  "&to=2026-03-09T03:00:00Z" % cid)
        self.assertEqual((b["business_ms"], b["wall_ms"]), (4 * H, 67 * H))
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=soon&duration=3%%20days"
                                  % cid)
        self.assertEqual(st, 422)
        self.assertEqual([e["pointer"] for e in b["errors"]], ["/query/start"])
        st, _, b = self.agent.get("/api/v1/calendars/%d/add?start=2026-03-06T08:00:00Z"
                                  "&duration=soon" % cid)
        self.assertEqual([e["pointer"] for e in b["errors"]], ["/query/duration"])
        self.assertEqual(self.agent.get("/api/v1/calendars/9999/diff?from=2026-03-06T08:00:00Z"
                                        "&to=2026-03-09T03:00:00Z").status, 404)

    def test_calendar_crud(self):
        n = self.count("calendars")
        # Agents and supervisors cannot write.
        self.assertEqual(self.sup.post("/api/v1/calendars", CHINA_TEST).status, 403)
        # Invalid: unknown zone and a bad interval, each with its pointer.
        bad = json.loads(json.dumps(CHINA_TEST))
        bad["time_zone"] = "Mars/Olympus"
        st, _, b = self.adm.post("/api/v1/calendars", bad)
        self.assertEqual(st, 422, b)
        self.assertEqual(b["errors"][0]["pointer"], "/time_zone")
        bad = json.loads(json.dumps(CHINA_TEST))
        bad["versions"][0]["week"]["mon"] = [["12:00", "09:00"]]
        st, _, b = self.adm.post("/api/v1/calendars", bad)
        self.assertEqual(st, 422, b)
        self.assertTrue(b["errors"][0]["pointer"].startswith("/versions/0/week/mon"), b)
        self.assertEqual(self.count("calendars"), n)
        st, h, b = self.adm.post("/api/v1/calendars", CHINA_TEST)
        self.assertEqual(st, 201, b)
        cid, etag = b["id"], h["etag"]
        self.assertEqual(self.adm.post("/api/v1/calendars", CHINA_TEST).status, 409)
        # Holidays: a notice merged into the current version ...
        st, h, b = self.adm.req("POST", "/api/v1/calendars/%d/holidays" % cid,
                                raw=b"# test notice\n2026 OFF 10-01..10-03\n2026 WORK 09-27\n",
                                headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 200, b)
        self.assertIn("2026-10-01..2026-10-03", b["document"]["versions"][0]["holidays"])
        self.assertEqual(b["document"]["versions"][0]["workdays"], ["2026-09-27"])
        # ... and as a new version effective from 2026-06-01: the earlier version is kept.
        st, h, b = self.adm.req("POST", "/api/v1/calendars/%d/holidays?effective_from=2026-06-01"
                                % cid, raw=b"2026 OFF 06-19\n",
                                headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 200, b)
        vers = b["document"]["versions"]
        self.assertEqual([v["effective_from"] for v in vers], ["2026-01-01", "2026-06-01"])
        self.assertEqual(vers[1]["holidays"], ["2026-06-19", "2026-10-01..2026-10-03"])
        self.assertNotIn("2026-06-19", vers[0].get("holidays", []))
        # Fri 2026-06-19 is now off: Thu 06-18 10:00 local + 1 business day = Mon 06-22 10:00.
        st, _, r = self.agent.get("/api/v1/calendars/%d/add?start=2026-06-18T02:00:00Z"
                                  "&duration=1%%20business%%20day" % cid)
        self.assertEqual(r["end"], "2026-06-22T02:00:00.000Z")
        st, _, b = self.adm.req("POST", "/api/v1/calendars/%d/holidays" % cid,
                                raw=b"2026 OFF 13-40\n", headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 422, b)
        self.assertEqual(b["errors"][0]["pointer"], "/body")
        # PATCH needs If-Match; a stale one is refused; nothing changes.
        st, h, cur = self.adm.get("/api/v1/calendars/%d" % cid)
        doc = cur["document"]
        doc["versions"][0]["ring_ms"] = 4000
        self.assertEqual(self.adm.patch("/api/v1/calendars/%d" % cid, doc).status, 428)
        self.assertEqual(self.adm.patch("/api/v1/calendars/%d" % cid, doc,
                                        headers={"If-Match": etag}).status, 412)
        st, h2, b = self.adm.patch("/api/v1/calendars/%d" % cid, doc,
                                   headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["document"]["versions"][0]["ring_ms"], 4000)
        self.assertEqual(self.adm.delete("/api/v1/calendars/%d" % cid).status, 428)
        self.assertEqual(self.adm.delete("/api/v1/calendars/%d" % cid,
                                         headers={"If-Match": h2["etag"]}).status, 204)
        self.assertEqual(self.agent.get("/api/v1/calendars/%d" % cid).status, 404)
        # The name is free again.
        st, _, b = self.adm.post("/api/v1/calendars", CHINA_TEST)
        self.assertEqual(st, 201, b)

    def test_processes(self):
        doc = {"name": "Callback", "trigger": {"type": "custom.cb"},
               "steps": [{"key": "call", "title": "Call back", "function": "call_back",
                          "done_on": {"type": "custom.cb_done"},
                          "standard": {"within": "4 business hours"}}]}
        self.assertEqual(self.agent.post("/api/v1/processes", doc).status, 403)
        st, h, b = self.sup.post("/api/v1/processes", doc)
        self.assertEqual(st, 201, b)
        pid = b["id"]
        self.assertEqual(b["versions"], [])
        # Supervisors edit drafts but do not publish.
        self.assertEqual(self.sup.post("/api/v1/processes/%d/publish" % pid).status, 403)
        # A broken draft: bad duration and an unknown field → 422 with both pointers, nothing
        # published.
        broken = json.loads(json.dumps(doc))
        broken["steps"][0]["standard"]["within"] = "3 fortnights"
        broken["steps"][0]["colour"] = "red"
        st, h, b = self.sup.patch("/api/v1/processes/%d" % pid, broken,
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % pid)
        self.assertEqual(st, 422, b)
        ptrs = sorted(e["pointer"] for e in b["errors"])
        self.assertIn("/steps/0/standard/within", ptrs)
        self.assertIn("/steps/0/colour", ptrs)
        # A calendar that does not exist is refused too ("default" always resolves).
        st, h, _ = self.agent.get("/api/v1/processes/%d" % pid)
        nocal = dict(doc, calendar="Atlantis")
        st, h, b = self.sup.patch("/api/v1/processes/%d" % pid, nocal,
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % pid)
        self.assertEqual((st, [e["pointer"] for e in b["errors"]]), (422, ["/calendar"]), b)
        self.assertEqual(self.srv.sql("select count(*) as n from process_versions where "
                                      "process_id = %d" % pid)[0]["n"], 0)
        st, h, b = self.sup.patch("/api/v1/processes/%d" % pid, doc,
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        self.assertEqual(self.sup.patch("/api/v1/processes/%d" % pid, doc,
                                        headers={"If-Match": '"1"'}).status, 412)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % pid)
        self.assertEqual((st, b["number"], b["published_by"]), (201, 1, "ada"), b)
        self.assertEqual(b["document"]["version"], 1)
        self.assertEqual(b["document"]["steps"][0]["standard"]["within"], "4 business hours")
        v1 = b["document"]
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % pid)
        self.assertEqual((st, b["number"]), (201, 2))
        # Version 1 never changes.
        st, _, b = self.agent.get("/api/v1/processes/%d/versions/1" % pid)
        self.assertEqual((st, b["document"]), (200, v1))
        self.assertEqual(self.agent.get("/api/v1/processes/%d/versions/3" % pid).status, 404)
        st, _, b = self.agent.get("/api/v1/processes/%d" % pid)
        self.assertEqual([v["number"] for v in b["versions"]], [1, 2])
        self.assertEqual(self.sup.post("/api/v1/processes", doc).status, 409)
        st, _, b = self.sup.post("/api/v1/processes", {"steps": []})
        self.assertEqual((st, b["errors"][0]["pointer"]), (422, "/name"))


if __name__ == "__main__":
    unittest.main()
