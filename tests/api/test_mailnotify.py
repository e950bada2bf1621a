"""test_mailnotify.py — system e-mail end to end with a real SMTP receiver (aiosmtpd) on
127.0.0.1: a complaint breaches (events dated ten days back, so the scheduler fires at once)
and, with notify_email=breach, the assignee (locale en) and the team supervisor (zh-CN) each
receive exactly one e-mail, subject in their own language first; with the SMTP server down the
outbox keeps the messages pending (attempts counted, the error kept) and delivers them once
the server is up; a kill -9 with pending mail and a restart delivers each exactly once; and a
supervisor's scorecard digest of a closed period is e-mailed once and marked delivered."""
import email
import email.header
import email.policy
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402
from mailservers import Controller, SmtpSink, _Handler, free_port  # noqa: E402

DAY = 24 * 3600 * 1000


def iso_ms(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def ev(type_, subject, t, actor=None, data=None):
    e = {"type": type_, "subject": subject, "occurred_at": t if isinstance(t, str) else iso_ms(t),
         "source": "test", "source_id": "%s@%s@%s" % (subject, type_, t)}
    if actor:
        e["actor"] = actor
    if data:
        e["data"] = data
    return e


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class PortSink(SmtpSink):
    """The mail part's SmtpSink on a port chosen beforehand (to start it after Smile)."""

    def __init__(self, port):  # noqa: super().__init__ would pick its own port
        self.port = port
        self.messages = []
        self.lock = threading.Lock()
        self.refuse = False
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=port)
        self.controller.start()


def parsed(m):
    msg = email.message_from_bytes(m["data"], policy=email.policy.default)
    return {"to": m["rcpt"], "subject": str(msg["subject"]), "body": msg.get_content(),
            "message_id": msg["message-id"], "auto": msg["auto-submitted"], "from": msg["from"]}


class Base(unittest.TestCase):
    def make(self, smtp_port, retry_ms=200, max_attempts=1000):
        # max_attempts: high by default, so the fast back-off never gives a message up
        # while a test waits for its server.
        self.srv = Server(start=False, extra_args=[
            "--smtp-url", "smtp://127.0.0.1:%d" % smtp_port, "--mail-from", "service@estate.example",
            "--notify-email", "breach", "--smtp-retry-ms", str(retry_ms),
            "--smtp-retry-max-ms", "500", "--mailnotify-max-attempts", str(max_attempts)])
        srv = self.srv
        srv.cli("init")
        srv.cli("team", "add", "complaints")
        srv.add_user("ada", "admin")
        srv.add_user("ann", "agent", team="complaints")
        srv.add_user("sue", "supervisor", team="complaints")
        srv.sql_write("update users set email = 'ann@estate.example', locale = 'en'"
                      " where username = 'ann'")
        srv.sql_write("update users set email = 'sue@estate.example', locale = 'zh-CN'"
                      " where username = 'sue'")
        srv.start()
        self.ids = {r["username"]: r["id"] for r in srv.sql("select id, username from users")}
        self.team = srv.sql("select id from teams where name = 'complaints'")[0]["id"]
        self.adm = srv.client(srv.token("ada", "admin,crm:read,crm:write,events:write,kpi:read"))

    def tearDown(self):
        if getattr(self, "srv", None) and self.srv.proc:
            self.srv.stop()
        for s in getattr(self, "sinks", []):
            s.stop()

    def breach(self):
        """A complaint assigned to ann ten days ago, replied to, never resolved: its resolve
        step (3 business days) has long breached."""
        st, _, b = self.adm.post("/api/v1/cases", {
            "type": "complaint", "subject": "Water leak in 3-201", "priority": "normal",
            "assignee_id": self.ids["ann"], "team_id": self.team})
        self.assertEqual(st, 201, b)
        cid, subject = b["id"], "case:%d" % b["id"]
        t0 = int(time.time() * 1000) - 10 * DAY
        st, _, b = self.adm.post("/api/v1/events", {"events": [
            ev("case.opened", subject, t0, data={"type": "complaint"}),
            ev("case.assigned", subject, t0 + 60000,
               data={"assignee": "ann", "team": "complaints"}),
            ev("case.replied", subject, t0 + 120000, actor="ann", data={"by": "staff"}),
        ]})
        self.assertEqual(st, 201, b)
        return cid

    def breach_titles(self):
        """The titles of the two notifications e-mailed under notify_email=breach: ann's
        sla.breached and sue's escalation of the breach (warnings are not e-mailed)."""
        ann = self.srv.sql("select id, title_en from notifications where kind = 'sla.breached'"
                           " and user_id = %d" % self.ids["ann"])
        sue = self.srv.sql("select id, title_zh, data from notifications where kind = 'escalation'"
                           " and user_id = %d and data like '%%\"deadline\":\"breach\"%%'"
                           % self.ids["sue"])
        self.assertEqual(len(ann), 1)
        self.assertEqual(len(sue), 1)
        return ann[0], sue[0]

    def outbox(self):
        return self.srv.sql("select id, to_addr, kind, ref, attempts, sent_at, last_error"
                            " from mail_outbox order by id")


