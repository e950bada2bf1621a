"""The route table is the source of truth: every route is documented in the OpenAPI
document, and every route answers each role as the table says (a walk of every route as
anonymous, agent, supervisor, admin and as API tokens lacking the route's scope)."""
import json
import subprocess
import unittest

from harness import BIN, Server

ROLES = ("agent", "supervisor", "admin")
SCOPES = ("crm:read", "crm:write", "events:read", "events:write", "kpi:read", "admin")


def routes():
    out = subprocess.run([BIN, "routes", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def concrete(path):
    # An id that does not exist: handlers must still check permission first.
    return path.replace("{id}", "999999").replace("{file}", "none.js").replace(
        "{subject}", "case:999999").replace("{name}", "none")


class TestOpenAPI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_every_route_is_documented(self):
        st, _, doc = self.srv.client().get("/api/v1/openapi.json")
        self.assertEqual(st, 200)
        self.assertEqual(doc["openapi"], "3.1.0")
        missing = []
        for r in routes():
            op = doc["paths"].get(r["path"], {}).get(r["method"].lower())
            if op is None:
                missing.append("%s %s" % (r["method"], r["path"]))
            else:
                self.assertIn("responses", op, r["path"])
        self.assertEqual(missing, [], "routes missing from docs/openapi.json")

    def test_no_documented_path_without_a_route(self):
        _, _, doc = self.srv.client().get("/api/v1/openapi.json")
        have = {(r["method"].lower(), r["path"]) for r in routes()}
        extra = [(m, p) for p, ops in doc["paths"].items() for m in ops
                 if m in ("get", "post", "put", "patch", "delete") and (m, p) not in have]
        self.assertEqual(extra, [], "documented but not routed")


class TestPermissions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.routes = [r for r in routes() if not r["public"]]
        cls.srv = Server()
        cls.clients = {}
        if cls.routes:
            for role in ROLES:
                cls.srv.add_user("walk_" + role, role)
                cls.clients[role] = cls.srv.login("walk_" + role)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_there_are_protected_routes(self):
        self.assertGreater(len(self.routes), 0)

    def test_anonymous_gets_401(self):
        c = self.srv.client()
        for r in self.routes:
            st = c.req(r["method"], concrete(r["path"]), raw=b"{}",
                       headers={"Content-Type": "application/json"}).status
            self.assertEqual(st, 401, "%s %s as anonymous" % (r["method"], r["path"]))

    def test_each_role_as_the_table_says(self):
        for r in self.routes:
            for role in ROLES:
                c = self.clients[role]
                if r["method"] == "DELETE" and r["path"] == "/api/v1/session":
                    c = self.srv.login("walk_" + role)  # signing out must not end the walk
                st = c.req(r["method"], concrete(r["path"]), raw=b"{}",
                                            headers={"Content-Type": "application/json"}).status
                what = "%s %s as %s -> %d" % (r["method"], r["path"], role, st)
                if role in r["roles"]:
                    self.assertNotIn(st, (401, 403), what)
                else:
                    self.assertEqual(st, 403, what)

    def test_token_without_the_scope_gets_403(self):
        tokens = {}
        for r in self.routes:
            if not r["scope"]:
                continue
            others = ",".join(s for s in SCOPES if s not in r["scope"].split(","))
            if others not in tokens:
                tokens[others] = self.srv.token("walk_admin", others)
            c = self.srv.client(token=tokens[others])
            st = c.req(r["method"], concrete(r["path"]), raw=b"{}",
                       headers={"Content-Type": "application/json"}).status
            self.assertEqual(st, 403, "%s %s with scopes %s" % (r["method"], r["path"], others))


if __name__ == "__main__":
    unittest.main()
