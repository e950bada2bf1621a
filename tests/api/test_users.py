"""Staff, teams and API tokens over HTTP: every route for every kind of caller
(anonymous, agent, supervisor, admin, tokens with and without the needed scope), the
validation and concurrency rules (422 with pointers, 409, 412, 428), and after every
rejected request a check that nothing was written (users, teams, audit, tokens)."""
import unittest

from harness import Server

PW = "correct horse battery"


def counts(srv):
    return srv.sql("select (select count(*) from users) u, (select count(*) from teams) t, "
                   "(select count(*) from audit) a, (select count(*) from api_tokens) k, "
                   "(select count(*) from sessions) s, "
                   "(select group_concat(version) from users) uv, "
                   "(select group_concat(version) from teams) tv, "
                   "(select count(*) from api_tokens where revoked_at is not null) r")[0]


class TestStaff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        srv = cls.srv = Server()
        srv.cli("team", "add", "desk", "--display-name", "Front desk")
        srv.cli("team", "add", "field")
        srv.add_user("root", "admin")
        srv.add_user("sue", "supervisor", team="desk")
        srv.add_user("al", "agent", team="desk")
        srv.add_user("bea", "agent", team="field")
        cls.admin = srv.login("root")
        cls.sup = srv.login("sue")
        cls.agent = srv.login("al")
        cls.anon = srv.client()
        cls.tok_read = srv.client(srv.token("al", "crm:read"))
        cls.tok_admin = srv.client(srv.token("root", "admin,crm:read"))
        cls.tok_admin_noscope = srv.client(srv.token("root", "crm:read"))
        cls.ids = {r["username"]: r["id"] for r in srv.sql("select id, username from users")}
        cls.teams = {r["name"]: r["id"] for r in srv.sql("select id, name from teams")}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assertNothingWritten(self, before):
        self.assertEqual(counts(self.srv), before)

    def expect(self, client, method, path, status, body=None, headers=None):
        before = counts(self.srv)
        r = client.req(method, path, body, headers=headers)
        self.assertEqual(r.status, status, "%s %s → %r" % (method, path, r))
        if status >= 400:
            self.assertEqual(r.headers["content-type"], "application/problem+json")
            self.assertNothingWritten(before)
        return r

    # --- reads -------------------------------------------------------------------------

    def test_reads_for_every_role(self):
        uid = self.ids["al"]
        tid = self.teams["desk"]
        for path in ("/api/v1/users", "/api/v1/users/%d" % uid, "/api/v1/teams",
                     "/api/v1/teams/%d" % tid):
            self.expect(self.anon, "GET", path, 401)
            for c in (self.agent, self.sup, self.admin, self.tok_read, self.tok_admin):
                self.expect(c, "GET", path, 200)
            self.expect(self.srv.client(self.srv.token("al", "kpi:read")), "GET", path, 403)

    def test_user_read_never_shows_hashes(self):
        r = self.admin.get("/api/v1/users/%d" % self.ids["al"])
        self.assertEqual(r.headers["etag"], '"%d"' % r.json["version"])
        self.assertEqual(set(r.json), {"id", "username", "display_name", "role", "team_id", "team",
                                       "email", "locale", "disabled", "version", "created_at",
                                       "updated_at",
                                       # work: docs/work.md
                                       "presence", "effective_presence", "skills",
                                       "shift_calendar"})
        self.assertNotIn("argon2", r.raw)
        self.assertNotIn("argon2", self.admin.get("/api/v1/users").raw)

    def test_get_unknown_is_404(self):
        for path in ("/api/v1/users/99999", "/api/v1/users/abc", "/api/v1/users/0",
                     "/api/v1/teams/99999", "/api/v1/users/-1"):
            self.expect(self.agent, "GET", path, 404)

    def test_list_paging_and_filters(self):
        seen, cursor = [], None
        while True:
            path = "/api/v1/users?limit=2" + ("&cursor=" + cursor if cursor else "")
            st, _, body = self.agent.get(path)
            self.assertEqual(st, 200)
            self.assertLessEqual(len(body["items"]), 2)
            seen += [u["id"] for u in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), self.srv.sql("select count(*) n from users")[0]["n"])
        st, _, body = self.agent.get("/api/v1/users?team=desk")
        self.assertEqual({u["username"] for u in body["items"]} >= {"sue", "al"}, True)
        self.assertTrue(all(u["team"] == "desk" for u in body["items"]))
        st, _, body = self.agent.get("/api/v1/users?team=%d&role=agent" % self.teams["desk"])
        self.assertTrue(all(u["role"] == "agent" and u["team"] == "desk" for u in body["items"]))
        self.assertIn("al", [u["username"] for u in body["items"]])
        r = self.expect(self.agent, "GET", "/api/v1/users?role=boss", 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/query/role")
        r = self.expect(self.agent, "GET", "/api/v1/users?team=nowhere", 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/query/team")
        self.expect(self.agent, "GET", "/api/v1/users?limit=0", 422)
        self.expect(self.agent, "GET", "/api/v1/users?cursor=x", 422)
        st, _, body = self.agent.get("/api/v1/teams?limit=1")
        self.assertEqual(len(body["items"]), 1)
        self.assertIsNotNone(body["next_cursor"])

    # --- user writes ------------------------------------------------------------------

    def test_create_user_permissions(self):
        body = {"username": "perm-test", "role": "agent", "password": PW}
        self.expect(self.anon, "POST", "/api/v1/users", 401, body)
        for c in (self.agent, self.sup, self.tok_read, self.tok_admin_noscope):
            self.expect(c, "POST", "/api/v1/users", 403, body)
        r = self.expect(self.tok_admin, "POST", "/api/v1/users", 201, body)
        self.assertEqual(r.headers["location"], "/api/v1/users/%d" % r.json["id"])

    def test_create_user_by_admin_session(self):
        before = counts(self.srv)
        r = self.admin.post("/api/v1/users", {
            "username": "new.agent_1", "role": "agent", "password": PW, "team_id": self.teams["field"],
            "display_name": "新 Agent", "email": "new@example.com", "locale": "zh-CN"})
        self.assertEqual(r.status, 201, r)
        u = r.json
        self.assertEqual((u["team"], u["display_name"], u["locale"], u["version"]),
                         ("field", "新 Agent", "zh-CN", 1))
        self.assertEqual(r.headers["etag"], '"1"')
        after = counts(self.srv)
        self.assertEqual(after["u"], before["u"] + 1)
        self.assertEqual(after["a"], before["a"] + 1)
        a = self.srv.sql("select actor, actor_id, action, entity, entity_id, after, request_id, address "
                         "from audit order by id desc limit 1")[0]
        self.assertEqual((a["actor"], a["actor_id"], a["action"], a["entity"], a["entity_id"]),
                         ("root", self.ids["root"], "create", "user", u["id"]))
        self.assertEqual(a["address"], "127.0.0.1")
        self.assertEqual(a["request_id"], r.headers["x-request-id"])
        self.assertNotIn("argon2", a["after"])
        self.assertEqual(self.srv.client().login("new.agent_1", PW).status, 200)

    def test_create_user_validation(self):
        r = self.expect(self.admin, "POST", "/api/v1/users", 422, {
            "username": "Bad Name", "role": "boss", "password": "short", "team_id": 999,
            "email": "nope", "locale": "fr", "colour": "red", "display_name": "x" * 201})
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]),
                         ["/colour", "/display_name", "/email", "/locale", "/password", "/role",
                          "/team_id", "/username"])
        r = self.expect(self.admin, "POST", "/api/v1/users", 422, {"password": PW})
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]), ["/role", "/username"])
        r = self.expect(self.admin, "POST", "/api/v1/users", 422, {"username": "x" * 65, "role": "agent", "password": PW})
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/username"])
        r = self.expect(self.admin, "POST", "/api/v1/users", 422, {"username": "nopw", "role": "agent"})
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/password"])
        r = self.expect(self.admin, "POST", "/api/v1/users", 422,
                        {"username": "ctl", "role": "agent", "password": PW, "display_name": "a\u0001b"})
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/display_name"])
        # A NUL inside a JSON string is refused by the parser itself.
        self.expect(self.admin, "POST", "/api/v1/users", 400,
                    {"username": "ctl", "role": "agent", "password": "a\u0000bcdefghij"})
        self.expect(self.admin, "POST", "/api/v1/users", 400, None,
                    headers={"Content-Type": "application/json"})
        r = self.admin.req("POST", "/api/v1/users", raw=b'{"username": "x",', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.expect(self.admin, "POST", "/api/v1/users", 422, ["not", "an", "object"])

    def test_duplicate_username_is_409(self):
        r = self.expect(self.admin, "POST", "/api/v1/users", 409, {"username": "al", "role": "agent", "password": PW})
        self.assertIn("taken", r.json["detail"])

    def test_patch_user(self):
        uid = self.srv.sql("select id from users where username='bea'")[0]["id"]
        path = "/api/v1/users/%d" % uid
        r = self.admin.get(path)
        etag = r.headers["etag"]
        body = {"display_name": "Bea B", "team_id": self.teams["desk"]}
        self.expect(self.anon, "PATCH", path, 401, body, headers={"If-Match": etag})
        for c in (self.agent, self.sup, self.tok_read, self.tok_admin_noscope):
            self.expect(c, "PATCH", path, 403, body, headers={"If-Match": etag})
        self.expect(self.admin, "PATCH", path, 428, body)
        self.expect(self.admin, "PATCH", path, 412, body, headers={"If-Match": '"999"'})
        self.expect(self.admin, "PATCH", path, 412, body, headers={"If-Match": "garbage"})
        self.expect(self.admin, "PATCH", "/api/v1/users/99999", 404, body, headers={"If-Match": etag})
        r = self.expect(self.admin, "PATCH", path, 422, {"username": "renamed", "role": "god", "disabled": "yes"},
                        headers={"If-Match": etag})
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]), ["/disabled", "/role", "/username"])
        r = self.expect(self.admin, "PATCH", path, 200, body, headers={"If-Match": etag})
        self.assertEqual((r.json["display_name"], r.json["team"]), ("Bea B", "desk"))
        self.assertEqual(r.headers["etag"], '"%d"' % (int(etag.strip('"')) + 1))
        # The old ETag is now stale.
        self.expect(self.admin, "PATCH", path, 412, {"display_name": "x"}, headers={"If-Match": etag})
        a = self.srv.sql("select action, before, after from audit where entity='user' and entity_id=%d "
                         "order by id desc limit 1" % uid)[0]
        self.assertEqual(a["action"], "update")
        self.assertIn('"display_name":""', a["before"].replace(" ", ""))
        self.assertIn('"display_name":"Bea B"', a["after"])
        # A patch that changes nothing writes nothing.
        before = counts(self.srv)
        r = self.admin.patch(path, body, headers={"If-Match": r.headers["etag"]})
        self.assertEqual(r.status, 200)
        self.assertNothingWritten(before)
        # Roles change at once for sessions that are already signed in.
        b = self.srv.login("bea")
        self.expect(b, "POST", "/api/v1/teams", 403, {"name": "bea-team"})
        r = self.admin.patch(path, {"role": "admin"}, headers={"If-Match": r.headers["etag"]})
        self.assertEqual(r.status, 200)
        self.expect(b, "POST", "/api/v1/teams", 201, {"name": "bea-team"})
        r = self.admin.patch(path, {"role": "agent", "team_id": None}, headers={"If-Match": r.headers["etag"]})
        self.assertEqual((r.status, r.json["team"]), (200, None))

    def test_last_admin_cannot_be_removed(self):
        srv = Server()
        try:
            srv.add_user("only", "admin")
            c = srv.login("only")
            uid = srv.sql("select id from users")[0]["id"]
            before = counts(srv)
            for patch in ({"disabled": True}, {"role": "agent"}):
                r = c.patch("/api/v1/users/%d" % uid, patch, headers={"If-Match": '"1"'})
                self.assertEqual(r.status, 409, r)
                self.assertIn("last active admin", r.json["detail"])
            self.assertEqual(counts(srv), before)
            p = srv.cli("user", "disable", "only", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("last active admin", p.stderr)
            self.assertEqual(counts(srv), before)
        finally:
            srv.stop()

    def test_admin_password_reset(self):
        self.srv.add_user("pat", "agent")
        uid = self.srv.sql("select id from users where username='pat'")[0]["id"]
        p = self.srv.login("pat")
        path = "/api/v1/users/%d/password" % uid
        self.expect(self.anon, "POST", path, 401, {"password": "brand new pw"})
        for c in (self.agent, self.sup, self.tok_read, self.tok_admin_noscope):
            self.expect(c, "POST", path, 403, {"password": "brand new pw"})
        r = self.expect(self.admin, "POST", path, 422, {"password": "short"})
        self.assertEqual(r.json["errors"][0]["pointer"], "/password")
        r = self.expect(self.admin, "POST", path, 422, {"password": "brand new pw", "x": 1})
        self.assertEqual(r.json["errors"][0]["pointer"], "/x")
        self.expect(self.admin, "POST", "/api/v1/users/99999/password", 404, {"password": "brand new pw"})
        self.expect(self.admin, "POST", path, 204, {"password": "brand new pw"})
        self.assertEqual(p.get("/api/v1/session").status, 401)
        self.assertEqual(self.srv.client().login("pat", "brand new pw").status, 200)

    # --- teams ------------------------------------------------------------------------

    def test_teams(self):
        body = {"name": "night", "display_name": "Night shift", "supervisor_id": self.ids["sue"]}
        self.expect(self.anon, "POST", "/api/v1/teams", 401, body)
        for c in (self.agent, self.sup, self.tok_read, self.tok_admin_noscope):
            self.expect(c, "POST", "/api/v1/teams", 403, body)
        r = self.expect(self.admin, "POST", "/api/v1/teams", 422,
                        {"name": "Night Shift", "supervisor_id": self.ids["al"], "extra": 1})
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]), ["/extra", "/name", "/supervisor_id"])
        self.expect(self.admin, "POST", "/api/v1/teams", 422, {"display_name": "x"})
        self.expect(self.admin, "POST", "/api/v1/teams", 422, {"name": "n2", "supervisor_id": 99999})
        r = self.expect(self.admin, "POST", "/api/v1/teams", 201, body)
        t = r.json
        self.assertEqual((t["name"], t["display_name"], t["supervisor_id"], t["version"]),
                         ("night", "Night shift", self.ids["sue"], 1))
        self.expect(self.admin, "POST", "/api/v1/teams", 409, {"name": "night"})
        path = "/api/v1/teams/%d" % t["id"]
        self.assertEqual(self.agent.get(path).json["name"], "night")
        for c in (self.agent, self.sup, self.tok_read):
            self.expect(c, "PATCH", path, 403, {"display_name": "N"}, headers={"If-Match": '"1"'})
        self.expect(self.admin, "PATCH", path, 428, {"display_name": "N"})
        self.expect(self.admin, "PATCH", path, 412, {"display_name": "N"}, headers={"If-Match": '"7"'})
        self.expect(self.admin, "PATCH", path, 409, {"name": "desk"}, headers={"If-Match": '"1"'})
        self.expect(self.admin, "PATCH", path, 422, {"nope": 1}, headers={"If-Match": '"1"'})
        self.expect(self.admin, "PATCH", "/api/v1/teams/99999", 404, {"display_name": "N"}, headers={"If-Match": '"1"'})
        r = self.expect(self.admin, "PATCH", path, 200, {"display_name": "Nights", "supervisor_id": None},
                        headers={"If-Match": '"1"'})
        self.assertEqual((r.json["display_name"], r.json["supervisor_id"], r.json["version"]), ("Nights", None, 2))
        self.assertEqual(r.headers["etag"], '"2"')
        self.assertEqual(self.srv.sql("select count(*) n from audit where entity='team' and entity_id=%d" % t["id"])[0]["n"], 2)

    # --- tokens -----------------------------------------------------------------------

    def test_tokens_create(self):
        body = {"user_id": self.ids["al"], "scopes": ["crm:read", "events:write"], "name": "pbx"}
        self.expect(self.anon, "POST", "/api/v1/tokens", 401, body)
        for c in (self.agent, self.sup, self.tok_read, self.tok_admin_noscope):
            self.expect(c, "POST", "/api/v1/tokens", 403, body)
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 422,
                        {"user_id": 99999, "scopes": ["crm:read", "root"], "x": 1})
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]), ["/scopes/1", "/x"])
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 422, {"user_id": 99999, "scopes": ["crm:read"]})
        self.assertEqual(r.json["errors"][0]["pointer"], "/user_id")
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 422, {"user_id": self.ids["al"], "scopes": ["admin"]})
        self.assertEqual(r.json["errors"][0]["pointer"], "/scopes")
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 422, {"user_id": self.ids["al"], "scopes": []})
        self.assertEqual(r.json["errors"][0]["pointer"], "/scopes")
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 422, {"scopes": ["crm:read"]})
        self.assertEqual(r.json["errors"][0]["pointer"], "/user_id")
        r = self.expect(self.admin, "POST", "/api/v1/tokens", 201, body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        tok = r.json["token"]
        self.assertEqual((r.json["username"], r.json["name"], r.json["scopes"], r.json["prefix"]),
                         ("al", "pbx", ["crm:read", "events:write"], tok[:14]))
        self.assertEqual(self.srv.client(tok).get("/api/v1/session").json["user"]["username"], "al")
        # The secret is never listed again.
        listed = self.admin.get("/api/v1/tokens?limit=500")
        self.assertNotIn(tok, listed.raw)
        self.assertIn(r.json["id"], [t["id"] for t in listed.json["items"]])
        a = self.srv.sql("select after from audit where entity='token' and entity_id=%d" % r.json["id"])[0]
        self.assertNotIn(tok, a["after"])

    def test_tokens_list_own_or_all(self):
        st, _, body = self.agent.get("/api/v1/tokens")
        self.assertEqual(st, 200)
        self.assertTrue(body["items"])
        self.assertTrue(all(t["user_id"] == self.ids["al"] for t in body["items"]))
        st, _, body = self.admin.get("/api/v1/tokens?limit=500")
        self.assertGreater(len({t["user_id"] for t in body["items"]}), 1)
        st, _, body = self.admin.get("/api/v1/tokens?user_id=%d" % self.ids["root"])
        self.assertTrue(all(t["user_id"] == self.ids["root"] for t in body["items"]))
        # An admin token without the admin scope sees only its own user's tokens.
        st, _, body = self.tok_admin_noscope.get("/api/v1/tokens?limit=500")
        self.assertTrue(all(t["user_id"] == self.ids["root"] for t in body["items"]))
        self.expect(self.anon, "GET", "/api/v1/tokens", 401)

    def test_tokens_revoke(self):
        mine = self.srv.token("al", "crm:read")
        theirs = self.srv.token("bea", "crm:read")
        ids = {r["prefix"]: r["id"] for r in self.srv.sql("select id, prefix from api_tokens")}
        mine_id, theirs_id = ids[mine[:14]], ids[theirs[:14]]
        self.expect(self.anon, "DELETE", "/api/v1/tokens/%d" % mine_id, 401)
        # Someone else's token is not found for a non-admin (ids reveal nothing).
        self.expect(self.agent, "DELETE", "/api/v1/tokens/%d" % theirs_id, 404)
        self.expect(self.sup, "DELETE", "/api/v1/tokens/%d" % theirs_id, 404)
        self.expect(self.agent, "DELETE", "/api/v1/tokens/99999", 404)
        self.expect(self.agent, "DELETE", "/api/v1/tokens/%d" % mine_id, 204)
        self.assertEqual(self.srv.client(mine).get("/api/v1/users").status, 401)
        self.expect(self.admin, "DELETE", "/api/v1/tokens/%d" % theirs_id, 204)
        self.assertEqual(self.srv.client(theirs).get("/api/v1/users").status, 401)
        # Revoking again succeeds and writes nothing.
        self.expect(self.admin, "DELETE", "/api/v1/tokens/%d" % theirs_id, 204)
        listed = {t["id"]: t for t in self.admin.get("/api/v1/tokens?limit=500").json["items"]}
        self.assertIsNotNone(listed[theirs_id]["revoked_at"])
        # A session-authenticated DELETE still needs the CSRF token.
        t3 = self.srv.token("al", "crm:read")
        t3_id = self.srv.sql("select id from api_tokens where prefix='%s'" % t3[:14])[0]["id"]
        csrf, self.agent.csrf = self.agent.csrf, None
        try:
            self.expect(self.agent, "DELETE", "/api/v1/tokens/%d" % t3_id, 403)
        finally:
            self.agent.csrf = csrf

    def test_write_routes_refuse_without_csrf(self):
        csrf, self.admin.csrf = self.admin.csrf, None
        try:
            self.expect(self.admin, "POST", "/api/v1/users", 403,
                        {"username": "csrf-x", "role": "agent", "password": PW})
            self.expect(self.admin, "POST", "/api/v1/teams", 403, {"name": "csrf-x"})
            self.expect(self.admin, "PATCH", "/api/v1/users/%d" % self.ids["al"], 403,
                        {"display_name": "x"}, headers={"If-Match": '"1"'})
            self.expect(self.admin, "POST", "/api/v1/tokens", 403,
                        {"user_id": self.ids["al"], "scopes": ["crm:read"]})
        finally:
            self.admin.csrf = csrf


class TestOpenApi(unittest.TestCase):
    def test_auth_and_staff_routes_are_documented(self):
        import json
        import subprocess
        from harness import BIN
        srv = Server()
        try:
            doc = json.loads(srv.client().get("/api/v1/openapi.json").raw)
        finally:
            srv.stop()
        routes = subprocess.run([BIN, "routes"], capture_output=True, text=True, check=True).stdout
        mine = [l.split()[:2] for l in routes.splitlines()
                if l.split()[1].split("/")[3:4] in (["session"], ["users"], ["teams"], ["tokens"])]
        # 17 auth & staff routes + 5 of the work part (presence, skills, team routing)
        self.assertEqual(len(mine), 17 + 5)
        for method, pattern in mine:
            op = doc["paths"].get(pattern, {}).get(method.lower())
            self.assertIsNotNone(op, "%s %s is not in docs/openapi.json" % (method, pattern))
            self.assertTrue(op["responses"])
        for name in ("User", "Team", "Token", "Session", "Problem"):
            self.assertIn(name, doc["components"]["schemas"])


if __name__ == "__main__":
    unittest.main()