class TestBreachMail(Base):
    def test_assignee_and_supervisor_get_one_mail_each_in_their_language(self):
        sink = SmtpSink()
        self.sinks = [sink]
        self.make(sink.port)
        self.breach()
        wait_for(lambda: len(sink.messages) >= 2, what="two e-mails")
        ann_n, sue_n = self.breach_titles()
        time.sleep(1.5)  # nothing more comes: warnings are not e-mailed, nothing twice
        self.assertEqual(len(sink.messages), 2)
        got = {p["to"][0]: p for p in map(parsed, sink.messages)}
        self.assertEqual(set(got), {"ann@estate.example", "sue@estate.example"})
        ann, sue = got["ann@estate.example"], got["sue@estate.example"]
        # ann reads English: the title of the resolve step's breach, English first.
        self.assertEqual(ann["subject"], "Overdue: Resolve within 3 business days")
        self.assertEqual(ann["subject"], ann_n["title_en"])
        self.assertTrue(ann["body"].startswith("Case #"), ann["body"])
        self.assertIn("\n——\n已超时：3个工作日内解决\n", ann["body"])
        # sue reads Chinese: "升级：…已超时" first, the English below.
        self.assertTrue(sue["subject"].startswith("升级："), sue["subject"])
        self.assertEqual(sue["subject"], sue_n["title_zh"])
        self.assertTrue(sue["body"].startswith("工单 #"), sue["body"])
        self.assertIn("\n——\nEscalated: ", sue["body"])
        for p in (ann, sue):
            self.assertEqual(p["auto"], "auto-generated")
            self.assertIn("service@estate.example", p["from"])
            self.assertRegex(p["message_id"], r"^<smile\.outbox\.\d+@estate\.example>$")
        rows = self.outbox()
        self.assertEqual([(r["kind"], r["ref"]) for r in rows],
                         [("sla.breached", "notification:%d" % ann_n["id"]),
                          ("escalation", "notification:%d" % sue_n["id"])]
                         if rows[0]["kind"] == "sla.breached" else
                         [("escalation", "notification:%d" % sue_n["id"]),
                          ("sla.breached", "notification:%d" % ann_n["id"])])
        self.assertTrue(all(r["sent_at"] and r["attempts"] == 1 and r["last_error"] is None
                            for r in rows), rows)


class TestSmtpDown(Base):
    def test_pending_until_the_server_is_up(self):
        port = free_port()  # nothing listens there yet
        self.make(port)
        self.breach()
        # Both messages are queued and tried: attempts ≥ 1, the connection error kept.
        rows = wait_for(lambda: (lambda r: r if len(r) == 2 and all(
            x["attempts"] >= 1 for x in r) else None)(self.outbox()), what="failed attempts")
        self.assertTrue(all(r["sent_at"] is None and r["last_error"] for r in rows), rows)
        sink = PortSink(port)
        self.sinks = [sink]
        wait_for(lambda: all(r["sent_at"] for r in self.outbox()), what="delivery")
        time.sleep(1.5)
        self.assertEqual(sorted(m["rcpt"][0] for m in sink.messages),
                         ["ann@estate.example", "sue@estate.example"])
        # /metrics: 2 queued, 2 sent, at least one failed attempt each before, none pending.
        _, _, text = self.srv.client().get("/metrics")
        lines = dict(ln.rsplit(" ", 1) for ln in text.splitlines()
                     if ln.startswith("smile_mail_outbox"))
        self.assertEqual(lines["smile_mail_outbox_queued_total"], "2")
        self.assertEqual(lines["smile_mail_outbox_sent_total"], "2")
        self.assertGreaterEqual(int(lines["smile_mail_outbox_failures_total"]), 2)
        self.assertEqual(lines["smile_mail_outbox_pending"], "0")

    def test_kill9_with_pending_mail_then_restart_delivers_exactly_once(self):
        port = free_port()
        self.make(port)
        self.breach()
        wait_for(lambda: (lambda r: len(r) == 2 and all(x["attempts"] >= 1 for x in r))(
            self.outbox()), what="failed attempts")
        self.srv.kill9()
        sink = PortSink(port)
        self.sinks = [sink]
        self.srv.start()
        wait_for(lambda: all(r["sent_at"] for r in self.outbox()), what="delivery after restart")
        time.sleep(2)  # a second sender pass, or escalation again, would show here
        self.assertEqual(sorted(m["rcpt"][0] for m in sink.messages),
                         ["ann@estate.example", "sue@estate.example"])
        self.assertEqual(len(self.outbox()), 2)
        ids = [parsed(m)["message_id"] for m in sink.messages]
        self.assertEqual(len(set(ids)), 2)


