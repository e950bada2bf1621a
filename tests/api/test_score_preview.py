"""POST /api/v1/scorecards/preview?period= (uiadmin): a scorecard template document — not
saved, or a saved one being edited under its own name — computed for a period person by
person and item by item, with nothing kept. Uses test_scorecards.py's hand-computed November
2026 (its EVENTS and TEMPLATE; the table of expected scores is in its docstring):

    ann 66.67, bob 66.67, cai 100, dan 33.33, eve 0 (critical greet), fay no data

and, with the reply item's weight 2 → 1 (total = Σ w·points / Σ w over items with data):

    ann (1×50 + 100)/2 = 75     bob (100 + 0)/2 = 50     cai (100 + 100)/2 = 100
    dan (0 + 100)/2 = 50        eve 0 (critical)         fay no data

Every refused request (bad document, bad period, wrong role or scope) writes nothing; nor
does a successful one (templates, evaluations and audit rows counted before and after)."""
import copy
import unittest

from harness import Server
from test_scorecards import EVENTS, TEMPLATE, wait_folded

URL = "/api/v1/scorecards/preview?period=2026-11"


class ScorePreview(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.cli("team", "add", "hotline")
        srv.cli("team", "add", "care")
        srv.add_user("ada", "admin")
        srv.add_user("sam", "supervisor", team="hotline")
        for u in ("ann", "bob", "cai"):
            srv.add_user(u, "agent", team="hotline")
        for u in ("dan", "eve", "fay"):
            srv.add_user(u, "agent", team="care")
        cls.adm = srv.login("ada")
        cls.sam = srv.login("sam")
        cls.ann = srv.login("ann")
        w = srv.client(srv.token("ada", "events:write,kpi:read"))
        st, _, b = w.post("/api/v1/events", {"events": EVENTS})
        assert st == 201, b
        wait_folded(srv, w)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def counts(self):
        return self.srv.sql("select (select count(*) from score_templates) t, "
                            "(select count(*) from evaluations) e, "
                            "(select count(*) from audit) a")[0]

    def preview(self, doc, url=URL, client=None):
        before = self.counts()
        r = (client or self.adm).post(url, doc)
        self.assertEqual(self.counts(), before, "a preview keeps nothing")
        return r

    def scores(self, r):
        self.assertEqual(r.status, 200, r)
        return {p["user"]["username"]: p for p in r.json["people"]}

    def test_unsaved_template(self):
        r = self.preview(TEMPLATE)
        self.assertEqual((r.json["period"], r.json["from"], r.json["to"]),
                         ("2026-11", "2026-11-01", "2026-11-30"))
        self.assertFalse(r.json["truncated"])
        p = self.scores(r)
        self.assertEqual(sorted(p), ["ann", "bob", "cai", "dan", "eve", "fay"])
        self.assertEqual({u: p[u]["score"] for u in p},
                         {"ann": 66.67, "bob": 66.67, "cai": 100, "dan": 33.33, "eve": 0,
                          "fay": None})
        self.assertEqual(p["eve"]["status"], "zeroed")
        self.assertEqual(p["fay"]["status"], "no_data")
        # ann item by item: reply 3/4 = 0.75 → 50; greet no data; ring 2/2 → 100.
        items = {i["key"]: i for i in p["ann"]["items"]}
        self.assertAlmostEqual(items["reply"]["value"], 0.75)
        self.assertAlmostEqual(items["reply"]["points"], 50)
        self.assertEqual(items["greet"]["status"], "no_data")
        self.assertAlmostEqual(items["ring"]["points"], 100)
        # Ranks as a real computation gives them: cai 1, ann 2, bob 2, dan 4, eve 5.
        self.assertEqual({u: p[u]["rank"]["role"] for u in p},
                         {"cai": 1, "ann": 2, "bob": 2, "dan": 4, "eve": 5, "fay": None})
        self.assertEqual(p["ann"]["team"], "hotline")

    def test_saved_template_being_edited(self):
        st, _, b = self.adm.post("/api/v1/scorecards/templates",
                                 dict(TEMPLATE, name="edited-month"))
        self.assertEqual(st, 201, b)
        tid = b["id"]
        doc = copy.deepcopy(TEMPLATE)
        doc["name"] = "edited-month"  # its own name: no clash with the stored one
        doc["items"][0]["weight"] = 1
        p = self.scores(self.preview(doc))
        self.assertEqual({u: p[u]["score"] for u in p},
                         {"ann": 75, "bob": 50, "cai": 100, "dan": 50, "eve": 0, "fay": None})
        st, _, b = self.adm.get("/api/v1/scorecards/templates/%d" % tid)
        self.assertEqual((b["version"], b["items"][0]["weight"]), (1, 2), "stored one untouched")

    def test_refused(self):
        bad = copy.deepcopy(TEMPLATE)
        bad["items"][0]["target"] = 0.4  # higher is better: must be above the floor 0.5
        bad["name"] = "Bad Name"
        r = self.preview(bad)
        self.assertEqual(r.status, 422, r)
        ptrs = sorted(e["pointer"] for e in r.json["errors"])
        self.assertEqual(ptrs, ["/items/0/target", "/name"])
        for q, why in (("", "missing"), ("?period=2026-13", "month 13"),
                       ("?period=2026-W54", "no week 54"), ("?period=nov", "not a period")):
            r = self.preview(TEMPLATE, url="/api/v1/scorecards/preview" + q)
            self.assertEqual(r.status, 422, (why, r))
            self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/query/period"], why)
        # Both at once: every problem in one answer.
        r = self.preview(bad, url="/api/v1/scorecards/preview?period=x")
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]),
                         ["/items/0/target", "/name", "/query/period"])
        before = self.counts()
        r = self.adm.req("POST", URL, raw=b"{not json", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.preview(TEMPLATE, client=self.sam).status, 403)
        self.assertEqual(self.preview(TEMPLATE, client=self.ann).status, 403)
        self.assertEqual(self.preview(TEMPLATE, client=self.srv.client()).status, 401)
        weak = self.srv.client(self.srv.token("ada", "kpi:read,crm:write"))
        self.assertEqual(self.preview(TEMPLATE, client=weak).status, 403)
        strong = self.srv.client(self.srv.token("ada", "admin"))
        self.assertEqual(self.preview(TEMPLATE, client=strong).status, 200)
        # Only the two tokens (made with the CLI) were written: 2 audit rows.
        after = self.counts()
        self.assertEqual((after["t"], after["e"], after["a"]),
                         (before["t"], before["e"], before["a"] + 2))


if __name__ == "__main__":
    unittest.main()
