"""GET /api/v1/search against a real server: customers created through the CRM API
(POST /api/v1/customers) are found by a Chinese substring, by the last four digits or a
prefix of a phone, by an e-mail word prefix; exact matches come first; kind and limit
filter; bad parameters are 422 with the pointer of the parameter; deleted customers are
not found; the route needs a signed-in caller and, for tokens, the crm:read scope.

Needs the crm (customers API) and auth (sessions, users, tokens) branches merged: it
creates its records through the real API, never by writing to the database.
"""
import unittest
import urllib.parse

from harness import Server


def search_path(q=None, **params):
    if q is not None:
        params["q"] = q
    return "/api/v1/search?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


class TestSearch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ann", "agent")
        cls.srv.add_user("ada", "admin")
        cls.c = cls.srv.login("ann")
        cls.admin = cls.srv.login("ada")
        cls.ids = {}
        cls.etags = {}
        for name, phones, emails in [
            ("张伟", ["13812345678"], ["zhang.wei@example.com"]),
            ("李伟", ["13900001111"], ["li.wei@example.com"]),
            ("张伟明", ["+86 137 0000 5678"], []),
            ("王芳", ["15856781234"], []),
        ]:
            r = cls.c.post("/api/v1/customers", {"kind": "person", "name": name,
                                                 "phones": phones, "emails": emails})
            assert r.status == 201, r
            cls.ids[name] = r.json["id"]
            cls.etags[name] = r.headers.get("etag")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def search(self, q=None, status=200, client=None, **params):
        r = (client or self.c).get(search_path(q, **params))
        self.assertEqual(r.status, status, r)
        return r.json

    def names(self, body):
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id.get(h["id"], h["title"]) for h in body["items"] if h["kind"] == "customer"]

    def test_chinese_substring(self):
        # 伟 is in 张伟, 李伟 and 张伟明; 王芳 has no 伟.
        self.assertEqual(sorted(self.names(self.search("伟"))), sorted(["张伟", "李伟", "张伟明"]))
        # 张伟: not 李伟; the exact name comes first and says so.
        body = self.search("张伟")
        self.assertEqual(sorted(self.names(body)), sorted(["张伟", "张伟明"]))
        self.assertEqual(body["items"][0]["title"], "张伟")
        self.assertTrue(body["items"][0]["exact"])
        self.assertFalse(body["items"][1]["exact"])
        self.assertEqual(sorted(self.names(self.search("张"))), sorted(["张伟", "张伟明"]))
        self.assertEqual(self.names(self.search("伟张")), [])

    def test_phone(self):
        # 13812345678 and +86 137 0000 5678 end in 5678 (exact); 15856781234 has 5678 in the
        # middle only and is not found.
        body = self.search("5678")
        self.assertEqual(sorted(self.names(body)), sorted(["张伟", "张伟明"]))
        self.assertTrue(all(h["exact"] for h in body["items"]))
        self.assertEqual(self.names(self.search("138")), ["张伟"])
        self.assertEqual(self.names(self.search("1234")), ["王芳"])
        self.assertEqual(self.names(self.search("138-1234-5678")), ["张伟"])

    def test_email_prefix_and_mixed(self):
        self.assertEqual(self.names(self.search("zhang")), ["张伟"])
        self.assertEqual(sorted(self.names(self.search("wei"))), sorted(["张伟", "李伟"]))
        # 张 AND 5678.
        self.assertEqual(sorted(self.names(self.search("张 5678"))), sorted(["张伟", "张伟明"]))

    def test_result_shape(self):
        h = self.search("张伟")["items"][0]
        self.assertEqual(h["kind"], "customer")
        self.assertEqual(h["id"], self.ids["张伟"])
        self.assertIsInstance(h["score"], float)
        self.assertIn("zhang.wei@example.com", h["snippet"])

    def test_kind_and_limit(self):
        # Other tests add cases and interactions; 张伟明 is only ever a customer.
        self.assertEqual(self.search("伟明", kind="case")["items"], [])
        self.assertEqual(len(self.search("伟明", kind="customer")["items"]), 1)
        self.assertEqual(len(self.search("伟", kind="customer")["items"]), 3)
        self.assertEqual(len(self.search("伟", limit="1")["items"]), 1)

    def expect_422(self, pointer, q=None, **params):
        before = self.srv.sql("select count(*) as n from search_docs")[0]["n"]
        body = self.search(q, status=422, **params)
        self.assertEqual([e["pointer"] for e in body["errors"]], [pointer])
        # Nothing is written by a refused request.
        self.assertEqual(self.srv.sql("select count(*) as n from search_docs")[0]["n"], before)

    def test_bad_parameters(self):
        self.expect_422("/query/q")
        self.expect_422("/query/q", "")
        self.expect_422("/query/q", "   ")
        self.expect_422("/query/q", '"*()-')
        self.expect_422("/query/q", "a" * 257)
        self.expect_422("/query/q", " ".join(["a"] * 17))
        r = self.c.get("/api/v1/search?q=%FF%FE")
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["errors"][0]["pointer"], "/query/q")
        self.expect_422("/query/kind", "伟", kind="contract")
        self.expect_422("/query/limit", "伟", limit="0")
        self.expect_422("/query/limit", "伟", limit="501")

    def test_fts_syntax_is_harmless(self):
        for q in ['"张伟', 'NEAR(张 伟)', "张伟 OR 李伟", "-张伟", "张伟*", "{name}:张", "^张",
                  'a"b', "(张伟"]:
            self.search(q)
        self.assertEqual(self.names(self.search('"张伟"'))[0], "张伟")

    def test_deleted_customer_is_not_found(self):
        r = self.c.post("/api/v1/customers", {"kind": "person", "name": "赵敏",
                                              "phones": ["13600000000"], "emails": []})
        self.assertEqual(r.status, 201, r)
        cid = r.json["id"]
        self.assertEqual([h["id"] for h in self.search("赵敏")["items"]], [cid])
        # Deleting customers is for admins.
        r = self.admin.delete("/api/v1/customers/%d" % cid,
                              headers={"If-Match": r.headers["etag"]})
        self.assertIn(r.status, (200, 204), r)
        self.assertEqual(self.search("赵敏")["items"], [])
        self.assertEqual(self.search("13600000000")["items"], [])

    def test_cases_and_interactions(self):
        cid = self.ids["李伟"]
        r = self.c.post("/api/v1/cases", {"type": "handover", "customer_id": cid,
                                          "subject": "交房预约", "description": "李伟要求周六交房"})
        self.assertEqual(r.status, 201, r)
        case_id = r.json["id"]
        r = self.c.post("/api/v1/interactions", {"kind": "call", "customer_id": cid,
                                                 "subject": "回访", "body": "confirmed the handover"})
        self.assertEqual(r.status, 201, r)
        int_id = r.json["id"]
        self.assertEqual([(h["kind"], h["id"]) for h in self.search("交房")["items"]],
                         [("case", case_id)])
        self.assertEqual([(h["kind"], h["id"]) for h in self.search("handover")["items"]],
                         [("interaction", int_id)])
        # 李伟: the customer (exact) first, then the case that mentions 李伟.
        items = self.search("李伟")["items"]
        self.assertEqual([(h["kind"], h["id"], h["exact"]) for h in items],
                         [("customer", cid, True), ("case", case_id, False)])
        self.assertEqual([h["kind"] for h in self.search("李伟", kind="case")["items"]], ["case"])

    def test_anonymised_customer_is_not_found(self):
        r = self.c.post("/api/v1/customers", {"kind": "person", "name": "孙悦",
                                              "phones": ["13511112222"],
                                              "emails": ["sun.yue@example.com"]})
        self.assertEqual(r.status, 201, r)
        cid = r.json["id"]
        r = self.c.post("/api/v1/cases", {"type": "complaint", "customer_id": cid,
                                          "subject": "孙悦投诉", "description": "孙悦 says late"})
        self.assertEqual(r.status, 201, r)
        case_id = r.json["id"]
        r = self.c.post("/api/v1/interactions", {"kind": "call", "customer_id": cid,
                                                 "subject": "孙悦来电", "body": "孙悦 called"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(self.search("孙悦")["items"]), 3)
        r = self.admin.post("/api/v1/customers/%d/anonymise" % cid)
        self.assertEqual(r.status, 200, r)
        # Name, phone, e-mail, the case's subject and description and the interaction's
        # subject and body are erased: nothing finds them any more.
        for q in ("孙悦", "13511112222", "2222", "sun.yue", "投诉", "来电"):
            self.assertEqual(self.search(q)["items"], [], q)
        # The case itself lives on under its erased subject.
        self.assertEqual([h["id"] for h in self.search("erased", kind="case")["items"]
                          if h["id"] == case_id], [case_id])

    def test_auth_and_scope(self):
        self.search("伟", status=401, client=self.srv.client())
        no_scope = self.srv.client(token=self.srv.token("ann", "kpi:read"))
        self.search("伟", status=403, client=no_scope)
        reader = self.srv.client(token=self.srv.token("ann", "crm:read"))
        self.assertEqual(len(self.search("伟", client=reader, kind="customer")["items"]), 3)


if __name__ == "__main__":
    unittest.main()
