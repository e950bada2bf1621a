"""GET /api/v1/audit (uiadmin): the audit trail of a kind of record, or of one record, newest
first, for administrators — what the admin screens show as a scorecard template's or a
webhook's history. Checks the order and contents against changes made here (versions worked
out by hand: create → 1, each PUT + 1), cursor paging, that a webhook's secret never appears,
and that every refused request (bad query, wrong role or scope, no auth) writes nothing."""
import unittest

from harness import Server

TEMPLATE = {
    "name": "audit-month", "role": "agent", "period": "month", "auto": False,
    "items": [{"key": "reply", "indicator": "compliance", "weight": 2, "floor": 0.5,
               "target": 1.0}],
}


class AuditTrail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("au_admin", "admin")
        cls.srv.add_user("au_sup", "supervisor")
        cls.srv.add_user("au_agent", "agent")
        cls.admin = cls.srv.login("au_admin")
        cls.sup = cls.srv.login("au_sup")
        cls.agent = cls.srv.login("au_agent")
        cls.admin_id = cls.srv.sql("select id from users where username = 'au_admin'")[0]["id"]
        # A template saved three times: versions 1 (create), 2 and 3 (PUT with If-Match).
        r = cls.admin.post("/api/v1/scorecards/templates", TEMPLATE)
        assert r.status == 201, r
        cls.tid = r.json["id"]
        for v, w in ((1, 3), (2, 4)):
            body = dict(TEMPLATE, items=[dict(TEMPLATE["items"][0], weight=w)])
            r = cls.admin.req("PUT", "/api/v1/scorecards/templates/%d" % cls.tid, body,
                              headers={"If-Match": '"%d"' % v})
            assert r.status == 200, r
        r = cls.admin.post("/api/v1/scorecards/templates", dict(TEMPLATE, name="audit-week",
                                                                period="week"))
        assert r.status == 201, r
        cls.tid2 = r.json["id"]
        # A webhook created and its secret rotated: two rows, neither with a secret.
        r = cls.admin.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook",
                                                "event_types": ["case.*"]})
        assert r.status == 201, r
        cls.hid, cls.secrets = r.json["id"], [r.json["secret"]]
        r = cls.admin.post("/api/v1/webhooks/%d/rotate-secret" % cls.hid)
        assert r.status == 200, r
        cls.secrets.append(r.json["secret"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def audit_rows(self):
        return self.srv.sql("select count(*) n from audit")[0]["n"]

    def test_one_template_newest_first(self):
        r = self.admin.get("/api/v1/audit?entity=score_template&entity_id=%d" % self.tid)
        self.assertEqual(r.status, 200, r)
        items = r.json["items"]
        # create (v1), update v1 → v2, update v2 → v3; newest first.
        self.assertEqual([x["action"] for x in items], ["update", "update", "create"])
        self.assertEqual([(x["before"] or {}).get("version") for x in items], [2, 1, None])
        self.assertEqual([x["after"]["version"] for x in items], [3, 2, 1])
        self.assertEqual(items[0]["after"]["items"][0]["weight"], 4)
        self.assertEqual(items[0]["before"]["items"][0]["weight"], 3)
        self.assertIsNone(items[2]["before"])
        for x in items:
            self.assertEqual(x["entity"], "score_template")
            self.assertEqual(x["entity_id"], self.tid)
            self.assertEqual(x["actor"], "au_admin")
            self.assertEqual(x["actor_id"], self.admin_id)
            self.assertRegex(x["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreater(items[0]["id"], items[1]["id"])
        self.assertIsNone(r.json["next_cursor"])

    def test_kind_and_paging(self):
        # Every score_template row: 3 of the first template and 1 (create) of the second.
        r = self.admin.get("/api/v1/audit?entity=score_template")
        self.assertEqual(r.status, 200, r)
        every = r.json["items"]
        self.assertEqual(len(every), 4)
        self.assertEqual(every[0]["entity_id"], self.tid2)
        # Two at a time: [0, 1], then [2, 3], then nothing more.
        p1 = self.admin.get("/api/v1/audit?entity=score_template&limit=2")
        self.assertEqual([x["id"] for x in p1.json["items"]], [x["id"] for x in every[:2]])
        self.assertEqual(p1.json["next_cursor"], str(every[1]["id"]))
        p2 = self.admin.get("/api/v1/audit?entity=score_template&limit=2&cursor=%s" %
                            p1.json["next_cursor"])
        self.assertEqual([x["id"] for x in p2.json["items"]], [x["id"] for x in every[2:]])
        self.assertIsNone(p2.json["next_cursor"])
        # A kind nobody changed, and a record without rows: empty pages.
        for q in ("entity=no_such_kind", "entity=score_template&entity_id=999999"):
            r = self.admin.get("/api/v1/audit?" + q)
            self.assertEqual((r.status, r.json["items"], r.json["next_cursor"]), (200, [], None))

    def test_webhook_history_without_secrets(self):
        r = self.admin.get("/api/v1/audit?entity=webhook&entity_id=%d" % self.hid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["action"] for x in r.json["items"]], ["rotate_secret", "create"])
        for s in self.secrets:
            self.assertNotIn(s, r.raw)
            self.assertNotIn(s[6:], r.raw)  # nor the part after "whsec_"

    def test_refused_requests_write_nothing(self):
        before = self.audit_rows()
        bad = [
            ("/api/v1/audit", "/query/entity"),
            ("/api/v1/audit?entity=", "/query/entity"),
            ("/api/v1/audit?entity=Score-Template", "/query/entity"),
            ("/api/v1/audit?entity=" + "a" * 33, "/query/entity"),
            ("/api/v1/audit?entity=webhook&entity_id=0", "/query/entity_id"),
            ("/api/v1/audit?entity=webhook&entity_id=abc", "/query/entity_id"),
            ("/api/v1/audit?entity=webhook&limit=0", "/query/limit"),
            ("/api/v1/audit?entity=webhook&limit=501", "/query/limit"),
        ]
        for path, ptr in bad:
            r = self.admin.get(path)
            self.assertEqual(r.status, 422, (path, r))
            self.assertIn(ptr, [e["pointer"] for e in r.json["errors"]], path)
        # 32 letters is the longest kind accepted.
        self.assertEqual(self.admin.get("/api/v1/audit?entity=" + "a" * 32).status, 200)
        ok = "/api/v1/audit?entity=score_template"
        self.assertEqual(self.sup.get(ok).status, 403)
        self.assertEqual(self.agent.get(ok).status, 403)
        self.assertEqual(self.srv.client().get(ok).status, 401)
        self.assertEqual(self.admin.post("/api/v1/audit", {}).status, 405)
        weak = self.srv.token("au_admin", "crm:read,kpi:read")
        self.assertEqual(self.srv.client(weak).get(ok).status, 403)
        strong = self.srv.token("au_admin", "admin")
        self.assertEqual(self.srv.client(strong).get(ok).status, 200)
        # Reading the trail adds nothing to it (token creation above is audited: +2).
        self.assertEqual(self.audit_rows(), before + 2)


if __name__ == "__main__":
    unittest.main()
