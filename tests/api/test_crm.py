"""CRM records against a real server: customers, properties, contracts, cases (state
machine and actions), interactions and the customer timeline — every route as agent,
supervisor, admin, anonymous and a token lacking the scope; every error status with a
check that NOTHING was written (the record tables and the audit table are counted before
and after); ETags and If-Match; cursor paging; filters; reveal and anonymisation audited;
soft delete; cases answered 201 survive a kill -9 under load."""
import json
import threading
import unittest

from harness import Server, kill9_under_load

VALID_ID = "11010519491231002X"  # check character worked out in tests/unit/test_crm.c
VALID_ID2 = "440308199901011234"
TABLES = ("customers", "customer_contacts", "properties", "contracts", "cases", "interactions",
          "audit")


class CrmTest(unittest.TestCase):
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
        cls.anon = cls.srv.client()
        cls.read_tok = cls.srv.client(token=cls.srv.token("ada", "crm:read"))
        cls.write_tok = cls.srv.client(token=cls.srv.token("ada", "crm:read,crm:write"))
        cls.other_tok = cls.srv.client(token=cls.srv.token("ada", "events:read,kpi:read"))
        cls.ids = {r["username"]: r["id"] for r in cls.srv.sql("select id, username from users")}
        cls.team = cls.srv.sql("select id from teams where name = 'desk'")[0]["id"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    # helpers ---------------------------------------------------------------------------
    def counts(self):
        q = "select " + ", ".join("(select count(*) from %s) as %s" % (t, t) for t in TABLES)
        return self.srv.sql(q)[0]

    def assertNothingWritten(self, before, what=""):
        self.assertEqual(self.counts(), before, "something was written: " + what)

    def pointers(self, r):
        return sorted(e["pointer"] for e in r.json.get("errors", []))

    def customer(self, c=None, **kw):
        body = {"kind": "person", "name": "张三"}
        body.update(kw)
        r = (c or self.agent).post("/api/v1/customers", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def case(self, c=None, **kw):
        body = {"type": "repair", "subject": "漏水 water leak"}
        body.update(kw)
        r = (c or self.agent).post("/api/v1/cases", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def audit(self, entity, eid):
        return self.srv.sql("select actor, action, before, after, request_id from audit where "
                            "entity = '%s' and entity_id = %d order by id" % (entity, eid))

    def patch(self, c, path, body, version):
        return c.patch(path, body, headers={"If-Match": '"%d"' % version})


class TestCustomers(CrmTest):
    def test_create_normalises_and_masks(self):
        before = self.counts()
        r = self.agent.post("/api/v1/customers", {
            "kind": "person", "name": "王小明", "phones": ["+86 138-0013-8000", "(010) 1234-5678",
                                                       "138 0013 8000"],
            "emails": ["Wang.XM@Example.COM"], "id_number": VALID_ID.lower(),
            "birthday": "1949-12-31", "tags": ["vip", "业主"], "address": "北京市朝阳区"})
        self.assertEqual(r.status, 201, r)
        c = r.json
        self.assertEqual(r.headers["location"], "/api/v1/customers/%d" % c["id"])
        self.assertEqual(r.headers["etag"], '"1"')
        self.assertEqual(c["version"], 1)
        # Duplicates after normalisation collapse; landline keeps its area code.
        self.assertEqual(c["phones"], ["13800138000", "01012345678"])
        self.assertEqual(c["emails"], ["Wang.XM@example.com"])
        # first 3 + 11 stars + last 4
        self.assertEqual(c["id_number"], "110***********002X")
        self.assertIsNone(c["anonymised_at"])
        self.assertTrue(c["created_at"].endswith("Z") and len(c["created_at"]) == 24)
        # Stored in full (X upper-cased), shown masked.
        row = self.srv.sql("select id_number from customers where id = %d" % c["id"])[0]
        self.assertEqual(row["id_number"], VALID_ID)
        contacts = self.srv.sql("select kind, value from customer_contacts where customer_id = %d "
                                "order by kind, value" % c["id"])
        self.assertEqual(contacts, [{"kind": "email", "value": "Wang.XM@example.com"},
                                    {"kind": "phone", "value": "01012345678"},
                                    {"kind": "phone", "value": "13800138000"}])
        after = self.counts()
        self.assertEqual(after["customers"], before["customers"] + 1)
        self.assertEqual(after["audit"], before["audit"] + 1)
        a = self.audit("customer", c["id"])
        self.assertEqual(len(a), 1)
        self.assertEqual(a[0]["action"], "create")
        self.assertEqual(a[0]["actor"], "ann")
        self.assertIsNone(a[0]["before"])
        self.assertEqual(json.loads(a[0]["after"])["id_number"], "110***********002X")
        self.assertNotIn(VALID_ID, a[0]["after"])  # the audit never holds the full ID number
        # GET shows the same, masked, with the ETag.
        g = self.agent.get("/api/v1/customers/%d" % c["id"])
        self.assertEqual(g.status, 200)
        self.assertEqual(g.headers["etag"], '"1"')
        self.assertEqual(g.json, c)

    def test_every_bad_field_at_once_nothing_written(self):
        before = self.counts()
        r = self.agent.post("/api/v1/customers", {
            "kind": "robot", "name": "", "phones": ["13800138000", "12345", 7],
            "emails": ["nope"], "id_number": "110105194912310021", "birthday": "1990-02-30",
            "tags": "vip", "owner_id": 999999, "colour": "red", "anonymised_at": None})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.headers["content-type"], "application/problem+json")
        self.assertEqual(self.pointers(r), sorted([
            "/kind", "/name", "/phones/1", "/phones/2", "/emails/0", "/id_number", "/birthday",
            "/tags", "/owner_id", "/colour", "/anonymised_at"]))
        self.assertNothingWritten(before)

    def test_required_and_types(self):
        before = self.counts()
        r = self.agent.post("/api/v1/customers", {})
        self.assertEqual(r.status, 422)
        self.assertEqual(self.pointers(r), ["/kind", "/name"])
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": 42})
        self.assertEqual(self.pointers(r), ["/name"])
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": "x" * 201})
        self.assertEqual(self.pointers(r), ["/name"])
        # 200 Chinese characters are 600 bytes but 200 characters: accepted.
        self.assertEqual(self.agent.post("/api/v1/customers",
                                         {"kind": "company", "name": "华" * 200}).status, 201)
        before = self.counts()
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": "a\nb"})
        self.assertEqual(self.pointers(r), ["/name"])
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": "李",
                                                  "birthday": "1990-01-01",
                                                  "id_number": VALID_ID})
        self.assertEqual(self.pointers(r), ["/birthday"])  # disagrees with the ID number
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": "李",
                                                  "birthday": "2999-01-01"})
        self.assertEqual(self.pointers(r), ["/birthday"])
        r = self.agent.post("/api/v1/customers", {"kind": "person", "name": "李",
                                                  "tags": ["x" * 33]})
        self.assertEqual(self.pointers(r), ["/tags/0"])
        self.assertNothingWritten(before)

    def test_malformed_json_400(self):
        before = self.counts()
        r = self.agent.req("POST", "/api/v1/customers", raw=b'{"kind": "person",',
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        r = self.agent.req("POST", "/api/v1/customers", raw=b'[1]',
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 422)
        r = self.agent.req("POST", "/api/v1/customers",
                           raw=b'{"kind": "person", "kind": "company", "name": "x"}',
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)  # duplicate keys
        self.assertNothingWritten(before)

    def test_get_404(self):
        self.assertEqual(self.agent.get("/api/v1/customers/999999").status, 404)
        self.assertEqual(self.agent.get("/api/v1/customers/abc").status, 404)
        self.assertEqual(self.agent.get("/api/v1/customers/0").status, 404)

    def test_patch_if_match_and_versions(self):
        c = self.customer(phones=["13900139000"])
        path = "/api/v1/customers/%d" % c["id"]
        before = self.counts()
        r = self.agent.patch(path, {"name": "张三丰"})
        self.assertEqual(r.status, 428, r)
        r = self.patch(self.agent, path, {"name": "张三丰"}, 7)
        self.assertEqual(r.status, 412, r)
        r = self.patch(self.agent, path, {"name": "", "phones": ["x"]}, 1)
        self.assertEqual(r.status, 422)
        self.assertEqual(self.pointers(r), ["/name", "/phones/0"])
        r = self.patch(self.agent, path, {"id": 5, "version": 3}, 1)
        self.assertEqual(self.pointers(r), ["/id", "/version"])
        r = self.patch(self.agent, path, {"owner_id": 999999}, 1)
        self.assertEqual(self.pointers(r), ["/owner_id"])
        r = self.agent.req("PATCH", path, raw=b"{", headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 400)
        self.assertNothingWritten(before)
        self.assertEqual(self.srv.sql("select name, version from customers where id = %d"
                                      % c["id"]), [{"name": "张三", "version": 1}])
        # A good patch: merge, version + 1, new ETag, contacts follow the phones.
        r = self.patch(self.agent, path, {"name": "张三丰", "phones": ["13700137000"],
                                          "owner_id": self.ids["ann"], "notes": None}, 1)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["etag"], '"2"')
        self.assertEqual(r.json["name"], "张三丰")
        self.assertEqual(r.json["kind"], "person")
        self.assertEqual(r.json["owner_id"], self.ids["ann"])
        self.assertEqual(self.srv.sql("select value from customer_contacts where customer_id = %d"
                                      % c["id"]), [{"value": "13700137000"}])
        a = self.audit("customer", c["id"])[-1]
        self.assertEqual(a["action"], "update")
        self.assertEqual(json.loads(a["before"]), {"name": "张三", "phones": ["13900139000"],
                                                   "owner_id": None})
        self.assertEqual(json.loads(a["after"]), {"name": "张三丰", "phones": ["13700137000"],
                                                  "owner_id": self.ids["ann"]})
        # The old ETag is now stale.
        self.assertEqual(self.patch(self.agent, path, {"name": "x"}, 1).status, 412)
        # W/ and lists of tags are understood.
        r = self.agent.patch(path, {"address": "上海"}, headers={"If-Match": 'W/"9", "2"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["etag"], '"3"')
        # A patch that changes nothing writes nothing.
        before = self.counts()
        r = self.patch(self.agent, path, {"address": "上海"}, 3)
        self.assertEqual((r.status, r.headers["etag"]), (200, '"3"'))
        self.assertNothingWritten(before)

    def test_concurrent_patches_one_wins(self):
        """Eight clients PATCH with the same If-Match at once: exactly one succeeds, the
        others get 412, and the record moved by exactly one version."""
        c = self.customer()
        path = "/api/v1/customers/%d" % c["id"]
        clients = [self.srv.login("ann") for _ in range(8)]
        results = []

        def go(k):
            r = clients[k].patch(path, {"notes": "writer %d" % k}, headers={"If-Match": '"1"'})
            results.append(r.status)

        threads = [threading.Thread(target=go, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] + [412] * 7)
        self.assertEqual(self.agent.get(path).json["version"], 2)
        self.assertEqual(len([a for a in self.audit("customer", c["id"])
                              if a["action"] == "update"]), 1)

    def test_delete_soft(self):
        c = self.customer(phones=["13600136000"])
        path = "/api/v1/customers/%d" % c["id"]
        before = self.counts()
        self.assertEqual(self.agent.delete(path, headers={"If-Match": '"1"'}).status, 403)
        self.assertEqual(self.sup.delete(path, headers={"If-Match": '"1"'}).status, 403)
        self.assertEqual(self.admin.delete(path).status, 428)
        self.assertEqual(self.admin.delete(path, headers={"If-Match": '"2"'}).status, 412)
        self.assertEqual(self.admin.delete("/api/v1/customers/999999",
                                           headers={"If-Match": '"1"'}).status, 404)
        self.assertNothingWritten(before)
        r = self.admin.delete(path, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.agent.get(path).status, 404)
        self.assertEqual(self.patch(self.agent, path, {"name": "x"}, 2).status, 404)
        self.assertEqual(self.admin.delete(path, headers={"If-Match": '"2"'}).status, 404)
        ids = [x["id"] for x in self.agent.get("/api/v1/customers?limit=500").json["items"]]
        self.assertNotIn(c["id"], ids)
        row = self.srv.sql("select deleted_at is not null d from customers where id = %d"
                           % c["id"])
        self.assertEqual(row, [{"d": 1}])  # kept, marked
        self.assertEqual(self.srv.sql("select count(*) n from customer_contacts where "
                                      "customer_id = %d" % c["id"]), [{"n": 0}])
        a = self.audit("customer", c["id"])[-1]
        self.assertEqual((a["action"], a["actor"], a["after"]), ("delete", "ada", None))
        # A deleted customer cannot be referenced.
        r = self.agent.post("/api/v1/cases", {"type": "inquiry", "subject": "x",
                                              "customer_id": c["id"]})
        self.assertEqual(self.pointers(r), ["/customer_id"])

    def test_reveal(self):
        c = self.customer(id_number=VALID_ID2)
        path = "/api/v1/customers/%d" % c["id"]
        before = self.counts()
        r = self.agent.get(path + "?reveal=id_number")
        self.assertEqual(r.status, 403)
        r = self.sup.get(path + "?reveal=phones")
        self.assertEqual(r.status, 422)
        self.assertEqual(self.pointers(r), ["/query/reveal"])
        self.assertEqual(self.sup.get("/api/v1/customers/999999?reveal=id_number").status, 404)
        r = self.sup.get(path + "?reveal=id_number&reason=" + "x" * 201)
        self.assertEqual(self.pointers(r), ["/query/reason"])
        self.assertEqual(self.sup.get(path).json["id_number"], "440***********1234")
        self.assertNothingWritten(before)
        r = self.sup.get(path + "?reveal=id_number&reason=owner%20verification")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["id_number"], VALID_ID2)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        a = self.audit("customer", c["id"])[-1]
        self.assertEqual((a["action"], a["actor"]), ("reveal", "sue"))
        self.assertEqual(json.loads(a["after"]), {"fields": ["id_number"],
                                                  "reason": "owner verification"})
        self.assertEqual(self.admin.get(path + "?reveal=id_number").json["id_number"], VALID_ID2)
        self.assertEqual(len([x for x in self.audit("customer", c["id"])
                              if x["action"] == "reveal"]), 2)
        # Lists never reveal.
        items = self.sup.get("/api/v1/customers?limit=500&reveal=id_number").json["items"]
        self.assertIn("440***********1234", [x["id_number"] for x in items])

    def test_anonymise(self):
        c = self.customer(name="赵六", phones=["13500135000"], emails=["zl@example.cn"],
                          id_number=VALID_ID, birthday="1949-12-31", address="广州",
                          notes="prefers calls", tags=["vip"], owner_id=self.ids["sue"])
        k = self.case(customer_id=c["id"], description="赵六 says the roof leaks")
        i = self.agent.post("/api/v1/interactions", {
            "kind": "call", "customer_id": c["id"], "subject": "赵六 called",
            "body": "phone 13500135000"}).json
        path = "/api/v1/customers/%d" % c["id"]
        before = self.counts()
        self.assertEqual(self.agent.post(path + "/anonymise").status, 403)
        self.assertEqual(self.sup.post(path + "/anonymise").status, 403)
        self.assertEqual(self.admin.post("/api/v1/customers/999999/anonymise").status, 404)
        self.assertEqual(self.admin.post(path + "/anonymise", {"why": 1}).status, 422)
        self.assertNothingWritten(before)
        r = self.admin.post(path + "/anonymise")
        self.assertEqual(r.status, 200, r)
        a = r.json
        self.assertEqual(a["name"], "Anonymised customer #%d" % c["id"])
        for f in ("birthday", "id_number", "address", "notes"):
            self.assertIsNone(a[f], f)
        self.assertEqual((a["phones"], a["emails"]), ([], []))
        self.assertEqual((a["kind"], a["tags"], a["owner_id"]), ("person", ["vip"],
                                                                 self.ids["sue"]))
        self.assertIsNotNone(a["anonymised_at"])
        self.assertEqual(a["version"], 2)
        row = self.srv.sql("select name, phones, emails, birthday, id_number, address, notes "
                           "from customers where id = %d" % c["id"])[0]
        self.assertNotIn("赵六", json.dumps(row, ensure_ascii=False))
        self.assertIsNone(row["id_number"])
        self.assertEqual(self.srv.sql("select count(*) n from customer_contacts where "
                                      "customer_id = %d" % c["id"]), [{"n": 0}])
        # Linked records are kept; their free text about the customer is erased.
        ki = self.agent.get("/api/v1/cases/%d" % k["id"]).json
        self.assertEqual((ki["subject"], ki["description"]), ("(erased)", None))
        self.assertEqual(ki["customer_id"], c["id"])
        ii = self.agent.get("/api/v1/interactions/%d" % i["id"]).json
        self.assertEqual((ii["subject"], ii["body"]), (None, None))
        # Audited with the erased field names, never the values.
        au = self.audit("customer", c["id"])[-1]
        self.assertEqual((au["action"], au["actor"]), ("anonymise", "ada"))
        self.assertEqual(json.loads(au["before"]), {"erased": [
            "name", "phones", "emails", "birthday", "id_number", "address", "notes"]})
        after = json.loads(au["after"])
        self.assertEqual((after["interactions_erased"], after["cases_erased"]), (1, 1))
        for secret in ("赵六", "13500135000", "zl@example.cn", VALID_ID, "广州", "prefers"):
            self.assertNotIn(secret, (au["before"] or "") + (au["after"] or ""))
        # Twice → 409; personal data cannot come back; other fields still editable.
        before = self.counts()
        self.assertEqual(self.admin.post(path + "/anonymise").status, 409)
        r = self.patch(self.agent, path, {"phones": ["13500135000"]}, 2)
        self.assertEqual(r.status, 409, r)
        self.assertNothingWritten(before)
        r = self.patch(self.agent, path, {"tags": ["former-owner"]}, 2)
        self.assertEqual(r.status, 200, r)

    def test_anonymise_a_deleted_customer(self):
        c = self.customer(name="钱七", phones=["13300133000"])
        path = "/api/v1/customers/%d" % c["id"]
        self.assertEqual(self.admin.delete(path, headers={"If-Match": '"1"'}).status, 204)
        r = self.admin.post(path + "/anonymise")
        self.assertEqual(r.status, 204, r)  # erased; a deleted record has nothing to show
        row = self.srv.sql("select name, phones, anonymised_at is not null a from customers "
                           "where id = %d" % c["id"])[0]
        self.assertEqual(row, {"name": "Anonymised customer #%d" % c["id"], "phones": "[]",
                               "a": 1})
        au = self.audit("customer", c["id"])[-1]
        self.assertEqual(json.loads(au["before"]), {"erased": ["name", "phones"]})
        self.assertEqual(self.admin.post(path + "/anonymise").status, 409)

    def test_filters_and_paging(self):
        made = set()
        for n in range(120):
            made.add(self.customer(name="批量 %d" % n, tags=["bulk"],
                                   kind="company" if n % 3 == 0 else "person")["id"])
        seen, pages, cursor = [], 0, None
        while True:
            url = "/api/v1/customers?tag=bulk&limit=50" + ("&cursor=" + cursor if cursor else "")
            r = self.agent.get(url)
            self.assertEqual(r.status, 200, r)
            pages += 1
            seen += [x["id"] for x in r.json["items"]]
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(pages, 3)  # 50 + 50 + 20
        self.assertEqual(len(seen), 120)
        self.assertEqual(set(seen), made)  # each exactly once
        self.assertEqual(seen, sorted(seen, reverse=True))  # id descending
        # kind filter: n % 3 == 0 for n in 0..119 → 40 companies.
        r = self.agent.get("/api/v1/customers?tag=bulk&kind=company&limit=500")
        self.assertEqual(len(r.json["items"]), 40)
        # updated_since in the future: nothing.
        r = self.agent.get("/api/v1/customers?tag=bulk&updated_since=2999-01-01T00:00:00Z")
        self.assertEqual(r.json, {"items": [], "next_cursor": None})
        r = self.agent.get("/api/v1/customers?tag=bulk&updated_since=2000-01-01T00:00:00Z"
                           "&limit=500")
        self.assertEqual(len(r.json["items"]), 120)
        # LIKE wildcards in a tag match literally.
        self.assertEqual(self.agent.get("/api/v1/customers?tag=bul%25").json["items"], [])
        self.assertEqual(self.agent.get("/api/v1/customers?tag=b_lk").json["items"], [])
        # Bad queries: 422 with the query pointer.
        for q, p in (("limit=0", "/query/limit"), ("limit=501", "/query/limit"),
                     ("limit=x", "/query/limit"), ("cursor=%%%", "/query/cursor"),
                     ("cursor=NR", "/query/cursor"), ("kind=robot", "/query/kind"),
                     ("owner_id=-1", "/query/owner_id"), ("assignee_id=1", "/query/assignee_id"),
                     ("status=new", "/query/status"),
                     ("updated_since=yesterday", "/query/updated_since")):
            r = self.agent.get("/api/v1/customers?" + q)
            self.assertEqual(r.status, 422, q)
            self.assertEqual(self.pointers(r), [p], q)


ANY = ("agent", "supervisor", "admin")
SUP = ("supervisor", "admin")
ADM = ("admin",)
# The intended permissions of every CRM route, written out independently of the route table.
CRM_ROUTES = [
    ("GET", "/api/v1/customers", ANY, "crm:read"),
    ("POST", "/api/v1/customers", ANY, "crm:write"),
    ("GET", "/api/v1/customers/{id}", ANY, "crm:read"),
    ("PATCH", "/api/v1/customers/{id}", ANY, "crm:write"),
    ("DELETE", "/api/v1/customers/{id}", ADM, "crm:write"),
    ("POST", "/api/v1/customers/{id}/anonymise", ADM, "crm:write"),
    ("GET", "/api/v1/customers/{id}/timeline", ANY, "crm:read"),
    ("GET", "/api/v1/properties", ANY, "crm:read"),
    ("POST", "/api/v1/properties", SUP, "crm:write"),
    ("GET", "/api/v1/properties/{id}", ANY, "crm:read"),
    ("PATCH", "/api/v1/properties/{id}", SUP, "crm:write"),
    ("DELETE", "/api/v1/properties/{id}", ADM, "crm:write"),
    ("GET", "/api/v1/contracts", ANY, "crm:read"),
    ("POST", "/api/v1/contracts", SUP, "crm:write"),
    ("GET", "/api/v1/contracts/{id}", ANY, "crm:read"),
    ("PATCH", "/api/v1/contracts/{id}", SUP, "crm:write"),
    ("DELETE", "/api/v1/contracts/{id}", ADM, "crm:write"),
    ("GET", "/api/v1/cases", ANY, "crm:read"),
    ("POST", "/api/v1/cases", ANY, "crm:write"),
    ("GET", "/api/v1/cases/{id}", ANY, "crm:read"),
    ("PATCH", "/api/v1/cases/{id}", ANY, "crm:write"),
    ("DELETE", "/api/v1/cases/{id}", SUP, "crm:write"),
    ("POST", "/api/v1/cases/{id}/assign", ANY, "crm:write"),
    ("POST", "/api/v1/cases/{id}/pending", ANY, "crm:write"),
    ("POST", "/api/v1/cases/{id}/resolve", ANY, "crm:write"),
    ("POST", "/api/v1/cases/{id}/reopen", ANY, "crm:write"),
    ("POST", "/api/v1/cases/{id}/close", ANY, "crm:write"),
    ("GET", "/api/v1/interactions", ANY, "crm:read"),
    ("POST", "/api/v1/interactions", ANY, "crm:write"),
    ("GET", "/api/v1/interactions/{id}", ANY, "crm:read"),
    ("PATCH", "/api/v1/interactions/{id}", ANY, "crm:write"),
    ("DELETE", "/api/v1/interactions/{id}", ADM, "crm:write"),
]
ALL_SCOPES = ("crm:read", "crm:write", "events:read", "events:write", "kpi:read", "admin")


class TestPermissions(CrmTest):
    def test_route_walk(self):
        """Every CRM route × agent, supervisor, admin, anonymous and a token holding every
        scope but the one needed. Ids that do not exist and empty bodies: nothing may be
        written by any of these calls."""
        tokens = {s: self.srv.client(token=self.srv.token(
            "ada", ",".join(x for x in ALL_SCOPES if x != s))) for s in ("crm:read", "crm:write")}
        clients = {"agent": self.agent, "supervisor": self.sup, "admin": self.admin}
        before = self.counts()
        for m, p, roles, scope in CRM_ROUTES:
            path = p.replace("{id}", "999999")
            for role, c in clients.items():
                st = c.req(m, path, {}, headers={"If-Match": '"1"'}).status
                if role in roles:
                    self.assertNotIn(st, (401, 403), "%s %s as %s" % (m, p, role))
                    self.assertIn(st, (200, 404, 422), "%s %s as %s" % (m, p, role))
                else:
                    self.assertEqual(st, 403, "%s %s as %s" % (m, p, role))
            self.assertEqual(self.anon.req(m, path, {}).status, 401, "%s %s" % (m, p))
            self.assertEqual(tokens[scope].req(m, path, {}).status, 403, "%s %s" % (m, p))
        self.assertNothingWritten(before)

    def test_anonymous_401(self):
        for m, p in (("GET", "/api/v1/customers"), ("POST", "/api/v1/customers"),
                     ("GET", "/api/v1/cases/1"), ("POST", "/api/v1/cases/1/resolve"),
                     ("GET", "/api/v1/customers/1/timeline")):
            self.assertEqual(self.anon.req(m, p, {}).status, 401, p)

    def test_tokens_and_scopes(self):
        before = self.counts()
        self.assertEqual(self.read_tok.get("/api/v1/customers").status, 200)
        self.assertEqual(self.read_tok.post("/api/v1/customers",
                                            {"kind": "person", "name": "x"}).status, 403)
        self.assertEqual(self.other_tok.get("/api/v1/customers").status, 403)
        self.assertEqual(self.other_tok.get("/api/v1/cases").status, 403)
        self.assertNothingWritten(before)
        r = self.write_tok.post("/api/v1/customers", {"kind": "person", "name": "token made"})
        self.assertEqual(r.status, 201)
        self.assertTrue(self.audit("customer", r.json["id"])[0]["actor"].startswith("ada"))

    def test_roles_on_properties_and_contracts(self):
        before = self.counts()
        self.assertEqual(self.agent.post("/api/v1/properties", {"project": "x"}).status, 403)
        self.assertEqual(self.agent.post("/api/v1/contracts", {"number": "x"}).status, 403)
        self.assertNothingWritten(before)
        self.assertEqual(self.agent.get("/api/v1/properties").status, 200)
        self.assertEqual(self.agent.get("/api/v1/contracts").status, 200)

    def test_csrf_on_session_writes(self):
        c = self.srv.login("ann")
        c.csrf = None
        before = self.counts()
        self.assertEqual(c.post("/api/v1/customers", {"kind": "person", "name": "x"}).status, 403)
        self.assertNothingWritten(before)


class TestPropertiesContracts(CrmTest):
    def test_property_crud(self):
        cust = self.customer()
        before = self.counts()
        r = self.sup.post("/api/v1/properties", {"project": "翠湖花园", "building": "3",
                                                 "unit": "1201", "area_m2": 89.5,
                                                 "customer_id": cust["id"], "status": "sold"})
        self.assertEqual(r.status, 201, r)
        p = r.json
        self.assertEqual((p["area_m2"], p["status"]), (89.5, "sold"))
        self.assertEqual(self.counts()["properties"], before["properties"] + 1)
        before = self.counts()
        # Same unit twice → 409; bad values → 422; nothing written.
        r = self.sup.post("/api/v1/properties", {"project": "翠湖花园", "building": "3",
                                                 "unit": "1201"})
        self.assertEqual(r.status, 409, r)
        r = self.sup.post("/api/v1/properties", {"project": "x", "area_m2": -3,
                                                 "status": "haunted", "customer_id": "1"})
        self.assertEqual(self.pointers(r), ["/area_m2", "/customer_id", "/status"])
        self.assertNothingWritten(before)
        self.assertEqual(self.agent.get("/api/v1/properties?status=sold&customer_id=%d"
                                        % cust["id"]).json["items"][0]["id"], p["id"])
        path = "/api/v1/properties/%d" % p["id"]
        self.assertEqual(self.patch(self.agent, path, {"status": "delivered"}, 1).status, 403)
        r = self.patch(self.sup, path, {"status": "delivered"}, 1)
        self.assertEqual((r.status, r.json["status"]), (200, "delivered"))
        self.assertEqual(self.sup.delete(path, headers={"If-Match": '"2"'}).status, 403)
        self.assertEqual(self.admin.delete(path, headers={"If-Match": '"2"'}).status, 204)
        self.assertEqual(self.agent.get(path).status, 404)

    def test_contract_rules(self):
        cust = self.customer()
        base = {"customer_id": cust["id"], "number": "HT-2026-0001", "amount_cents": 289000000,
                "signed_on": "2026-03-01", "delivery_date": "2026-12-31", "status": "signed"}
        r = self.sup.post("/api/v1/contracts", base)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["amount_cents"], 289000000)
        before = self.counts()
        r = self.sup.post("/api/v1/contracts", base)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.pointers(r), ["/number"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", amount_cents=-1))
        self.assertEqual(self.pointers(r), ["/amount_cents"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", amount_cents=1.5))
        self.assertEqual(self.pointers(r), ["/amount_cents"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", amount_cents="100"))
        self.assertEqual(self.pointers(r), ["/amount_cents"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", delivery_date="2025-01-01"))
        self.assertEqual(self.pointers(r), ["/delivery_date"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", signed_on=None))
        self.assertEqual(self.pointers(r), ["/signed_on"])
        r = self.sup.post("/api/v1/contracts", dict(base, number="B", customer_id=999999,
                                                    property_id=999999))
        self.assertEqual(self.pointers(r), ["/customer_id", "/property_id"])
        r = self.sup.post("/api/v1/contracts", {"number": "B"})
        self.assertEqual(self.pointers(r), ["/customer_id"])
        self.assertNothingWritten(before)
        # The number of a deleted contract can be used again.
        cid = self.srv.sql("select id from contracts where number = 'HT-2026-0001'")[0]["id"]
        self.assertEqual(self.admin.delete("/api/v1/contracts/%d" % cid,
                                           headers={"If-Match": '"1"'}).status, 204)
        self.assertEqual(self.sup.post("/api/v1/contracts", base).status, 201)


class TestCases(CrmTest):
    def test_lifecycle_and_actions(self):
        cust = self.customer()
        k = self.case(customer_id=cust["id"], priority="high", channel="phone")
        path = "/api/v1/cases/%d" % k["id"]
        self.assertEqual((k["status"], k["priority"], k["channel"]), ("new", "high", "phone"))
        self.assertIsNotNone(k["opened_at"])
        self.assertIsNone(k["resolved_at"])
        # Assign: a new case opens.
        r = self.agent.post(path + "/assign", {"assignee_id": self.ids["ann"],
                                               "team_id": self.team})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["assignee_id"], r.json["team_id"]),
                         ("open", self.ids["ann"], self.team))
        self.assertEqual(r.headers["etag"], '"2"')
        self.assertEqual(self.audit("case", k["id"])[-1]["action"], "assign")
        r = self.agent.post(path + "/pending")
        self.assertEqual(r.json["status"], "pending")
        # pending → open by PATCH (resume)
        r = self.patch(self.agent, path, {"status": "open"}, 3)
        self.assertEqual((r.status, r.json["status"]), (200, "open"))
        r = self.agent.post(path + "/resolve", headers={"If-Match": '"4"'})
        self.assertEqual((r.status, r.json["status"]), (200, "resolved"))
        self.assertIsNotNone(r.json["resolved_at"])
        r = self.agent.post(path + "/reopen")
        self.assertEqual((r.json["status"], r.json["resolved_at"]), ("open", None))
        self.agent.post(path + "/resolve")
        r = self.agent.post(path + "/close")
        self.assertEqual((r.status, r.json["status"]), (200, "closed"))
        self.assertIsNotNone(r.json["closed_at"])
        v = r.json["version"]
        actions = [a["action"] for a in self.audit("case", k["id"])]
        self.assertEqual(actions, ["create", "assign", "pending", "update", "resolve", "reopen",
                                   "resolve", "close"])
        # Closed is final: nothing moves, nothing is written.
        before = self.counts()
        for a in ("resolve", "reopen", "pending", "close"):
            r = self.agent.post(path + "/" + a)
            self.assertEqual(r.status, 409, a)
        r = self.patch(self.agent, path, {"subject": "edit"}, v)
        self.assertEqual(r.status, 409)
        r = self.agent.post(path + "/assign", {"assignee_id": self.ids["sue"]})
        self.assertEqual(r.status, 409)
        self.assertNothingWritten(before)

    def test_illegal_transitions_409(self):
        k = self.case()
        path = "/api/v1/cases/%d" % k["id"]
        before = self.counts()
        r = self.patch(self.agent, path, {"status": "closed"}, 1)
        self.assertEqual(r.status, 409, r)
        self.assertIn("new", r.json["detail"])
        self.assertIn("closed", r.json["detail"])
        self.assertEqual(self.agent.post(path + "/close").status, 409)
        self.assertEqual(self.agent.post(path + "/reopen").status, 409)
        self.assertEqual(self.agent.post(path + "/pending").status, 409)  # new → pending
        self.assertEqual(self.agent.post(path + "/resolve", headers={"If-Match": '"9"'}).status,
                         412)
        self.assertEqual(self.agent.post("/api/v1/cases/999999/resolve").status, 404)
        r = self.agent.post(path + "/assign", {})
        self.assertEqual((r.status, self.pointers(r)), (422, ["/assignee_id"]))
        r = self.agent.post(path + "/assign", {"assignee_id": 999999, "colour": 1})
        self.assertEqual(self.pointers(r), ["/colour"])
        r = self.agent.post(path + "/assign", {"assignee_id": 999999})
        self.assertEqual(self.pointers(r), ["/assignee_id"])
        r = self.agent.post(path + "/resolve", {"note": "x"})
        self.assertEqual(r.status, 422)
        r = self.patch(self.agent, path, {"status": "done", "opened_at": "2026-01-01T00:00:00Z"},
                       1)
        self.assertEqual(self.pointers(r), ["/opened_at", "/status"])
        self.assertNothingWritten(before)
        # new → resolved directly is legal (an enquiry answered at once), resolved twice is not.
        self.assertEqual(self.agent.post(path + "/resolve").status, 200)
        self.assertEqual(self.agent.post(path + "/resolve").status, 409)

    def test_create_rules(self):
        before = self.counts()
        r = self.agent.post("/api/v1/cases", {"type": "repair", "subject": "x", "status": "open"})
        self.assertEqual(self.pointers(r), ["/status"])
        r = self.agent.post("/api/v1/cases", {"type": "fire", "priority": "meh", "channel": "fax",
                                              "team_id": 999999})
        self.assertEqual(self.pointers(r), ["/channel", "/priority", "/subject", "/team_id",
                                            "/type"])
        self.assertNothingWritten(before)

    def test_filters_and_delete(self):
        a = self.case(type="complaint", assignee_id=self.ids["sue"], team_id=self.team)
        b = self.case(type="complaint")
        r = self.agent.get("/api/v1/cases?type=complaint&assignee_id=%d&team_id=%d&status=new"
                           % (self.ids["sue"], self.team))
        self.assertEqual([x["id"] for x in r.json["items"]], [a["id"]])
        r = self.agent.get("/api/v1/cases?type=complaint&limit=500")
        ids = [x["id"] for x in r.json["items"]]
        self.assertIn(b["id"], ids)
        self.assertEqual(self.agent.get("/api/v1/cases?status=done").status, 422)
        self.assertEqual(self.agent.get("/api/v1/cases?tag=x").status, 422)
        path = "/api/v1/cases/%d" % b["id"]
        self.assertEqual(self.agent.delete(path, headers={"If-Match": '"1"'}).status, 403)
        self.assertEqual(self.sup.delete(path, headers={"If-Match": '"1"'}).status, 204)
        ids = [x["id"] for x in self.agent.get("/api/v1/cases?type=complaint&limit=500")
               .json["items"]]
        self.assertNotIn(b["id"], ids)


class TestInteractions(CrmTest):
    def test_defaults_and_case_link(self):
        cust = self.customer()
        k = self.case(customer_id=cust["id"])
        r = self.agent.post("/api/v1/interactions", {"kind": "email", "direction": "out",
                                                     "case_id": k["id"], "subject": "回复",
                                                     "occurred_at": "2026-11-29T17:30:00+08:00"})
        self.assertEqual(r.status, 201, r)
        i = r.json
        self.assertEqual((i["customer_id"], i["actor_id"], i["channel"]),
                         (cust["id"], self.ids["ann"], "email"))
        self.assertEqual(i["occurred_at"], "2026-11-29T09:30:00.000Z")
        other = self.customer()
        before = self.counts()
        r = self.agent.post("/api/v1/interactions", {"kind": "call", "case_id": k["id"],
                                                     "customer_id": other["id"]})
        self.assertEqual(self.pointers(r), ["/customer_id"])
        r = self.agent.post("/api/v1/interactions", {"kind": "note",
                                                     "occurred_at": "1999-12-31T23:59:59Z"})
        self.assertEqual(self.pointers(r), ["/occurred_at"])
        r = self.agent.post("/api/v1/interactions", {"kind": "fax", "direction": "up",
                                                     "occurred_at": "yesterday",
                                                     "case_id": 999999})
        self.assertEqual(self.pointers(r), ["/case_id", "/direction", "/kind", "/occurred_at"])
        self.assertNothingWritten(before)
        r = self.agent.get("/api/v1/interactions?case_id=%d&direction=out" % k["id"])
        self.assertEqual([x["id"] for x in r.json["items"]], [i["id"]])
        path = "/api/v1/interactions/%d" % i["id"]
        r = self.patch(self.agent, path, {"body": "正文"}, 1)
        self.assertEqual((r.status, r.json["body"]), (200, "正文"))
        self.assertEqual(self.sup.delete(path, headers={"If-Match": '"2"'}).status, 403)
        self.assertEqual(self.admin.delete(path, headers={"If-Match": '"2"'}).status, 204)

    def test_timeline(self):
        cust = self.customer()
        i1 = self.agent.post("/api/v1/interactions", {
            "kind": "call", "customer_id": cust["id"],
            "occurred_at": "2020-01-01T00:00:00Z"}).json
        k = self.case(customer_id=cust["id"])
        i2 = self.agent.post("/api/v1/interactions", {
            "kind": "visit", "customer_id": cust["id"],
            "occurred_at": "2100-01-01T00:00:00Z"}).json
        r = self.agent.get("/api/v1/customers/%d/timeline" % cust["id"])
        self.assertEqual(r.status, 200, r)
        got = [(x["type"], x["record"]["id"]) for x in r.json["items"]]
        self.assertEqual(got, [("interaction", i2["id"]), ("case", k["id"]),
                               ("interaction", i1["id"])])
        self.assertIsNone(r.json["next_cursor"])
        # Page by one: the same three, each once.
        seen, cursor = [], None
        for _ in range(5):
            url = "/api/v1/customers/%d/timeline?limit=1" % cust["id"]
            r = self.agent.get(url + ("&cursor=" + cursor if cursor else ""))
            self.assertEqual(r.status, 200, r)
            seen += [(x["type"], x["record"]["id"]) for x in r.json["items"]]
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, got)
        self.assertEqual(self.agent.get("/api/v1/customers/999999/timeline").status, 404)
        r = self.agent.get("/api/v1/customers/%d/timeline?cursor=zzz" % cust["id"])
        self.assertEqual(r.status, 422)


class TestCaseDurability(unittest.TestCase):
    def test_cases_answered_201_survive_kill9_under_load(self):
        # 8 clients create cases without pause; the server is killed while they run. Every
        # case answered 201 is there after the restart with its subject, its audit row and
        # its case.opened event: a CRM write is answered after its group's COMMIT and sync.
        srv = Server()
        try:
            srv.add_user("ada", "admin")
            c = srv.client(srv.token("ada", "crm:read,crm:write"))
            cid = c.post("/api/v1/customers", {"kind": "person", "name": "王芳"}).json["id"]
            def create(t, i):
                subject = "漏水 leak %d-%d" % (t, i)
                r = c.post("/api/v1/cases", {"type": "complaint", "subject": subject,
                                             "customer_id": cid}, timeout=10)
                return (r.json["id"], subject) if r.status == 201 else None

            acked = kill9_under_load(srv, 8, create, 100)
            rows = srv.sql("select id, subject from cases where subject like '漏水 leak %'")
            stored = {r["id"]: r["subject"] for r in rows}
            self.assertEqual({k: stored.get(k) for k in acked}, acked)
            ids = ",".join(str(k) for k in acked)
            audited = srv.sql("select count(distinct entity_id) as n from audit where entity = "
                              "'case' and action = 'create' and entity_id in (%s)" % ids)
            self.assertEqual(audited[0]["n"], len(acked))
            opened = srv.sql("select count(distinct subject) as n from events where type = "
                             "'case.opened' and subject in (%s)"
                             % ",".join("'case:%d'" % k for k in acked))
            self.assertEqual(opened[0]["n"], len(acked))
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