class TestGiveUp(Base):
    def metrics(self):
        _, _, text = self.srv.client().get("/metrics")
        return dict(ln.rsplit(" ", 1) for ln in text.splitlines()
                    if ln.startswith("smile_mail_outbox"))

    def test_given_up_after_max_attempts_listed_and_retried(self):
        port = free_port()  # the SMTP server is down
        self.make(port, max_attempts=3)
        self.breach()
        # Attempts at t, t + 200 ms, t + 200 + 400 ms (back-off 200 · 2^(n−1), at most 500):
        # the third is the last allowed, so both rows are given up within a second or two.
        rows = wait_for(lambda: (lambda r: r if len(r) == 2 and all(
            x["failed_at"] for x in r) else None)(self.srv.sql(
                "select id, attempts, failed_at, fail_reason, sent_at from mail_outbox"
                " order by id")), what="given up")
        self.assertEqual([r["attempts"] for r in rows], [3, 3])
        self.assertTrue(all(r["fail_reason"].startswith("gave up after 3 attempts: ")
                            and r["sent_at"] is None for r in rows), rows)
        time.sleep(1.5)  # never tried again
        self.assertEqual([r["attempts"] for r in self.srv.sql(
            "select attempts from mail_outbox order by id")], [3, 3])
        m = wait_for(lambda: (lambda x: x if x["smile_mail_outbox_failed"] == "2" else None)(
            self.metrics()), what="failed gauge")
        self.assertEqual((m["smile_mail_outbox_given_up_total"], m["smile_mail_outbox_pending"],
                          m["smile_mail_outbox_failures_total"]), ("2", "0", "6"))
        # The admin list: failed rows, newest first; pending none; sent none.
        st, _, b = self.adm.get("/api/v1/mail-outbox?state=failed")
        self.assertEqual(st, 200, b)
        self.assertEqual([x["id"] for x in b["items"]], [rows[1]["id"], rows[0]["id"]])
        item = b["items"][0]
        self.assertEqual((item["state"], item["attempts"], item["next_at"], item["sent_at"]),
                         ("failed", 3, None, None))
        self.assertTrue(item["fail_reason"].startswith("gave up after 3 attempts: "))
        self.assertIn(item["to"], ("ann@estate.example", "sue@estate.example"))
        self.assertNotIn("body", item)
        st, _, b = self.adm.get("/api/v1/mail-outbox?state=pending")
        self.assertEqual((st, b["items"]), (200, []))
        st, _, b = self.adm.get("/api/v1/mail-outbox?limit=1")
        self.assertEqual((len(b["items"]), b["next_cursor"]), (1, str(rows[1]["id"])))
        st, _, b = self.adm.get("/api/v1/mail-outbox?limit=1&cursor=" + b["next_cursor"])
        self.assertEqual(([x["id"] for x in b["items"]], b["next_cursor"]), ([rows[0]["id"]], None))
        # Rejected requests write nothing.
        ann = self.srv.login("ann")
        sue = self.srv.login("sue")
        audit = "select count(*) as n from audit where entity = 'mail_outbox'"
        self.assertEqual(self.adm.get("/api/v1/mail-outbox?state=lost").status, 422)
        self.assertEqual(self.adm.get("/api/v1/mail-outbox?limit=0").status, 422)
        self.assertEqual(ann.get("/api/v1/mail-outbox").status, 403)
        self.assertEqual(sue.get("/api/v1/mail-outbox").status, 403)
        self.assertEqual(ann.post("/api/v1/mail-outbox/%d/retry" % rows[0]["id"]).status, 403)
        self.assertEqual(sue.post("/api/v1/mail-outbox/%d/retry" % rows[0]["id"]).status, 403)
        self.assertEqual(self.adm.post("/api/v1/mail-outbox/999/retry").status, 404)
        self.assertEqual(self.srv.client().post("/api/v1/mail-outbox/1/retry").status, 401)
        self.assertEqual(self.srv.sql(audit)[0]["n"], 0)
        self.assertEqual(len(self.srv.sql("select id from mail_outbox where failed_at is null")),
                         0)
        # The server is back; an admin retries the first: it is sent, the other stays failed.
        sink = PortSink(port)
        self.sinks = [sink]
        st, _, b = self.adm.post("/api/v1/mail-outbox/%d/retry" % rows[0]["id"])
        self.assertEqual(st, 200, b)
        self.assertEqual((b["state"], b["attempts"], b["failed_at"], b["fail_reason"]),
                         ("pending", 0, None, None))
        wait_for(lambda: len(sink.messages) == 1, what="the retried e-mail")
        time.sleep(1.5)
        self.assertEqual(len(sink.messages), 1)
        got = self.srv.sql("select id, attempts, sent_at, failed_at from mail_outbox order by id")
        self.assertEqual([(r["attempts"], r["sent_at"] is not None, r["failed_at"] is not None)
                          for r in got], [(1, True, False), (3, False, True)])
        a = self.srv.sql("select action, actor, before, after from audit"
                         " where entity = 'mail_outbox'")
        self.assertEqual([(x["action"], x["actor"]) for x in a], [("retry", "ada (token 1)")])
        self.assertEqual(json.loads(a[0]["before"])["state"], "failed")
        self.assertEqual(json.loads(a[0]["after"])["state"], "pending")
        # A sent e-mail, or one still being tried, is not retried (409, nothing written).
        self.assertEqual(self.adm.post("/api/v1/mail-outbox/%d/retry" % rows[0]["id"]).status,
                         409)
        self.assertEqual(self.srv.sql(audit)[0]["n"], 1)
        st, _, b = self.adm.get("/api/v1/mail-outbox?state=sent")
        self.assertEqual([x["id"] for x in b["items"]], [rows[0]["id"]])
        m = self.metrics()
        self.assertEqual((m["smile_mail_outbox_sent_total"], m["smile_mail_outbox_failed"]),
                         ("1", "1"))


