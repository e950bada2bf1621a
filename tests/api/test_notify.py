"""test_notify.py — escalation and notifications end to end: a complaint whose resolve step
breaches (events posted with occurred_at in the past so the scheduler fires at once) notifies
the assignee and the team supervisor in English and Chinese, raises the case's priority
(audited as "escalation"), a quick process reassigns a case to the supervisor, connected
Server-Sent Events clients receive it all live, a kill -9 and restart does not escalate
twice, and the notifications API (list, unread, read, read-all, cursor paging) writes
nothing on a rejected request. Also the stream's limits, Accept check and clean shutdown."""
import http.client
import json
import os
import queue
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402

DAY = 24 * 3600 * 1000


def iso_ms(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def ev(type_, subject, t, actor=None, data=None, sid=None):
    e = {"type": type_, "subject": subject, "occurred_at": iso_ms(t), "source": "test",
         "source_id": sid or ("%s@%s@%d" % (subject, type_, t))}
    if actor:
        e["actor"] = actor
    if data:
        e["data"] = data
    return e


class SSE:
    """A Server-Sent Events client on http.client: a thread parses frames into a queue."""

    def __init__(self, srv, client=None, token=None, headers=None, path="/api/v1/stream"):
        h = {"Accept": "text/event-stream"}
        if client is not None and client.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in client.cookies.items())
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.frames = queue.Queue()
        self.ended = threading.Event()
        if self.status == 200:
            self.t = threading.Thread(target=self._run, daemon=True)
            self.t.start()
        else:
            self.body = self.resp.read()
            self.ended.set()

    def _run(self):
        cur = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if cur:
                        self.frames.put(cur)
                    cur = {}
                elif line.startswith(":"):
                    self.frames.put({"comment": line[1:].strip()})
                else:
                    k, _, v = line.partition(": ")
                    cur[k] = v
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            pass
        self.ended.set()

    def next(self, event=None, timeout=10):
        """The next frame (of this event type if given), skipping others."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no %s frame within %ss" % (event or "", timeout))
            try:
                f = self.frames.get(timeout=left)
            except queue.Empty:
                continue
            if event is None or f.get("event") == event:
                return f

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


def wait_for(fn, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Base(unittest.TestCase):
    extra = ()

    def setUp(self):
        self.srv = Server(extra_args=self.extra)
        self.srv.add_user("ada", "admin")
        self.adm = self.srv.client(self.srv.token(
            "ada", "admin,crm:read,crm:write,kpi:read,events:write,events:read"))
        st, _, b = self.adm.post("/api/v1/teams", {"name": "complaints"})
        self.assertEqual(st, 201, b)
        self.team = b["id"]
        self.srv.add_user("ann", "agent", team="complaints")
        self.srv.add_user("sue", "supervisor", team="complaints")
        self.ids = {r["username"]: r["id"] for r in self.srv.sql("select id, username from users")}
        self.ann = self.srv.login("ann")
        self.sue = self.srv.login("sue")
        self.streams = []

    def tearDown(self):
        for s in self.streams:
            s.close()
        if self.srv.proc:
            self.srv.stop()

    def stream(self, client, **kw):
        s = SSE(self.srv, client, **kw)
        self.streams.append(s)
        return s

    def open_case(self, subject="Water leak in 3-201", priority="normal"):
        st, _, b = self.adm.post("/api/v1/cases", {
            "type": "complaint", "subject": subject, "priority": priority,
            "assignee_id": self.ids["ann"], "team_id": self.team})
        self.assertEqual(st, 201, b)
        return b["id"]

    def notes(self, user, assigned=False):
        """The user's notifications in id order; without the case.assigned ones unless asked
        (opening a case assigned to ann tells her so)."""
        rows = self.srv.sql("select id, kind, title_en, title_zh, body_en, body_zh, case_id,"
                            " data, read_at from notifications where user_id = %d order by id"
                            % self.ids[user])
        return [r for r in rows if assigned or r["kind"] != "case.assigned"]

    @staticmethod
    def collect(stream, ids):
        """Notification frames until every id in ids has come (others are skipped)."""
        want, got = set(ids), {}
        while not want <= set(got):
            f = stream.next("notification")
            got[int(f["id"])] = f
        return [got[i] for i in ids]


class TestComplaintEscalation(Base):
    def test_breach_notifies_raises_priority_streams_and_survives_kill9(self):
        cid = self.open_case()
        subject = "case:%d" % cid
        ann_stream = self.stream(self.ann)
        sue_stream = self.stream(self.sue)
        self.assertEqual(ann_stream.status, 200)
        self.assertTrue(ann_stream.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(ann_stream.next()["retry"], "3000")
        self.assertEqual(sue_stream.next()["retry"], "3000")
        # Ten days ago: opened, assigned within a minute, answered within two. Assign and
        # first reply are done in time; resolve (3 business days, warnings at 50 % and 80 %)
        # is long overdue, so the scheduler fires warning 0, warning 1 and the breach at once.
        t0 = int(time.time() * 1000) - 10 * DAY
        st, _, b = self.adm.post("/api/v1/events", {"events": [
            ev("case.opened", subject, t0, data={"type": "complaint"}),
            ev("case.assigned", subject, t0 + 60000,
               data={"assignee": "ann", "team": "complaints"}),
            ev("case.replied", subject, t0 + 120000, actor="ann", data={"by": "staff"}),
        ]})
        self.assertEqual(st, 201, b)
        # The resolve rules of the default Complaint handling process:
        #   0 warning       notify_assignee   → w0, w1
        #   1 warning at 1  notify_supervisor → w1
        #   2 breach        notify_assignee
        #   3 breach        notify_supervisor
        #   4 breach        raise_priority    (normal → high)
        # = 6 escalation rows, all done: ann gets 2 warnings + 1 breach, sue 2 escalations.
        rows = wait_for(lambda: (lambda r: r if len(r) == 6 else None)(self.srv.sql(
            "select rule, kind, action, outcome, step_key, detail from escalations"
            " order by event_id, rule")), what="6 escalation rows")
        self.assertEqual([(r["kind"], r["rule"], r["action"], r["outcome"]) for r in rows], [
            ("warning", 0, "notify_assignee", "done"),
            ("warning", 0, "notify_assignee", "done"),
            ("warning", 1, "notify_supervisor", "done"),
            ("breach", 2, "notify_assignee", "done"),
            ("breach", 3, "notify_supervisor", "done"),
            ("breach", 4, "raise_priority", "done"),
        ])
        self.assertEqual({r["step_key"] for r in rows}, {"resolve"})
        self.assertEqual(rows[5]["detail"], "normal → high")
        breach = self.srv.sql("select data from events where type = 'sla.breached' and"
                              " subject = '%s'" % subject)
        self.assertEqual(len(breach), 1)
        due = json.loads(breach[0]["data"])["due_at"]  # "YYYY-MM-DDTHH:MM:SS.mmmZ"
        due_text = "%s %s UTC" % (due[:10], due[11:16])

        ann = self.notes("ann")
        self.assertEqual([n["kind"] for n in ann], ["sla.warning", "sla.warning", "sla.breached"])
        self.assertEqual(ann[0]["title_en"], "Due soon: Resolve within 3 business days")
        self.assertEqual(ann[0]["title_zh"], "即将超时：3个工作日内解决")
        self.assertEqual(ann[2]["title_en"], "Overdue: Resolve within 3 business days")
        self.assertEqual(ann[2]["title_zh"], "已超时：3个工作日内解决")
        self.assertEqual(ann[2]["body_en"],
                         "Case #%d \u201cWater leak in 3-201\u201d: \u201cResolve within 3 business"
                         " days\u201d was due at %s and is overdue." % (cid, due_text))
        self.assertEqual(ann[2]["body_zh"],
                         "工单 #%d\u201cWater leak in 3-201\u201d：\u201c3个工作日内解决\u201d已于 %s"
                         " 到期，现已超时。" % (cid, due_text))
        self.assertEqual({n["case_id"] for n in ann}, {cid})
        sue = self.notes("sue")
        self.assertEqual([n["kind"] for n in sue], ["escalation", "escalation"])
        self.assertEqual(sue[0]["title_en"], "At risk: Resolve within 3 business days")
        self.assertEqual(sue[0]["title_zh"], "超时风险：3个工作日内解决")
        self.assertEqual(sue[1]["title_en"], "Escalated: Resolve within 3 business days is overdue")
        self.assertEqual(sue[1]["title_zh"], "升级：3个工作日内解决已超时")
        # Actions run before notifications, so the supervisor learns the priority was raised.
        self.assertTrue(sue[1]["body_en"].endswith(
            "was due at %s and is overdue. Assignee: ann. Priority raised to high." % due_text),
            sue[1]["body_en"])
        self.assertTrue(sue[1]["body_zh"].endswith("处理人：ann。优先级已提升为高。"), sue[1]["body_zh"])
        self.assertEqual(json.loads(sue[1]["data"])["priority"], "high")

        # The case: priority raised one level, audited as the escalation runner.
        st, _, c = self.adm.get("/api/v1/cases/%d" % cid)
        self.assertEqual(c["priority"], "high")
        audit = self.srv.sql("select actor, actor_id, action, before, after from audit"
                             " where entity = 'case' and entity_id = %d and action ="
                             " 'raise_priority'" % cid)
        self.assertEqual(len(audit), 1)
        self.assertEqual((audit[0]["actor"], audit[0]["actor_id"]), ("escalation", None))
        self.assertIn('"priority":"high"', audit[0]["after"])

        # Live: ann's stream got her three notifications, with ids; sue's the board's sla
        # events (3) and her two notifications.
        got = self.collect(ann_stream, [n["id"] for n in ann])
        first = json.loads(got[2]["data"])
        self.assertEqual(first["title"], {"en": ann[2]["title_en"], "zh": ann[2]["title_zh"]})
        self.assertEqual(first["kind"], "sla.breached")
        kinds = sorted(json.loads(sue_stream.next("sla")["data"])["type"] for _ in range(3))
        self.assertEqual(kinds, ["sla.breached", "sla.warning", "sla.warning"])
        self.collect(sue_stream, [n["id"] for n in sue])

        # Resume: a reconnect with Last-Event-ID gets what came after that id, in order.
        again = self.stream(self.ann, headers={"Last-Event-ID": str(ann[0]["id"])})
        got = [again.next("notification", timeout=5) for _ in range(2)]
        self.assertEqual([int(f["id"]) for f in got], [ann[1]["id"], ann[2]["id"]])

        # kill -9 and start again: nothing is escalated twice.
        self.srv.kill9()
        self.srv.start()
        time.sleep(2.5)
        self.assertEqual(len(self.srv.sql("select id from escalations")), 6)
        # 5 from escalation and ann's "case assigned to you" from opening the case.
        self.assertEqual(len(self.srv.sql("select id from notifications")), 6)
        self.assertEqual(len(self.srv.sql(
            "select id from audit where action = 'raise_priority'")), 1)
        st, _, c = self.adm.get("/api/v1/cases/%d" % cid)
        self.assertEqual(c["priority"], "high")


QUICK = {
    "name": "Quick complaint check",
    "calendar": "default",
    "trigger": {"type": "custom.quick_open"},
    "ownership": [{"on": {"type": "custom.quick_open"}, "actor": "data.assignee",
                   "team": "data.team"}],
    "steps": [{"key": "react", "title": {"en": "React within 2 s", "zh": "2秒内响应"},
               "function": "other", "done_on": {"type": "custom.quick_done"},
               "standard": {"within": "2s"}, "warn_at": [0.5],
               "escalate": [
                   {"on": "warning", "at": 0, "do": "notify_assignee"},
                   {"on": "breach", "do": "reassign", "to": "supervisor"},
                   {"on": "breach", "do": "raise_priority", "to": "urgent"},
                   {"on": "breach", "do": "notify_supervisor"}]}],
}


class TestReassign(Base):
    def test_breach_reassigns_to_the_supervisor(self):
        st, _, b = self.adm.post("/api/v1/processes", QUICK)
        self.assertEqual(st, 201, b)
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % b["id"])
        self.assertEqual(st, 201, b)
        # The team's supervisor is named on the team (not only by role).
        st, h, t = self.adm.get("/api/v1/teams/%d" % self.team)
        st, _, b = self.adm.patch("/api/v1/teams/%d" % self.team,
                                  {"supervisor_id": self.ids["sue"]},
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        cid = self.open_case("Lift out of order")
        subject = "case:%d" % cid
        sue_stream = self.stream(self.sue)
        sue_stream.next()
        # A version is in force from its publication: open just after now (warning at 1 s,
        # breach at 2 s).
        t0 = int(time.time() * 1000) + 300
        st, _, b = self.adm.post("/api/v1/events", ev(
            "custom.quick_open", subject, t0, data={"assignee": "ann", "team": "complaints"}))
        self.assertEqual(st, 201, b)
        rows = wait_for(lambda: (lambda r: r if len(r) == 4 else None)(self.srv.sql(
            "select rule, kind, action, outcome, detail from escalations order by event_id,"
            " rule")), what="4 escalation rows")
        self.assertEqual([(r["kind"], r["action"], r["outcome"], r["detail"]) for r in rows], [
            ("warning", "notify_assignee", "done", "notified ann"),
            ("breach", "reassign", "done", "to sue"),
            ("breach", "raise_priority", "done", "normal → urgent"),
            ("breach", "notify_supervisor", "done", "notified 1 supervisor"),
        ])
        st, _, c = self.adm.get("/api/v1/cases/%d" % cid)
        self.assertEqual((c["assignee_id"], c["priority"]), (self.ids["sue"], "urgent"))
        # Through the CRM: a case.assigned event by the escalation runner, and audit rows.
        assigned = wait_for(lambda: self.srv.sql(
            "select actor, data from events where type = 'case.assigned' and subject = '%s'"
            " and actor = 'escalation'" % subject), what="case.assigned by escalation")
        self.assertEqual(json.loads(assigned[0]["data"])["assignee"], "sue")
        acts = self.srv.sql("select actor, action from audit where entity = 'case' and"
                            " entity_id = %d and actor = 'escalation' order by id" % cid)
        self.assertEqual([a["action"] for a in acts], ["assign", "raise_priority"])
        # ann was told when the case was opened for her; escalation's own reassignment does
        # not send a second "assigned" notice (it sends escalation.assigned).
        self.assertEqual([n["kind"] for n in self.notes("ann", assigned=True)],
                         ["case.assigned", "sla.warning"])
        sue = self.notes("sue")
        self.assertEqual([n["kind"] for n in sue], ["escalation.assigned", "escalation"])
        self.assertEqual(sue[0]["title_en"], "Assigned to you by escalation: case #%d" % cid)
        self.assertEqual(sue[0]["title_zh"], "因升级分派给您：工单 #%d" % cid)
        self.assertIn("Reassigned to sue. ", sue[1]["body_en"] + " ")
        self.assertIn("已改派给 sue。", sue[1]["body_zh"])
        f = sue_stream.next("notification")
        self.assertEqual(int(f["id"]), sue[0]["id"])
        # The escalation log, for supervisors.
        st, _, b = self.sue.get("/api/v1/escalations?case_id=%d" % cid)
        self.assertEqual(st, 200, b)
        self.assertEqual([x["action"] for x in b["items"]],
                         ["notify_supervisor", "raise_priority", "reassign", "notify_assignee"])
        st, _, b = self.ann.get("/api/v1/escalations")
        self.assertEqual(st, 403)

    def test_manual_assignment_notifies_the_assignee(self):
        cid = self.open_case("Broken intercom")
        mine = wait_for(lambda: self.notes("ann", assigned=True), what="ann's notice")
        self.assertEqual(mine[0]["kind"], "case.assigned")
        self.assertEqual(mine[0]["title_en"], "Case #%d assigned to you" % cid)
        self.assertEqual(mine[0]["title_zh"], "工单 #%d 已分派给您" % cid)
        self.assertEqual(mine[0]["body_en"],
                         "\u201cBroken intercom\u201d (priority normal) \u2014 assigned by ada.")
        self.assertEqual(mine[0]["body_zh"],
                         "\u201cBroken intercom\u201d（优先级：普通）\u2014\u2014由 ada 分派。")
        # ann hands it to sue: sue is told; then sue takes it back from nobody to herself
        # (a self-assignment tells nobody).
        st, _, b = self.ann.post("/api/v1/cases/%d/assign" % cid, {"assignee_id": self.ids["sue"]})
        self.assertEqual(st, 200, b)
        sue = wait_for(lambda: self.notes("sue", assigned=True), what="sue's notice")
        self.assertEqual([n["kind"] for n in sue], ["case.assigned"])
        self.assertTrue(sue[0]["body_en"].endswith("assigned by ann."), sue[0]["body_en"])
        st, _, b = self.sue.post("/api/v1/cases/%d/assign" % cid, {"assignee_id": self.ids["ann"]})
        self.assertEqual(st, 200, b)
        wait_for(lambda: len(self.notes("ann", assigned=True)) == 2, what="ann's second notice")
        st, _, b = self.ann.post("/api/v1/cases/%d/assign" % cid, {"assignee_id": self.ids["ann"]})
        time.sleep(1.5)
        self.assertEqual(len(self.notes("ann", assigned=True)), 2)  # no change, no notice
        self.assertEqual(len(self.notes("sue", assigned=True)), 1)

    def test_bad_rules_are_refused_with_pointers_and_nothing_written(self):
        bad = json.loads(json.dumps(QUICK))
        bad["name"] = "Bad rules"
        bad["steps"][0]["escalate"] = [
            {"on": "breach", "at": 0, "do": "notify_assignee"},
            {"on": "warning", "at": 3, "do": "notify_supervisor"},
            {"on": "breach", "do": "reassign"},
            {"on": "breach", "do": "raise_priority", "to": "asap"},
            {"on": "later", "do": "shout"},
        ]
        st, _, b = self.adm.post("/api/v1/processes", bad)  # a draft may be anything
        self.assertEqual(st, 201, b)
        pid = b["id"]
        before = self.srv.sql("select count(*) as n from process_versions")[0]["n"]
        st, _, b = self.adm.post("/api/v1/processes/%d/publish" % pid)
        self.assertEqual(st, 422, b)
        ptrs = {e["pointer"] for e in b["errors"]}
        for p in ("/steps/0/escalate/0/at", "/steps/0/escalate/1/at", "/steps/0/escalate/2/to",
                  "/steps/0/escalate/3/to", "/steps/0/escalate/4/on", "/steps/0/escalate/4/do"):
            self.assertTrue(any(x.endswith(p) for x in ptrs), (p, ptrs))
        self.assertEqual(self.srv.sql("select count(*) as n from process_versions")[0]["n"],
                         before)


class TestNotificationsAPI(Base):
    def seed(self):
        """Five notifications for ann and one for sue, written as the runner would."""
        now = int(time.time() * 1000)
        vals = ",".join("(%d, 'sla.warning', 'T%d', 'T%d', 'B', 'B', 'case:1', %d)"
                        % (self.ids["ann"], i, i, now) for i in range(5))
        self.srv.sql_write("insert into notifications (user_id, kind, title_en, title_zh,"
                           " body_en, body_zh, subject, created_at) values " + vals)
        self.srv.sql_write("insert into notifications (user_id, kind, title_en, title_zh,"
                           " body_en, body_zh, created_at) values (%d, 'escalation', 'S', 'S',"
                           " 'B', 'B', %d)" % (self.ids["sue"], now))
        return [r["id"] for r in self.srv.sql(
            "select id from notifications where user_id = %d order by id" % self.ids["ann"])]

    def unread(self, user):
        return self.srv.sql("select count(*) as n from notifications where user_id = %d and"
                            " read_at is null" % self.ids[user])[0]["n"]

    def test_list_read_read_all_and_rejections(self):
        ids = self.seed()
        # Newest first, two per page: 5 → pages of 2, 2, 1; the last has no cursor.
        st, _, b = self.ann.get("/api/v1/notifications?limit=2")
        self.assertEqual(st, 200, b)
        self.assertEqual([x["id"] for x in b["items"]], [ids[4], ids[3]])
        self.assertEqual(b["unread"], 5)
        st, _, b2 = self.ann.get("/api/v1/notifications?limit=2&cursor=" + b["next_cursor"])
        self.assertEqual([x["id"] for x in b2["items"]], [ids[2], ids[1]])
        st, _, b3 = self.ann.get("/api/v1/notifications?limit=2&cursor=" + b2["next_cursor"])
        self.assertEqual(([x["id"] for x in b3["items"]], b3["next_cursor"]), ([ids[0]], None))
        # Only the caller's own: sue sees hers alone.
        st, _, b = self.sue.get("/api/v1/notifications")
        self.assertEqual([x["kind"] for x in b["items"]], ["escalation"])
        sue_id = b["items"][0]["id"]

        # Rejected requests write nothing.
        for path, body, want in (
                ("/api/v1/notifications/%d/read" % sue_id, {}, 404),   # not hers
                ("/api/v1/notifications/999999/read", {}, 404),
                ("/api/v1/notifications/%d/read" % ids[0], {"read": True}, 422),
                ("/api/v1/notifications/read-all", {"all": 1}, 422)):
            st, _, b = self.ann.post(path, body)
            self.assertEqual(st, want, (path, b))
            self.assertEqual((self.unread("ann"), self.unread("sue")), (5, 1))
        st, _, b = self.ann.req("POST", "/api/v1/notifications/read-all", raw=b"{nope",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        st, _, b = self.ann.get("/api/v1/notifications?unread=maybe")
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"][0]["pointer"], "/query/unread")
        self.assertEqual((self.unread("ann"), self.unread("sue")), (5, 1))

        st, _, b = self.ann.post("/api/v1/notifications/%d/read" % ids[1])
        self.assertEqual(st, 200, b)
        self.assertTrue(b["read"])
        first_read = b["read_at"]
        st, _, b = self.ann.post("/api/v1/notifications/%d/read" % ids[1])
        self.assertEqual(b["read_at"], first_read)  # reading again keeps the first time
        st, _, b = self.ann.get("/api/v1/notifications?unread=1")
        self.assertEqual([x["id"] for x in b["items"]], [ids[4], ids[3], ids[2], ids[0]])
        self.assertEqual(b["unread"], 4)
        st, _, b = self.ann.post("/api/v1/notifications/read-all")
        self.assertEqual((st, b["marked"]), (200, 4))
        self.assertEqual((self.unread("ann"), self.unread("sue")), (0, 1))
        st, _, b = self.ann.get("/api/v1/notifications?unread=true")
        self.assertEqual((b["items"], b["unread"]), ([], 0))


class TestStream(Base):
    extra = ("--max-streams-per-user", "2", "--stream-heartbeat", "1")

    def test_accept_auth_limits_heartbeat(self):
        st, _, b = self.ann.get("/api/v1/stream")  # Accept: application/json
        self.assertEqual(st, 406, b)
        st, _, b = self.srv.client().get("/api/v1/stream", headers={"Accept": "*/*"})
        self.assertEqual(st, 401)
        st, _, b = self.ann.get("/api/v1/stream", headers={"Accept": "text/event-stream",
                                                           "Last-Event-ID": "x"})
        self.assertEqual(st, 422)
        a = self.stream(self.ann)
        b2 = self.stream(self.ann)
        self.assertEqual((a.status, b2.status), (200, 200))
        self.assertEqual(a.next()["retry"], "3000")
        # Over the per-user limit the oldest stream is ended, not the new one refused.
        c = self.stream(self.ann)
        self.assertEqual(c.status, 200)
        self.assertTrue(a.ended.wait(5), "the oldest stream was not ended")
        self.assertFalse(b2.ended.is_set())
        self.streams.remove(c)
        c.close()
        # A token works too (API integrations), and the heartbeat keeps idle streams alive.
        tok = self.srv.token("sue", "crm:read")
        s = self.stream(None, token=tok)
        self.assertEqual(s.status, 200)
        self.assertEqual(s.next()["retry"], "3000")
        self.assertEqual(s.next(timeout=5), {"comment": "keep-alive"})
        b2.close()
        d = wait_for(lambda: (lambda x: x if x.status == 200 else x.close())(
            SSE(self.srv, self.ann)), timeout=6, what="a freed stream slot")
        self.streams.append(d)

    def test_sigterm_with_open_streams_exits_cleanly(self):
        for c in (self.sue, self.sue, self.ann):
            self.assertEqual(self.stream(c).status, 200)
        t = time.time()
        self.srv.stop()  # raises unless the exit code is 0
        self.assertLess(time.time() - t, 8)
        for s in self.streams:
            self.assertTrue(s.ended.wait(5))


class TestTaskEvents(Base):
    """`event: task` on the stream: a person's inbox changes are pushed, in the shape of
    GET /api/v1/tasks items, or {"id", "removed": true, "subject"}."""

    def tasks_of(self, stream, n, timeout=15):
        return [json.loads(stream.next("task", timeout=timeout)["data"]) for _ in range(n)]

    def no_task(self, stream, wait=1.0):
        try:
            f = stream.next("task", timeout=wait)
        except AssertionError:
            return
        self.fail("unexpected task event %r" % f)

    def test_tasks_appear_move_and_leave(self):
        self.srv.add_user("bob", "agent", team="complaints")
        self.ids["bob"] = self.srv.sql("select id from users where username = 'bob'")[0]["id"]
        bob = self.srv.login("bob")
        ann_s, bob_s, sue_s = self.stream(self.ann), self.stream(bob), self.stream(self.sue)
        for s in (ann_s, bob_s, sue_s):
            s.next()  # retry:
        # A complaint for ann (built-in Complaint handling: assign is done by the opening
        # assignment; first_reply and resolve are open and hers).
        cid = self.open_case()
        got = self.tasks_of(ann_s, 2)
        st, _, inbox = self.ann.get("/api/v1/tasks?mine=1")
        self.assertEqual(st, 200, inbox)
        strip = (lambda t: {k: v for k, v in t.items() if k != "time_left_ms"})
        # The same objects as the inbox's, time left aside (it is as of each one's moment).
        self.assertEqual(sorted((strip(t) for t in got), key=lambda t: t["id"]),
                         sorted((strip(t) for t in inbox["items"]), key=lambda t: t["id"]))
        self.assertEqual({t["step"]["key"] for t in got}, {"first_reply", "resolve"})
        self.assertTrue(all(t["assignee"] == "ann" and t["case_id"] == cid and
                            "time_left_ms" in t for t in got))
        ids = {t["id"] for t in got}
        # Held by ann: bob and sue (team members) are not told.
        self.no_task(bob_s)
        self.no_task(sue_s, 0.2)
        # ann hands the case to bob: hers are removed, bob's appear.
        st, _, b = self.ann.post("/api/v1/cases/%d/assign" % cid, {"assignee_id": self.ids["bob"]})
        self.assertEqual(st, 200, b)
        gone = self.tasks_of(ann_s, 2)
        self.assertEqual({(t["id"], t["removed"], t["subject"]) for t in gone},
                         {(i, True, "case:%d" % cid) for i in ids})
        mine = self.tasks_of(bob_s, 2)
        self.assertEqual({(t["id"], t["assignee"]) for t in mine}, {(i, "bob") for i in ids})
        # Back to the team's queue (manual routing: nobody is picked): every member is told,
        # the task now held by the team alone.
        st, _, b = self.adm.post("/api/v1/cases/%d/assign" % cid,
                                 {"team_id": self.team, "assignee_id": None})
        self.assertEqual(st, 200, b)
        for s in (ann_s, bob_s, sue_s):
            q = self.tasks_of(s, 2)
            self.assertEqual({(t["id"], t["assignee"], t["team"]) for t in q},
                             {(i, None, "complaints") for i in ids})
        # A staff reply completes the first reply: it leaves every member's inbox.
        fr = [t["id"] for t in got if t["step"]["key"] == "first_reply"][0]
        st, _, b = self.ann.post("/api/v1/interactions", {"kind": "call", "direction": "out",
                                                          "case_id": cid})
        self.assertEqual(st, 201, b)
        for s in (ann_s, bob_s, sue_s):
            self.assertEqual(self.tasks_of(s, 1), [{"id": fr, "removed": True,
                                                    "subject": "case:%d" % cid}])
        self.assertGreaterEqual(metric(self.adm, "smile_notify_task_events_total"), 2 + 4 + 6 + 3)


def metric(client, name):
    st, _, body = client.req("GET", "/metrics", headers={"Accept": "text/plain"})
    text = body if isinstance(body, str) else body.decode() if isinstance(body, bytes) else ""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


class TestClosedStreams(Base):
    """Default limits (8 streams per user): closed tabs free their slots at once."""

    def test_closed_sockets_free_slots_and_the_oldest_is_evicted(self):
        first = [self.stream(self.ann) for _ in range(8)]
        for s in first:
            self.assertEqual(s.status, 200)
            self.assertEqual(s.next()["retry"], "3000")  # each is parked (suspended) now
        time.sleep(0.3)
        for s in first[:3]:
            s.close()
        # Three more at once: each must be 200 within 1 s, well before any heartbeat (15 s).
        out, t0 = [], time.time()

        def opener():
            out.append(SSE(self.srv, self.ann))
        ts = [threading.Thread(target=opener) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(5)
        took = time.time() - t0
        self.streams.extend(out)
        self.assertEqual([s.status for s in out], [200, 200, 200])
        self.assertLess(took, 1.0)
        # The five still connected were not touched: the closed ones were found by probing
        # their sockets, not by evicting live streams.
        time.sleep(0.5)
        self.assertEqual([s.ended.is_set() for s in first[3:]], [False] * 5)
        self.assertEqual(metric(self.adm, "smile_http_streams_client_left_total"), 3)
        self.assertEqual(metric(self.adm, "smile_http_streams_evicted_total"), 0)
        self.assertEqual(metric(self.adm, "smile_http_streams_open"), 8)
        # A ninth live stream: ann's oldest live one (first[3]) is ended to make room.
        ninth = self.stream(self.ann)
        self.assertEqual(ninth.status, 200)
        self.assertTrue(first[3].ended.wait(5), "the oldest stream was not ended")
        self.assertEqual([s.ended.is_set() for s in first[4:]], [False] * 4)
        self.assertEqual(metric(self.adm, "smile_http_streams_evicted_total"), 1)
        self.assertEqual(metric(self.adm, "smile_http_streams_open"), 8)
        # Another user is not affected by ann's limit.
        self.assertEqual(self.stream(self.sue).status, 200)

    def test_a_closed_tab_is_released_within_seconds_without_a_write(self):
        s = self.stream(self.ann)
        self.assertEqual(s.next()["retry"], "3000")
        wait_for(lambda: metric(self.adm, "smile_http_streams_open") == 1, what="1 stream")
        s.close()
        # The heartbeat is 15 s; the once-a-second probe releases it long before.
        t0 = time.time()
        wait_for(lambda: metric(self.adm, "smile_http_streams_open") == 0, timeout=5,
                 what="the closed stream released")
        self.assertLess(time.time() - t0, 3)


if __name__ == "__main__":
    unittest.main()
