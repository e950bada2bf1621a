"""The mailbox against real mail servers: a private Dovecot (IMAP) and an aiosmtpd receiver
(tests/api/mailservers.py). A customer's mail opens a case, an agent's reply goes out over
SMTP with the threading headers and the case tag, the customer's answer threads back, the
second reply closes the second clock — and the customer-email process measures each clock
exactly (expected values worked out below from the INTERNALDATEs the test sets with IMAP
APPEND and the send times Smile reports). Also: GB18030 mail, attachments, re-polling,
the case tag, follow-ups of closed cases, SMTP refusing, and every rejected request
writing nothing."""
import datetime
import email
import email.policy
import time
import unittest
import urllib.parse

from harness import Server
from mailservers import Dovecot, SmtpSink
from test_measure import wait_folded

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def rfc3339_ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def mail(msgid, subject, body="", frm="陈杰 <chenjie@customer.cn>", in_reply_to=None,
         refs=None, extra=""):
    h = ["From: %s" % frm, "To: service@smile-estate.cn", "Subject: %s" % subject,
         "Message-ID: <%s>" % msgid, "Date: Mon, 2 Mar 2026 09:13:55 +0800",
         "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: 8bit"]
    if in_reply_to:
        h.append("In-Reply-To: <%s>" % in_reply_to)
    if refs:
        h.append("References: " + " ".join("<%s>" % r for r in refs))
    if extra:
        h.append(extra)
    return ("\r\n".join(h) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


class TestMail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imap = Dovecot(users={"service": "imap-secret", "other": "other-secret",
                                  "complaints": "c-secret"})
        cls.smtp = SmtpSink()
        cls.srv = Server()
        cls.srv.add_user("ada", "admin")
        cls.srv.add_user("ann", "agent")
        cls.adm = cls.srv.client(cls.srv.token(
            "ada", "admin,crm:read,crm:write,events:read,kpi:read"))
        cls.ann = cls.srv.client(cls.srv.token("ann", "crm:read,crm:write,kpi:read"))
        st, _, team = cls.adm.post("/api/v1/teams", {"name": "mailcare",
                                                      "display_name": "Mail care"})
        assert st == 201, team
        cls.team = team
        st, _, cu = cls.ann.post("/api/v1/customers", {
            "kind": "person", "name": "陈杰", "emails": ["chenjie@customer.cn"]})
        assert st == 201, cu
        cls.customer = cu
        st, _, mb = cls.adm.post("/api/v1/mailboxes", {
            "name": "service", "imap_url": cls.imap.url(), "username": "service",
            "password": "imap-secret", "smtp_url": cls.smtp.url(),
            "from_address": "service@smile-estate.cn", "from_name": "客服中心",
            "team_id": team["id"], "import_existing": True, "active": False})
        assert st == 201, mb
        cls.mb = mb

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.smtp.stop()
        cls.imap.stop()

    def poll(self, mb=None):
        st, _, b = self.adm.post("/api/v1/mailboxes/%d/poll" % (mb or self.mb)["id"])
        self.assertEqual(st, 200, b)
        return b

    def counts(self):
        return self.srv.sql(
            "select (select count(*) from events) e, (select count(*) from interactions) i, "
            "(select count(*) from cases) c, (select count(*) from mail_messages) m, "
            "(select count(*) from mail_threads) t, (select count(*) from audit) a")[0]

    def events(self, subject):
        st, _, b = self.adm.get("/api/v1/events?subject=%s&limit=100" %
                                urllib.parse.quote(subject, safe=""))
        self.assertEqual(st, 200, b)
        return b["events"]

    def step(self, subject, occ):
        st, _, b = self.ann.get("/api/v1/subjects/%s/timeline" % subject)
        self.assertEqual(st, 200, b)
        for inst in b["instances"]:
            for s in inst["steps"]:
                if s["step"] == "reply" and s["occurrence"] == occ:
                    return s
        self.fail("no reply occurrence %d in %r" % (occ, b))

    # --- the scenario of issue 4 ----------------------------------------------------------
    def test_01_mail_case_reply_answer_reply_measured_exactly(self):
        now = int(time.time())
        # The customer's mail reached our server 3 h ago (INTERNALDATE, set by APPEND; whole
        # seconds, written in +08:00 to exercise the offset): t0 = now − 10800 s.
        t0 = now - 10800
        self.imap.append("service", mail("m1@customer.cn", "3号楼渗水问题",
                                         "客厅天花板渗水，请尽快安排维修。"),
                         when=datetime.datetime.fromtimestamp(t0, SHANGHAI))
        r = self.poll()
        self.assertEqual((r["imported"], r["duplicates"], r["failed"]), (1, 0, 0), r)
        # The case: opened at our receipt time, inquiry (the mailbox's case type), the
        # mailbox's team, e-mail channel, the sender linked to the customer by address.
        st, _, cases = self.ann.get("/api/v1/cases?channel=email")
        self.assertEqual(st, 200)
        case = cases["items"][0]
        self.__class__.case = case
        self.assertEqual((case["type"], case["subject"], case["team_id"], case["customer_id"],
                          case["status"], rfc3339_ms(case["opened_at"])),
                         ("inquiry", "3号楼渗水问题", self.team["id"], self.customer["id"],
                          "new", t0 * 1000))
        self.assertEqual(case["description"], "客厅天花板渗水，请尽快安排维修。")
        ev = self.events("thread:m1@customer.cn")
        self.assertEqual([e["type"] for e in ev], ["email.received"])
        self.assertEqual((ev[0]["occurred_at"], ev[0]["source"], ev[0]["source_id"],
                          ev[0]["customer"], ev[0]["channel"]),
                         (datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
                          .strftime("%Y-%m-%dT%H:%M:%S.000Z"), "imap:%d" % self.mb["id"],
                          "m1@customer.cn", str(self.customer["id"]), "email"))
        self.assertEqual((ev[0]["data"]["from"], ev[0]["data"]["case_id"],
                          ev[0]["data"]["team"]),
                         ("chenjie@customer.cn", case["id"], "mailcare"))
        # The inbound interaction on the case (its case.replied by the customer).
        st, _, its = self.ann.get("/api/v1/interactions?case_id=%d" % case["id"])
        self.assertEqual([(i["kind"], i["direction"], rfc3339_ms(i["occurred_at"]))
                          for i in its["items"]], [("email", "in", t0 * 1000)])

        # The agent replies: SMTP first, then email.sent at the time the server accepted it.
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % case["id"],
                                   {"body": "您好，维修师傅明天上午上门。\n客服中心"})
        self.assertEqual(st, 201, rep)
        s1 = rfc3339_ms(rep["sent_at"])
        self.assertEqual(len(self.smtp.messages), 1)
        got = self.smtp.messages[0]
        self.assertEqual((got["from"], got["rcpt"]),
                         ("service@smile-estate.cn", ["chenjie@customer.cn"]))
        m = email.message_from_bytes(got["data"], policy=email.policy.default)
        tag = "[SR-%d]" % case["id"]
        self.assertEqual(str(m["Subject"]), "Re: 3号楼渗水问题 " + tag)
        self.assertEqual(m["In-Reply-To"], "<m1@customer.cn>")
        self.assertEqual(m["References"], "<m1@customer.cn>")
        self.assertEqual(m["Message-ID"], "<%s>" % rep["message_id"])
        self.assertTrue(rep["message_id"].endswith("@smile-estate.cn"), rep)
        self.assertEqual(m.get_content().replace("\r\n", "\n").rstrip("\n"),
                         "您好，维修师傅明天上午上门。\n客服中心")
        self.assertIn("客服中心", str(m["From"]))
        self.assertEqual(rep["case"]["status"], "open")  # replying takes a new case
        ev = self.events("thread:m1@customer.cn")
        self.assertEqual([(e["type"], e["actor"]) for e in ev],
                         [("email.received", None), ("email.sent", "ann")])
        self.assertEqual(rfc3339_ms(ev[1]["occurred_at"]), s1)
        replied = self.events("case:%d" % case["id"])
        self.assertEqual([(e["type"], e["data"].get("by")) for e in replied
                          if e["type"] == "case.replied"], [("case.replied", "customer"),
                                                            ("case.replied", "staff")])

        # The customer answers in the thread after the reply: INTERNALDATE t2, the first
        # whole second after s1 (so the answer is after the reply in the ledger's order).
        t2 = s1 // 1000 + 1
        while time.time() < t2 + 0.05:
            time.sleep(0.05)
        self.imap.append("service", mail("m2@customer.cn", "Re: 3号楼渗水问题 " + tag,
                                         "好的，明天上午有人在家。",
                                         in_reply_to=rep["message_id"],
                                         refs=["m1@customer.cn", rep["message_id"]]),
                         when=datetime.datetime.fromtimestamp(t2, SHANGHAI))
        r = self.poll()
        self.assertEqual(r["imported"], 1, r)
        st, _, its = self.ann.get("/api/v1/interactions?case_id=%d" % case["id"])
        self.assertEqual(len(its["items"]), 3)
        st, _, cases2 = self.ann.get("/api/v1/cases?channel=email")
        self.assertEqual(len(cases2["items"]), 1, "the answer opened no new case")

        st, _, rep2 = self.ann.post("/api/v1/cases/%d/reply" % case["id"],
                                    {"body": "收到，谢谢。", "status": "pending"})
        self.assertEqual(st, 201, rep2)
        s2 = rfc3339_ms(rep2["sent_at"])
        self.assertEqual(rep2["case"]["status"], "pending")
        m2 = email.message_from_bytes(self.smtp.messages[1]["data"],
                                      policy=email.policy.default)
        # Threading: In-Reply-To the customer's answer; References root … newest.
        self.assertEqual(m2["In-Reply-To"], "<m2@customer.cn>")
        self.assertEqual(" ".join(m2["References"].split()),  # folded lines unfolded
                         "<m1@customer.cn> <%s> <m2@customer.cn>" % rep["message_id"])
        self.assertEqual(str(m2["Subject"]), "Re: 3号楼渗水问题 " + tag)

        # The customer-email process (a clock per customer mail, done by the next reply,
        # 24 h of wall time): occurrence 0 from t0 to s1, occurrence 1 from t2 to s2; both
        # well under 24 h → met, charged to ann who replied.
        wait_folded(self.srv, self.ann)
        o0 = self.step("thread:m1@customer.cn", 0)
        o1 = self.step("thread:m1@customer.cn", 1)
        self.assertEqual((o0["result"], o0["elapsed_ms"], o0["target_ms"], o0["charged_actor"]),
                         ("met", s1 - t0 * 1000, 86400000, "ann"))
        self.assertEqual((o1["result"], o1["elapsed_ms"], o1["target_ms"], o1["charged_actor"]),
                         ("met", s2 - t2 * 1000, 86400000, "ann"))
        # s1 − t0 is three hours plus the seconds the test took: at least 10,800,000 ms.
        self.assertGreaterEqual(o0["elapsed_ms"], 10800000)

        # Polling again imports nothing twice.
        before = self.counts()
        r = self.poll()
        self.assertEqual((r["imported"], r["duplicates"]), (0, 0), r)
        self.assertEqual(self.counts(), before)
        # The case's e-mails, in order.
        st, _, em = self.ann.get("/api/v1/cases/%d/emails" % case["id"])
        self.assertEqual(st, 200, em)
        self.assertEqual([e["direction"] for e in em["items"]], ["in", "out", "in", "out"])
        self.assertEqual(em["items"][0]["thread"], "thread:m1@customer.cn")
        # uimail: what the web UI's thread shows. The texts are the ones written above (the
        # parser keeps LF lines and drops the final CRLF); the customer's mail went To the
        # service address only, from "陈杰", with no attachment and no Auto-Submitted; the
        # replies went to the sender (Reply-To absent), with nobody in copy.
        items = em["items"]
        self.assertEqual([e["body"] for e in items],
                         ["客厅天花板渗水，请尽快安排维修。", "您好，维修师傅明天上午上门。\n客服中心",
                          "好的，明天上午有人在家。", "收到，谢谢。"])
        self.assertEqual((items[0]["from_name"], items[0]["to"], items[0]["cc"],
                          items[0]["attachments"], items[0]["attachment_count"], items[0]["auto"]),
                         ("陈杰", ["service@smile-estate.cn"], None, [], 0, None))
        self.assertEqual((items[1]["to"], items[1]["cc"], items[1]["attachments"]),
                         (["chenjie@customer.cn"], [], None))

    def test_99_anonymise_erases_addresses_in_stored_mail(self):
        # Runs last (the customer is erased). Earlier tests stored the customer's mails with
        # sender chenjie@customer.cn on cases linked to the customer.
        q = ("select count(*) as n from mail_messages where from_addr like '%chenjie%' "
             "or reply_to like '%chenjie%' or subject is not null and case_id in "
             "(select id from cases where customer_id = {0})").format(self.customer["id"])
        self.assertGreater(self.srv.sql(q)[0]["n"], 0)
        st, _, body = self.adm.post("/api/v1/customers/%d/anonymise" % self.customer["id"])
        self.assertEqual(st, 200, body)
        self.assertEqual(self.srv.sql(q)[0]["n"], 0)
        # Threading ids stay (they identify no one): the messages are still there.
        self.assertGreater(self.srv.sql(
            "select count(*) as n from mail_messages where case_id in (select id from cases "
            "where customer_id = %d)" % self.customer["id"])[0]["n"], 0)

    def test_02_breach_after_24_hours(self):
        # A mail received 25 h ago and not replied to: its clock passed 24 h at t3 + 24 h,
        # so it is breached as of now, breached_at = t3 + 86,400,000 ms.
        t3 = int(time.time()) - 25 * 3600
        self.imap.append("service", mail("late@customer.cn", "物业费发票"),
                         when=datetime.datetime.fromtimestamp(t3, datetime.timezone.utc))
        self.assertEqual(self.poll()["imported"], 1)
        # The deadline has passed: the scheduler fires sla.breached at once, the runtime
        # folds the thread again.
        deadline = time.time() + 15
        while time.time() < deadline:
            wait_folded(self.srv, self.ann)
            o = self.step("thread:late@customer.cn", 0)
            if o["result"] != "open":
                break
            time.sleep(0.1)
        self.assertEqual((o["result"], o["target_ms"]), ("breached", 86400000), o)
        self.assertIn("sla.breached", [e["type"] for e in self.events("thread:late@customer.cn")])
        self.assertEqual((rfc3339_ms(o["started_at"]), rfc3339_ms(o["deadline_at"])),
                         (t3 * 1000, t3 * 1000 + 86400000))
        # The sender is the known customer: linked by address.
        case_id = self.events("thread:late@customer.cn")[0]["data"]["case_id"]
        st, _, c = self.ann.get("/api/v1/cases/%d" % case_id)
        self.assertEqual(c["customer_id"], self.customer["id"])
        # Replied now: done, and breached with elapsed = sent − t3 (over 24 h).
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % case_id, {"body": "抱歉久等"})
        self.assertEqual(st, 201, rep)
        wait_folded(self.srv, self.ann)
        o = self.step("thread:late@customer.cn", 0)
        self.assertEqual((o["result"], o["elapsed_ms"], o["charged_actor"]),
                         ("breached", rfc3339_ms(rep["sent_at"]) - t3 * 1000, "ann"))

    def test_03_gb18030_and_attachment(self):
        # GBK text declared as gb2312 (堃 is in GBK, not in GB2312), an RFC 2047 subject in
        # GB2312 base64, and a PDF attachment named in RFC 2231.
        text = "您好，我是堃先生，合同附件请查收。"
        import base64
        subj = "=?GB2312?B?%s?=" % base64.b64encode("购房合同".encode("gb2312")).decode()
        pdf = b"%PDF-1.4\n" + b"x" * 1000
        raw = (b"From: =?GB2312?B?" + base64.b64encode("王堃".encode("gbk")) +
               b"?= <wangkun@example.cn>\r\n"
               b"To: service@smile-estate.cn\r\nSubject: " + subj.encode() + b"\r\n"
               b"Message-ID: <gb1@example.cn>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               b"--b1\r\nContent-Type: text/plain; charset=gb2312\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" +
               base64.b64encode(text.encode("gb18030")) + b"\r\n"
               b"--b1\r\nContent-Type: application/pdf\r\n"
               b"Content-Disposition: attachment; filename*=UTF-8''%E5%90%88%E5%90%8C.pdf\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(pdf) + b"\r\n"
               b"--b1--\r\n")
        self.imap.append("service", raw)
        self.assertEqual(self.poll()["imported"], 1)
        ev = self.events("thread:gb1@example.cn")[0]
        self.assertEqual(ev["data"]["subject"], "购房合同")
        self.assertEqual(ev["data"]["from_name"], "王堃")
        # The attachment is listed (decoded size: the 1,009 bytes of pdf), not stored.
        self.assertEqual(ev["data"]["attachments"],
                         [{"name": "合同.pdf", "type": "application/pdf", "size": 1009}])
        st, _, c = self.ann.get("/api/v1/cases/%d" % ev["data"]["case_id"])
        self.assertEqual((c["subject"], c["description"], c["customer_id"]),
                         ("购房合同", text, None))

    def test_04_case_tag_threads_and_closed_case_gets_follow_up(self):
        case = self.case
        # A new mail (no In-Reply-To) with the case tag in its subject joins the case.
        self.imap.append("service", mail("tagged@customer.cn",
                                         "补充照片 [SR-%d]" % case["id"], "见附件"))
        self.assertEqual(self.poll()["imported"], 1)
        # INTERNALDATE has whole seconds, so this mail may sort before the reply sent in the
        # same second: find it by its source_id rather than by position.
        ev = [e for e in self.events("thread:m1@customer.cn")
              if e["source_id"] == "tagged@customer.cn"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["type"], "email.received")
        self.assertEqual(ev[0]["data"]["case_id"], case["id"])
        # Resolve and close; a later answer in the thread opens a follow-up case.
        self.assertEqual(self.ann.post("/api/v1/cases/%d/resolve" % case["id"]).status, 200)
        self.assertEqual(self.ann.post("/api/v1/cases/%d/close" % case["id"]).status, 200)
        self.imap.append("service", mail("after@customer.cn", "Re: 3号楼渗水问题",
                                         "又渗水了", in_reply_to="m1@customer.cn"))
        self.assertEqual(self.poll()["imported"], 1)
        ev = [e for e in self.events("thread:m1@customer.cn")
              if e["source_id"] == "after@customer.cn"][0]  # by id: INTERNALDATE is whole s
        self.assertNotEqual(ev["data"]["case_id"], case["id"])
        st, _, fu = self.ann.get("/api/v1/cases/%d" % ev["data"]["case_id"])
        self.assertEqual((fu["status"], fu["subject"], fu["customer_id"]),
                         ("new", "3号楼渗水问题", self.customer["id"]))
        # The thread now feeds the follow-up: a reply there threads to the same root.
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % fu["id"], {"body": "马上处理"})
        self.assertEqual(st, 201, rep)
        self.assertEqual(rep["thread"], "thread:m1@customer.cn")
        # Replying to a closed case is refused, nothing sent or written.
        n = len(self.smtp.messages)
        before = self.counts()
        st, _, b = self.ann.post("/api/v1/cases/%d/reply" % case["id"], {"body": "x"})
        self.assertEqual(st, 409, b)
        self.assertEqual((len(self.smtp.messages), self.counts()), (n, before))

    def test_05_smtp_refusal_writes_nothing(self):
        self.imap.append("service", mail("refuse@customer.cn", "停车位咨询"))
        self.poll()
        case_id = self.events("thread:refuse@customer.cn")[0]["data"]["case_id"]
        before = self.counts()
        version = self.srv.sql("select version from cases where id = %d" % case_id)[0]
        self.smtp.refuse = True
        try:
            st, h, b = self.ann.post("/api/v1/cases/%d/reply" % case_id, {"body": "您好"})
        finally:
            self.smtp.refuse = False
        self.assertEqual(st, 502, b)
        self.assertEqual(h["content-type"], "application/problem+json")
        self.assertIn("550", b["detail"])
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.srv.sql("select version from cases where id = %d" % case_id)[0],
                         version)
        # A server that is not there at all: the same.
        st, _, b = self.adm.patch("/api/v1/mailboxes/%d" % self.mb["id"],
                                  {"smtp_url": "smtp://127.0.0.1:1"},
                                  headers={"If-Match": '"%d"' % self.mailbox()["version"]})
        self.assertEqual(st, 200, b)
        before = self.counts()
        st, _, b = self.ann.post("/api/v1/cases/%d/reply" % case_id, {"body": "您好"})
        self.assertEqual(st, 502, b)
        self.assertEqual(self.counts(), before)
        st, _, b = self.adm.patch("/api/v1/mailboxes/%d" % self.mb["id"],
                                  {"smtp_url": self.smtp.url()},
                                  headers={"If-Match": '"%d"' % self.mailbox()["version"]})
        self.assertEqual(st, 200, b)

    def test_06_rejected_replies_write_nothing(self):
        case_id = self.case["id"]
        st, _, c = self.ann.post("/api/v1/cases", {"type": "inquiry", "subject": "电话咨询",
                                                   "channel": "phone"})
        n = len(self.smtp.messages)
        before = self.counts()
        for body, status in [({}, 422), ({"body": ""}, 422), ({"body": "x", "bcc": "a@b.cn"}, 422),
                             ({"body": "x", "to": "not-an-address"}, 422),
                             ({"body": "x", "status": "closed"}, 422),
                             ({"body": "x", "mailbox_id": 999}, 422)]:
            st, _, b = self.ann.post("/api/v1/cases/%d/reply" % c["id"], body)
            self.assertEqual(st, status, (body, b))
        st, _, b = self.ann.post("/api/v1/cases/999999/reply", {"body": "x"})
        self.assertEqual(st, 404, b)
        st, _, b = self.ann.req("POST", "/api/v1/cases/%d/reply" % case_id, raw=b"{oops",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, b)
        self.assertEqual((len(self.smtp.messages), self.counts()), (n, before))
        # A case without a thread and no customer e-mail: the address must be given. With
        # one mailbox able to send, it is the default.
        st, _, b = self.ann.post("/api/v1/cases/%d/reply" % c["id"], {"body": "回电确认"})
        self.assertEqual(st, 422, b)
        self.assertEqual(b["errors"][0]["pointer"], "/to")
        st, _, b = self.ann.post("/api/v1/cases/%d/reply" % c["id"],
                                 {"body": "回电确认", "to": "Caller@Example.CN"})
        self.assertEqual(st, 201, b)
        self.assertEqual(self.smtp.messages[-1]["rcpt"], ["Caller@example.cn"])

    def mailbox(self):
        st, _, b = self.adm.get("/api/v1/mailboxes/%d" % self.mb["id"])
        self.assertEqual(st, 200, b)
        return b

    def test_07_mailbox_crud_and_rejections(self):
        mb = self.mailbox()
        self.assertNotIn("password", mb)
        self.assertNotIn("smtp_password", mb)
        self.assertTrue(mb["has_password"])
        self.assertEqual(mb["uidvalidity"], self.imap.uidvalidity("service"))
        st, _, lst = self.adm.get("/api/v1/mailboxes")
        self.assertNotIn("imap-secret", str(lst))
        self.assertNotIn("imap-secret", str(self.srv.sql("select after from audit where "
                                                         "entity = 'mailbox'")))
        before = self.counts()
        bad = [
            ({}, ["/from_address", "/imap_url", "/name", "/username"]),
            ({"name": "x", "imap_url": "http://h/INBOX", "username": "u",
              "from_address": "a@b.cn"}, ["/imap_url"]),
            ({"name": "x", "imap_url": "imap://u:p@h/INBOX", "username": "u",
              "from_address": "a@b.cn"}, ["/imap_url"]),
            ({"name": "x", "imap_url": "imap://h/INBOX", "username": "u",
              "from_address": "nope", "poll_seconds": 1, "team_id": 999, "id": 5,
              "smtp_url": "smtp://h/path", "colour": "red", "tag_prefix": "]"},
             ["/colour", "/from_address", "/id", "/poll_seconds", "/smtp_url", "/tag_prefix",
              "/team_id"]),
        ]
        for body, pointers in bad:
            st, _, b = self.adm.post("/api/v1/mailboxes", body)
            self.assertEqual(st, 422, b)
            self.assertEqual(sorted(e["pointer"] for e in b["errors"]), pointers, b)
        st, _, b = self.adm.post("/api/v1/mailboxes", {
            "name": "service", "imap_url": "imap://h/INBOX", "username": "u",
            "from_address": "a@b.cn"})
        self.assertEqual(st, 409, b)
        path = "/api/v1/mailboxes/%d" % mb["id"]
        self.assertEqual(self.adm.patch(path, {"poll_seconds": 30}).status, 428)
        self.assertEqual(self.adm.patch(path, {"poll_seconds": 30},
                                        headers={"If-Match": '"999"'}).status, 412)
        self.assertEqual(self.adm.patch(path, {"poll_seconds": 5},
                                        headers={"If-Match": '"%d"' % mb["version"]}).status,
                         422)
        self.assertEqual(self.adm.delete(path).status, 428)
        self.assertEqual(self.adm.get("/api/v1/mailboxes/999999").status, 404)
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.mailbox()["version"], mb["version"])

    def test_08_only_new_mail_unless_import_existing(self):
        # A second mailbox without import_existing: mail received before it was connected is
        # passed over (its UID remembered), mail after it is imported; the same message in
        # two mailboxes is imported once.
        old = int(time.time()) - 3600
        self.imap.append("other", mail("old@customer.cn", "旧邮件"),
                         when=datetime.datetime.fromtimestamp(old, datetime.timezone.utc))
        st, _, mb2 = self.adm.post("/api/v1/mailboxes", {
            "name": "other", "imap_url": self.imap.url(), "username": "other",
            "password": "other-secret", "from_address": "other@smile-estate.cn",
            "active": False})
        self.assertEqual(st, 201, mb2)
        self.imap.append("other", mail("new@customer.cn", "新邮件"))
        self.imap.append("other", mail("m1@customer.cn", "3号楼渗水问题"))  # a copy
        r = self.poll(mb2)
        self.assertEqual((r["imported"], r["skipped"], r["duplicates"]), (1, 1, 1), r)
        self.assertEqual(r["last_uid"], 3)
        self.assertEqual(self.events("thread:old@customer.cn"), [])
        self.assertEqual(len(self.events("thread:new@customer.cn")), 1)
        # A wrong password: 502 with the server's words, recorded on the mailbox.
        st, _, b = self.adm.patch("/api/v1/mailboxes/%d" % mb2["id"], {"password": "wrong"},
                                  headers={"If-Match": '"%d"' % mb2["version"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.adm.post("/api/v1/mailboxes/%d/poll" % mb2["id"])
        self.assertEqual(st, 502, b)
        st, _, b = self.adm.get("/api/v1/mailboxes/%d" % mb2["id"])
        self.assertTrue(b["last_error"], b)
        self.assertEqual(b["last_uid"], 3)

    def test_09_auto_replies_start_no_clock(self):
        # An out-of-office answer in the thread (Auto-Submitted: auto-replied, RFC 3834) and
        # a bounce: logged, but no reply clock, no case opened, reopened or resumed.
        case_id = self.events("thread:refuse@customer.cn")[0]["data"]["case_id"]
        status = self.srv.sql("select status from cases where id = %d" % case_id)[0]
        ncases = self.srv.sql("select count(*) n from cases")[0]["n"]
        self.imap.append("service", mail("ooo@customer.cn", "自动回复: 停车位咨询", "我休假中",
                                         in_reply_to="refuse@customer.cn",
                                         extra="Auto-Submitted: auto-replied"))
        self.imap.append("service", mail("bounce@mx.example", "Undelivered Mail",
                                         frm="MAILER-DAEMON@mx.example"))
        r = self.poll()
        self.assertEqual((r["imported"], r["automatic"]), (0, 2), r)
        ev = self.events("thread:refuse@customer.cn")
        self.assertEqual([e["type"] for e in ev], ["email.received", "custom.email_auto"])
        self.assertEqual(ev[1]["data"]["auto"], "auto-submitted")
        self.assertEqual(self.events("thread:bounce@mx.example")[0]["data"]["auto"], "bounce")
        self.assertEqual(self.srv.sql("select status from cases where id = %d" % case_id)[0],
                         status)
        self.assertEqual(self.srv.sql("select count(*) n from cases")[0]["n"], ncases)
        wait_folded(self.srv, self.ann)
        st, _, tl = self.ann.get("/api/v1/subjects/thread:refuse@customer.cn/timeline")
        self.assertEqual(len([s for i in tl["instances"] for s in i["steps"]]), 1, tl)

    def test_10_complaint_mailbox_and_the_poller_thread(self):
        # A complaints mailbox, active: the poller of smile serve polls it at once (never
        # polled yet) without anyone asking. Its cases are complaints, so the Complaint
        # handling process measures them too: first_reply from case.opened (at our receipt
        # time t) to the staff's case.replied (at the send time s): elapsed = s − t.
        t = int(time.time()) - 600  # ten minutes ago, whole seconds
        self.imap.append("complaints", mail("angry@customer.cn", "投诉：维修迟迟不来"),
                         when=datetime.datetime.fromtimestamp(t, SHANGHAI))
        st, _, mb = self.adm.post("/api/v1/mailboxes", {
            "name": "complaints", "imap_url": self.imap.url(), "username": "complaints",
            "password": "c-secret", "smtp_url": self.smtp.url(),
            "from_address": "complaints@smile-estate.cn", "case_type": "complaint",
            "tag_prefix": "[TS-", "import_existing": True, "poll_seconds": 3600})
        self.assertEqual(st, 201, mb)
        deadline = time.time() + 20
        while time.time() < deadline and not self.events("thread:angry@customer.cn"):
            time.sleep(0.1)
        ev = self.events("thread:angry@customer.cn")
        self.assertEqual(len(ev), 1, "the poller thread imported it")
        case_id = ev[0]["data"]["case_id"]
        st, _, c = self.ann.get("/api/v1/cases/%d" % case_id)
        self.assertEqual((c["type"], rfc3339_ms(c["opened_at"])), ("complaint", t * 1000))
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % case_id, {"body": "非常抱歉"})
        self.assertEqual(st, 201, rep)
        self.assertIn("[TS-%d]" % case_id, rep["interaction"]["subject"])
        s = rfc3339_ms(rep["sent_at"])
        wait_folded(self.srv, self.ann)
        st, _, tl = self.ann.get("/api/v1/subjects/case:%d/timeline" % case_id)
        fr = [x for i in tl["instances"] for x in i["steps"] if x["step"] == "first_reply"]
        self.assertEqual([(x["result"], x["elapsed_ms"], x["charged_actor"]) for x in fr],
                         [("met", s - t * 1000, "ann")])
        reply = self.step("thread:angry@customer.cn", 0)
        self.assertEqual((reply["result"], reply["elapsed_ms"]), ("met", s - t * 1000))
        st, _, b = self.adm.get("/api/v1/mailboxes/%d" % mb["id"])
        self.assertEqual((b["imported"], b["last_error"]), (1, None))
        self.assertIsNotNone(b["last_ok_at"])

    def test_11_uidvalidity_change_imports_nothing_twice(self):
        # As if the server renumbered the folder (a restored or migrated mailbox): Smile saw
        # UIDVALIDITY 1 with last UID 0, the server says otherwise → the folder is read again
        # from UID 1, every message is recognised by its Message-ID, nothing is written.
        n = self.srv.sql("select count(*) n from mail_messages where mailbox_id = %d "
                         "and direction = 'in'" % self.mb["id"])[0]["n"]
        self.srv.sql_write("update mailboxes set uidvalidity = 1, last_uid = 0 where id = %d"
                           % self.mb["id"])
        before = self.counts()
        r = self.poll()
        self.assertEqual((r["imported"], r["automatic"]), (0, 0), r)
        self.assertEqual(r["duplicates"], n, r)
        self.assertEqual(r["uidvalidity"], self.imap.uidvalidity("service"))
        self.assertEqual(self.counts(), before)

    def test_12_restart_keeps_the_folder_state(self):
        # The folder state lives in the database: after a restart the poller goes on from the
        # last UID, importing only the mail that arrived while Smile was down.
        st, _, mbs = self.adm.get("/api/v1/mailboxes")
        mb = [m for m in mbs["items"] if m["name"] == "complaints"][0]
        st, _, mb = self.adm.patch("/api/v1/mailboxes/%d" % mb["id"], {"poll_seconds": 10},
                                   headers={"If-Match": '"%d"' % mb["version"]})
        self.assertEqual(st, 200, mb)
        self.srv.stop()
        self.imap.append("complaints", mail("while-down@customer.cn", "停电了"))
        self.srv.start()
        deadline = time.time() + 30
        while time.time() < deadline and not self.events("thread:while-down@customer.cn"):
            time.sleep(0.2)
        self.assertEqual(len(self.events("thread:while-down@customer.cn")), 1)
        # The mail imported before the restart was not imported again.
        self.assertEqual([e["type"] for e in self.events("thread:angry@customer.cn")],
                         ["email.received", "email.sent"])

    def test_13_reply_keeps_the_people_copied(self):
        # The customer wrote to us and copied a colleague (Cc) and a second address (To):
        # the reply goes to the sender with both in Cc — not to our own address.
        self.imap.append("service", mail(
            "cc1@customer.cn", "车位合同", "请一并回复我的同事",
            extra="Cc: Boss <Boss@Customer.cn>, service@smile-estate.cn\r\n"
                  "X-Note: the To header below is ours"))
        self.assertEqual(self.poll()["imported"], 1)
        case_id = self.events("thread:cc1@customer.cn")[0]["data"]["case_id"]
        n = len(self.smtp.messages)
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % case_id, {"body": "已收到"})
        self.assertEqual(st, 201, rep)
        self.assertEqual((rep["to"], rep["cc"]), (["chenjie@customer.cn"], ["Boss@customer.cn"]))
        got = self.smtp.messages[n]
        self.assertEqual(sorted(got["rcpt"]), ["Boss@customer.cn", "chenjie@customer.cn"])
        m = email.message_from_bytes(got["data"], policy=email.policy.default)
        self.assertEqual(m["Cc"], "Boss@customer.cn")
        # An explicit recipient means the agent chose: no one is copied unasked.
        st, _, rep = self.ann.post("/api/v1/cases/%d/reply" % case_id,
                                   {"body": "单独回复", "to": "chenjie@customer.cn"})
        self.assertEqual((st, rep["cc"]), (201, []))

    def test_14_test_message_through_the_mailbox(self):
        # An admin checks the SMTP settings: one message, From the mailbox, to the address
        # given (normalised: the domain lower-cased), in English and Chinese; only an audit
        # row is written.
        n = len(self.smtp.messages)
        before = self.counts()
        path = "/api/v1/mailboxes/%d/test" % self.mb["id"]
        st, _, b = self.adm.post(path, {"to": "Admin@Smile-Estate.CN"})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["sent"], b["to"], b["smtp_url"]),
                         (True, "Admin@smile-estate.cn", self.smtp.url()))
        self.assertEqual(len(self.smtp.messages), n + 1)
        got = self.smtp.messages[n]
        self.assertEqual((got["from"], got["rcpt"]),
                         ("service@smile-estate.cn", ["Admin@smile-estate.cn"]))
        m = email.message_from_bytes(got["data"], policy=email.policy.default)
        self.assertEqual(m["Message-ID"], "<%s>" % b["message_id"])
        self.assertEqual(m["Auto-Submitted"], "auto-generated")
        self.assertIn("Smile 测试邮件", m["Subject"])
        text = m.get_content()
        self.assertIn('from the mailbox "service" (service@smile-estate.cn)', text)
        self.assertIn("从邮箱“service”", text)
        after = self.counts()
        self.assertEqual(after["a"], before["a"] + 1)
        self.assertEqual({k: after[k] for k in "eicmt"}, {k: before[k] for k in "eicmt"})
        row = self.srv.sql("select action, entity_id, after from audit order by id desc limit 1")
        self.assertEqual((row[0]["action"], row[0]["entity_id"]), ("test_send", self.mb["id"]))
        self.assertIn(b["message_id"], row[0]["after"])
        # Refused by the server: 502 with its words; not sent, nothing written.
        before = self.counts()
        self.smtp.refuse = True
        try:
            st, h, b = self.adm.post(path, {"to": "admin@smile-estate.cn"})
        finally:
            self.smtp.refuse = False
        self.assertEqual(st, 502, b)
        self.assertEqual(h["content-type"], "application/problem+json")
        self.assertIn("550", b["detail"])
        # Bad requests: the field named, nothing sent or written.
        for body, status, ptr in [({}, 422, "/to"), ({"to": "not-an-address"}, 422, "/to"),
                                  ({"to": 7}, 422, "/to"),
                                  ({"to": "a@b.cn", "cc": "c@d.cn"}, 422, "/cc")]:
            st, _, b = self.adm.post(path, body)
            self.assertEqual(st, status, (body, b))
            self.assertIn(ptr, [e["pointer"] for e in b["errors"]], b)
        st, _, b = self.adm.post("/api/v1/mailboxes/99999/test", {"to": "a@b.cn"})
        self.assertEqual(st, 404, b)
        st, _, b = self.ann.post(path, {"to": "a@b.cn"})
        self.assertEqual(st, 403, b)
        self.assertEqual(self.counts(), before)
        # A mailbox without an SMTP server cannot send: 409.
        st, _, other = self.adm.post("/api/v1/mailboxes", {
            "name": "inonly", "imap_url": self.imap.url(), "username": "other",
            "password": "other-secret", "from_address": "in@smile-estate.cn", "active": False})
        self.assertEqual(st, 201, other)
        before = self.counts()
        st, _, b = self.adm.post("/api/v1/mailboxes/%d/test" % other["id"], {"to": "a@b.cn"})
        self.assertEqual(st, 409, b)
        self.assertIn("no SMTP server", b["detail"])
        self.assertEqual(len(self.smtp.messages), n + 1)
        self.assertEqual(self.counts(), before)


if __name__ == "__main__":
    unittest.main()