class TestDigestMail(Base):
    def test_digest_of_a_closed_period_is_mailed_once(self):
        sink = SmtpSink()
        self.sinks = [sink]
        self.make(sink.port)
        srv = self.srv
        st, h, b = self.adm.get("/api/v1/teams/%d" % self.team)
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.patch("/api/v1/teams/%d" % self.team,
                                  {"supervisor_id": self.ids["sue"]},
                                  headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, b)
        # October: one customer e-mail answered by ann after 3 h (within the 24 h standard).
        st, _, b = self.adm.post("/api/v1/events", {"events": [
            ev("email.received", "email:oct1", "2026-10-12T02:00:00Z"),
            ev("email.sent", "email:oct1", "2026-10-12T05:00:00Z", actor="ann")]})
        self.assertEqual(st, 201, b)
        st, _, b = self.adm.post("/api/v1/scorecards/templates", {
            "name": "agent-month", "title": {"en": "Agent monthly", "zh": "坐席月度"},
            "role": "agent", "period": "month", "auto": False,
            "items": [{"key": "reply", "indicator": "compliance", "filter": {"step": "reply"},
                       "label": {"en": "Emails answered within 24 h", "zh": "24小时内回复邮件"},
                       "weight": 1, "floor": 0.5, "target": 1.0}]})
        self.assertEqual(st, 201, b)
        sue = srv.login("sue")
        deadline = time.time() + 30
        while True:  # until the runtime measured October's reply
            st, _, b = sue.post("/api/v1/evaluations/compute",
                                {"period": "2026-10", "template": "agent-month"})
            self.assertEqual(st, 200, b)
            if srv.sql("select count(*) n from evaluations where score is not null")[0]["n"] or \
                    time.time() > deadline:
                break
            time.sleep(0.3)
        wait_for(lambda: sink.messages, what="the digest e-mail")
        time.sleep(1.5)
        self.assertEqual(len(sink.messages), 1)
        p = parsed(sink.messages[0])
        self.assertEqual(p["to"], ["sue@estate.example"])
        # sue reads Chinese: the digest's Chinese title "<period> 绩效评分（<template>），<team> 组".
        self.assertEqual(p["subject"], "2026-10 绩效评分（agent-month），complaints 组")
        self.assertTrue(p["body"].startswith("周期 2026-10，complaints 组："), p["body"])
        self.assertIn("\n——\nScorecards 2026-10 (agent-month), team complaints\n", p["body"])
        d = srv.sql("select id, delivered_at from score_digests")
        self.assertEqual(len(d), 1)
        self.assertIsNotNone(d[0]["delivered_at"])
        rows = self.outbox()
        self.assertEqual([(r["kind"], r["ref"]) for r in rows], [("digest", "digest:%d" % d[0]["id"])])


if __name__ == "__main__":
    unittest.main()
