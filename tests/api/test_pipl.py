"""PIPL Art. 47 erasure against a real server: anonymising a customer erases the personal
values in the data of the ledger events about them (an email thread found by the customer
column, a second thread found only through the stored mail of their case, calls found by the
caller number the PBX writes into the customer column, the case's own events), redacts the
older audit rows of the customer, its case and interaction, the staff notifications quoting
the case subject, and leaves the search index without them — while every measurement, the
kpi rollups and a `smile rebuild` stay exactly as before, another customer's events are
untouched, a second anonymise is 409 and a supervisor's 403 writes nothing."""
import json
import unittest
from urllib.parse import quote

from harness import Server, wait_folded, ev

ERASED = "(erased)"


def at(day, hms):
    return "2026-11-%02dT%s.000Z" % (day, hms)


def call(subject, day, caller, name, agent="ann"):
    """A hotline call as the PBX intake writes it: the caller number in `customer` of
    call.offered, the caller's display name in data.caller_name; answered 4 s after the ring."""
    return [ev("call.offered", subject, at(day, "02:00:00"), customer=caller,
               data={"queue": "hotline", "position": 1, "caller_name": name}),
            ev("call.ringing", subject, at(day, "02:00:01"), data={"agent": agent,
                                                                   "queue": "hotline"}),
            ev("call.answered", subject, at(day, "02:00:05"), actor=agent,
               data={"queue": "hotline", "agent": agent, "holdtime_s": 5}),
            ev("call.ended", subject, at(day, "02:03:05"), actor=agent,
               data={"queue": "hotline", "agent": agent, "talk_s": 180, "holdtime_s": 5,
                     "ended_by": "caller"})]


MEAS = ("select subject, process_id, version, step_key, occurrence, channel, started_at, "
        "done_at, elapsed_ms, target_ms, deadline_at, result, state, charged_actor, "
        "charged_team, start_event_id, end_event_id from measurements "
        "order by subject, step_key, occurrence")
MEAS_CUSTOMER = MEAS.replace("select subject,", "select subject, customer,")
ROLLUP = ("select day, staff, team, process_id, step, channel, met, breached, excluded, done, "
          "cancelled, sum_ms, offered, abandoned, opened, closed, answered, replied, visits, "
          "resolved, cases, fcr, reopened, surveys, survey_sum, hex(hist) as hist from kpi_daily "
          "order by day, staff, team, process_id, step, channel")


class PiplTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.cli("team", "add", "desk")
        cls.srv.add_user("ann", "agent", team="desk")
        cls.srv.add_user("sue", "supervisor", team="desk")
        cls.srv.add_user("ada", "admin")
        cls.agent = cls.srv.login("ann")
        cls.sup = cls.srv.login("sue")
        cls.admin = cls.srv.login("ada")
        cls.ev = cls.srv.client(cls.srv.token("ada", "events:read,events:write,kpi:read"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post_events(self, events):
        r = self.ev.post("/api/v1/events", {"events": events})
        self.assertEqual(r.status, 201, r)

    def events(self, subject):
        r = self.ev.get("/api/v1/events?subject=%s&limit=500" % quote(subject))
        self.assertEqual(r.status, 200, r)
        return r.json["events"]

    def audit(self, entity, eid):
        return self.srv.sql("select id, actor, action, before, after from audit where "
                            "entity = '%s' and entity_id = %d order by id" % (entity, eid))

    def snapshot(self):
        return {"events": self.srv.sql("select id, customer, data from events order by id"),
                "audit": self.srv.sql("select id, before, after from audit order by id"),
                "customers": self.srv.sql("select * from customers order by id"),
                "cases": self.srv.sql("select * from cases order by id"),
                "notes": self.srv.sql("select * from notifications order by id")}

    def test_anonymise_erases_everywhere(self):
        # Customer 王五 (two phones, one e-mail), a case with a reply, and customer 李四 whose
        # events must stay as they are.
        wang = self.agent.post("/api/v1/customers", {
            "kind": "person", "name": "王五", "phones": ["13800138000", "010-12345678"],
            "emails": ["wang.wu@example.cn"], "address": "北京市朝阳区"}).json
        li = self.agent.post("/api/v1/customers", {
            "kind": "person", "name": "李四", "phones": ["13900139000"],
            "emails": ["li.si@example.cn"]}).json
        wid, lid = wang["id"], li["id"]
        kase = self.agent.post("/api/v1/cases", {
            "type": "repair", "subject": "王五 家里漏水", "customer_id": wid,
            "description": "王五 13800138000 says the kitchen leaks"}).json
        r = self.agent.post("/api/v1/interactions", {
            "kind": "call", "direction": "out", "case_id": kase["id"],
            "subject": "回电 王五", "body": "called 13800138000 back"})
        self.assertEqual(r.status, 201, r)
        inter = r.json
        # An older update the audit trail recorded with the values.
        r = self.agent.patch("/api/v1/customers/%d" % wid, {"notes": "王五 prefers mornings"},
                             headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)

        # The ledger: a mail thread naming the customer, a thread the mail part stored on
        # the case (no customer column: only mail_messages ties it to him), his calls in
        # two of the forms a PBX reports numbers in, and 李四's thread and call.
        t1, t2, t3 = "thread:<m1@example.cn>", "thread:<m2@example.cn>", "thread:<m3@example.cn>"
        mail1 = {"from": "wang.wu@example.cn", "from_name": "王五",
                 "to": ["service@dev.example.cn"], "subject": "漏水 leak in 3-1201",
                 "message_id": "<m1@example.cn>", "attachments": [
                     {"name": "王五-photo.jpg", "type": "image/jpeg", "size": 2048}],
                 "attachment_count": 1, "size": 4096}
        self.post_events(
            [ev("email.received", t1, at(2, "01:00:00"), customer=str(wid), data=mail1),
             ev("email.sent", t1, at(2, "03:00:00"), actor="ann",
                data={"to": ["wang.wu@example.cn"], "cc": [], "subject": "Re: 漏水",
                      "message_id": "<r1@dev.example.cn>", "case_id": kase["id"]}),
             ev("email.received", t2, at(3, "01:00:00"),
                data={"from": "wang.wu@example.cn", "from_name": "Wang Wu",
                      "to": ["service@dev.example.cn"], "subject": "second mail",
                      "message_id": "<m2@example.cn>"}),
             ev("email.received", t3, at(3, "01:30:00"), customer=str(lid),
                data={"from": "li.si@example.cn", "from_name": "李四",
                      "to": ["service@dev.example.cn"], "subject": "李四的问题",
                      "message_id": "<m3@example.cn>"})]
            + [ev("custom.site_visit", "case:%d" % kase["id"], at(3, "06:00:00"),
                  actor="ann", data={"contact_person": "王五先生", "inspector": "ann",
                                     "team": "desk", "remark": "call 13800138000 first",
                                     "rooms": 3})]
            + call("call:w1", 4, "13800138000", "王五")
            + call("call:w2", 5, "+861012345678", "WANG WU")
            + call("call:l1", 6, "13900139000", "李四"))
        t2_id = self.srv.sql("select id from events where subject = '%s'" % t2)[0]["id"]
        self.srv.sql_write(
            "INSERT INTO mailboxes (id, name, imap_url, username, from_address, created_at, "
            "updated_at) VALUES (1, 'service', 'imaps://mail.example.cn', 'service', "
            "'service@dev.example.cn', 0, 0);"
            "INSERT INTO mail_threads (id, root, mailbox_id, case_id, created_at, updated_at) "
            "VALUES (1, '<m2@example.cn>', 1, %d, 0, 0);"
            "INSERT INTO mail_messages (message_id, thread_id, mailbox_id, direction, case_id, "
            "event_id, at, from_addr, subject) VALUES ('<m2@example.cn>', 1, 1, 'in', %d, %d, 0, "
            "'wang.wu@example.cn', 'second mail');" % (kase["id"], kase["id"], t2_id))
        # A staff notification quoting the case subject (as notify/escalate.c writes it).
        uid = self.srv.sql("select id from users where username = 'ann'")[0]["id"]
        q = "\u201c%s\u201d" % kase["subject"]
        self.srv.sql_write(
            "INSERT INTO notifications (user_id, kind, title_en, title_zh, body_en, body_zh, "
            "subject, case_id, created_at) VALUES (%d, 'breach', 'Case #%d %s breached', "
            "'工单 #%d%s 超时', 'Reply to case #%d %s now.', '请立即处理 %s', 'case:%d', %d, 0);"
            % (uid, kase["id"], q, kase["id"], q, kase["id"], q, q, kase["id"], kase["id"]))
        wait_folded(self.srv, self.ev)
        meas_before = self.srv.sql(MEAS)
        rollup_before = self.srv.sql(ROLLUP)
        self.assertGreater(len([m for m in meas_before if m["subject"].startswith("call:")]), 3)
        li_events = self.srv.sql("select * from events where subject in ('%s', 'call:l1') "
                                 "order by id" % t3)
        # The search finds him before.
        self.assertTrue(self.agent.get("/api/v1/search?q=" + quote("王五")).json["items"])

        # Rejected requests write nothing.
        path = "/api/v1/customers/%d/anonymise" % wid
        snap = self.snapshot()
        self.assertEqual(self.sup.post(path).status, 403)
        self.assertEqual(self.agent.post(path).status, 403)
        self.assertEqual(self.admin.post(path, {"why": 1}).status, 422)
        self.assertEqual(self.snapshot(), snap)

        # The erasure check before: what an anonymisation would erase, as counts; it writes
        # nothing (its transaction is rolled back) and only admins may ask.
        check = "/api/v1/customers/%d/erasure" % wid
        self.assertEqual(self.sup.get(check).status, 403)
        self.assertEqual(self.agent.get(check).status, 403)
        self.assertEqual(self.admin.get("/api/v1/customers/999999/erasure").status, 404)
        r = self.admin.get(check)
        self.assertEqual(r.status, 200, r)
        pre = r.json
        self.assertEqual((pre["customer_id"], pre["anonymised_at"], pre["complete"]),
                         (wid, None, False))
        self.assertEqual(pre["personal_fields"], ["name", "phones", "emails", "address", "notes"])
        self.assertEqual(self.snapshot(), snap)

        r = self.admin.post(path)
        self.assertEqual(r.status, 200, r)
        after_row = json.loads(self.audit("customer", wid)[-1]["after"])
        del after_row["anonymised_at"]
        self.assertEqual(pre["counts"], after_row)  # the check foresaw exactly this

        # The events about him: personal values are "(erased)", keys and shape kept.
        e1 = self.events(t1)
        d = e1[0]["data"]
        self.assertEqual((d["from"], d["from_name"], d["to"], d["subject"]),
                         (ERASED, ERASED, [ERASED], ERASED))
        self.assertEqual(d["attachments"], [{"name": ERASED, "type": ERASED, "size": 2048}])
        self.assertEqual((d["message_id"], d["attachment_count"], d["size"]),
                         ("<m1@example.cn>", 1, 4096))
        self.assertEqual((e1[0]["customer"], e1[0]["type"], e1[0]["occurred_at"]),
                         (str(wid), "email.received", "2026-11-02T01:00:00.000Z"))
        d = e1[1]["data"]
        self.assertEqual((d["to"], d["cc"], d["subject"], d["case_id"], e1[1]["actor"]),
                         ([ERASED], [], ERASED, kase["id"], "ann"))
        d = self.events(t2)[0]["data"]
        self.assertEqual((d["from"], d["from_name"], d["subject"]), (ERASED, ERASED, ERASED))
        for s in ("call:w1", "call:w2"):
            evs = self.events(s)
            self.assertEqual([e["type"] for e in evs], ["call.offered", "call.ringing",
                                                        "call.answered", "call.ended"])
            self.assertEqual(evs[0]["customer"], ERASED)
            self.assertEqual(evs[0]["data"], {"queue": "hotline", "position": 1,
                                              "caller_name": ERASED})
            self.assertEqual(evs[3]["data"]["talk_s"], 180)
            self.assertEqual(evs[2]["actor"], "ann")
        # A site's own event on his case: the strings that mention his name or phone go,
        # whatever their key; the rest (and what the engine reads) stays.
        visit = [e for e in self.events("case:%d" % kase["id"])
                 if e["type"] == "custom.site_visit"][0]
        self.assertEqual(visit["data"], {"contact_person": ERASED, "inspector": "ann",
                                         "team": "desk", "remark": ERASED, "rooms": 3})
        # Nothing of his is left anywhere in the ledger.
        dump = json.dumps(self.srv.sql("select customer, data from events"), ensure_ascii=False)
        for secret in ("王五", "13800138000", "1012345678", "wang.wu@example.cn", "WANG WU",
                       "Wang Wu", "漏水 leak", "second mail"):
            self.assertNotIn(secret, dump, secret)
        # 李四's events are untouched, byte for byte.
        self.assertEqual(self.srv.sql("select * from events where subject in ('%s', 'call:l1') "
                                      "order by id" % t3), li_events)

        # Measurements and rollups are unchanged (the customer column of the call
        # measurements follows the events: that is what a rebuild gives).
        self.assertEqual(self.srv.sql(MEAS), meas_before)
        self.assertEqual(self.srv.sql(ROLLUP), rollup_before)
        self.assertEqual(self.srv.sql("select count(*) n from measurements where customer "
                                      "in ('13800138000', '+861012345678')"), [{"n": 0}])

        # Older audit rows: values redacted, who / when / action / field names kept.
        rows = self.audit("customer", wid)
        self.assertEqual([x["action"] for x in rows], ["create", "update", "anonymise"])
        create = json.loads(rows[0]["after"])
        self.assertEqual((create["name"], create["phones"], create["emails"],
                          create["address"]), (ERASED, [ERASED, ERASED], [ERASED], ERASED))
        self.assertEqual(create["kind"], "person")
        upd = rows[1]
        self.assertEqual((upd["actor"], json.loads(upd["after"])), ("ann", {"notes": ERASED}))
        for x in self.audit("case", kase["id"]) + self.audit("interaction", inter["id"]):
            text = (x["before"] or "") + (x["after"] or "")
            self.assertNotIn("王五", text)
            self.assertNotIn("13800138000", text)
        ca = json.loads(self.audit("case", kase["id"])[0]["after"])
        self.assertEqual((ca["subject"], ca["description"], ca["type"]),
                         (ERASED, ERASED, "repair"))
        # The anonymisation's own row: counts, never values. Hand count: events erased —
        # t1: 2 (received, sent), t2: 1, call:w1 and call:w2: the offered of each (caller
        # number and name; the other three have nothing personal), the site visit on the
        # case: 1 = 6. The case's own case.opened / case.replied carry no personal value.
        # Audit rows: customer create + update, case create, interaction create = 4. One
        # notification.
        after = json.loads(rows[2]["after"])
        self.assertEqual((after["events_erased"], after["audit_rows_redacted"],
                          after["notifications_redacted"], after["measurements_erased"]),
                         (6, 4, 1, after["measurements_erased"]))
        self.assertGreaterEqual(after["measurements_erased"], 1)
        for secret in ("王五", "13800138000", "wang.wu"):
            self.assertNotIn(secret, rows[2]["after"] + rows[2]["before"])

        # Notifications and search.
        n = self.srv.sql("select title_en, title_zh, body_en, body_zh from notifications "
                         "where case_id = %d" % kase["id"])[0]
        self.assertEqual(n["title_en"], "Case #%d \u201c(erased)\u201d breached" % kase["id"])
        self.assertNotIn("王五", json.dumps(n, ensure_ascii=False))
        for q in ("王五", "13800138000", "wang.wu@example.cn", "漏水"):
            r = self.agent.get("/api/v1/search?q=" + quote(q))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["items"], [], q)
        self.assertTrue(self.agent.get("/api/v1/search?q=" + quote("李四")).json["items"])

        # A second anonymise is 409 and changes nothing.
        snap = self.snapshot()
        self.assertEqual(self.admin.post(path).status, 409)
        self.assertEqual(self.snapshot(), snap)
        # The erasure check after: complete, nothing left anywhere, still nothing written.
        r = self.admin.get(check)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["complete"], r.json)
        self.assertIsNotNone(r.json["anonymised_at"])
        self.assertEqual(r.json["personal_fields"], [])
        for k in ("interactions_erased", "cases_erased", "audit_rows_redacted",
                  "notifications_redacted", "events_erased", "event_values_erased",
                  "measurements_erased"):
            self.assertEqual(r.json["counts"][k], 0, k)
        self.assertEqual(self.snapshot(), snap)

        # `smile rebuild` from the erased ledger gives the same measurements and rollups —
        # and the same customer column as the live erasure wrote into the measurements.
        live = self.srv.sql(MEAS_CUSTOMER)
        self.assertIn(ERASED, [m["customer"] for m in live])
        self.srv.stop()
        self.srv.cli("rebuild")
        self.assertEqual(self.srv.sql(MEAS), meas_before)
        self.assertEqual(self.srv.sql(MEAS_CUSTOMER), live)
        self.assertEqual(self.srv.sql(ROLLUP), rollup_before)
        self.srv.start()

    def test_deleted_customer_and_no_events(self):
        # A soft-deleted customer's events are erased too (204: nothing to show); a customer
        # with no events at all is anonymised with zero event counts.
        zhao = self.agent.post("/api/v1/customers", {
            "kind": "person", "name": "赵六", "phones": ["13700137000"]}).json
        qian = self.agent.post("/api/v1/customers", {"kind": "person", "name": "钱七"}).json
        self.post_events(call("call:z1", 7, "013700137000", "赵六"))
        r = self.admin.delete("/api/v1/customers/%d" % zhao["id"], headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 204, r)
        r = self.admin.post("/api/v1/customers/%d/anonymise" % zhao["id"])
        self.assertEqual(r.status, 204, r)
        evs = self.events("call:z1")
        self.assertEqual((evs[0]["customer"], evs[0]["data"]["caller_name"]), (ERASED, ERASED))
        after = json.loads(self.audit("customer", zhao["id"])[-1]["after"])
        # One event rewritten (call.offered: the caller number in its trunk-0 form and the
        # name); the create and delete audit rows hold the name and phone: 2 rows.
        self.assertEqual((after["events_erased"], after["event_values_erased"],
                          after["audit_rows_redacted"]), (1, 2, 2))
        r = self.admin.post("/api/v1/customers/%d/anonymise" % qian["id"])
        self.assertEqual(r.status, 200, r)
        after = json.loads(self.audit("customer", qian["id"])[-1]["after"])
        self.assertEqual((after["event_subjects"], after["events_erased"]), (0, 0))


if __name__ == "__main__":
    unittest.main()
