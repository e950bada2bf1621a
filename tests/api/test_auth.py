"""Sign-in sessions, CSRF, sign-in rate limiting, API tokens and their scopes, against a
real server. Each rejected request is followed by a check that nothing was written."""
import subprocess
import time
import unittest

from harness import Server

PW = "correct horse battery"
# The server caches resolved tokens and sessions for 2 s (src/http/auth_cache.h): a change
# made behind its back (the sqlite3 shell, another process's CLI) shows after that.
CACHE_TTL = 2.1


def counts(srv):
    return srv.sql("select (select count(*) from users) u, (select count(*) from teams) t, "
                   "(select count(*) from audit) a, (select count(*) from sessions) s, "
                   "(select count(*) from api_tokens) k")[0]


class TestSession(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.cli("team", "add", "desk")
        cls.srv.add_user("ann", "admin")
        cls.srv.add_user("bob", "agent", team="desk")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_sign_in_sets_strict_httponly_cookie(self):
        c = self.srv.client()
        r = c.login("bob", PW)
        self.assertEqual(r.status, 200, r)
        cookie = r.headers["set-cookie"]
        self.assertTrue(cookie.startswith("smile_session="))
        attrs = [a.strip().lower() for a in cookie.split(";")]
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        self.assertIn("path=/", attrs)
        self.assertNotIn("secure", attrs)  # cookie_secure defaults to no
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.json["user"]["username"], "bob")
        self.assertEqual(r.json["user"]["team"], "desk")
        self.assertNotIn("password_hash", r.json["user"])
        self.assertEqual(len(r.json["csrf_token"]), 43)
        self.assertTrue(r.json["expires_at"].endswith("Z"))
        # The database holds only the SHA-256 of the cookie, never the cookie itself.
        value = c.cookies["smile_session"]
        rows = self.srv.sql("select hex(token_hash) h from sessions")
        self.assertTrue(all(len(x["h"]) == 64 for x in rows))
        self.assertNotIn(value, str(rows))

    def test_get_session_returns_user_and_csrf(self):
        c = self.srv.login("bob")
        st, _, body = c.get("/api/v1/session")
        self.assertEqual(st, 200)
        self.assertEqual(body["user"]["username"], "bob")
        self.assertEqual(body["csrf_token"], c.csrf)
        self.assertEqual(body["via"], "session")

    def test_anonymous_is_401(self):
        st, h, body = self.srv.client().get("/api/v1/session")
        self.assertEqual(st, 401)
        self.assertEqual(h["content-type"], "application/problem+json")

    def test_wrong_password_and_unknown_user_look_the_same(self):
        before = counts(self.srv)
        c = self.srv.client()
        t0 = time.time()
        r1 = c.login("bob", "wrong password")
        t1 = time.time()
        r2 = c.login("nobody-here", "wrong password")
        t2 = time.time()
        self.assertEqual(r1.status, 401)
        self.assertEqual(r2.status, 401)
        self.assertEqual(r1.json["detail"], r2.json["detail"])
        self.assertNotIn("set-cookie", r1.headers)
        # Both run argon2id (~100 ms); an unknown user must not answer much faster.
        self.assertGreater(t2 - t1, (t1 - t0) / 4)
        self.assertEqual(counts(self.srv), before)
        self.srv.sql_write("delete from login_failures")

    def test_sign_in_validation(self):
        c = self.srv.client()
        r = c.req("POST", "/api/v1/session", raw=b"{nope", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        r = c.post("/api/v1/session", {"username": "bob"})
        self.assertEqual(r.status, 422)
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/password"])
        r = c.post("/api/v1/session", {"username": 5, "password": PW, "extra": 1})
        self.assertEqual(r.status, 422)
        self.assertEqual(sorted(e["pointer"] for e in r.json["errors"]), ["/extra", "/username"])

    def test_csrf_required_for_state_changes(self):
        c = self.srv.login("bob")
        before = counts(self.srv)
        csrf = c.csrf
        c.csrf = None
        r = c.patch("/api/v1/session", {"locale": "zh-CN"})
        self.assertEqual(r.status, 403)
        self.assertIn("CSRF", r.json["detail"])
        r = c.patch("/api/v1/session", {"locale": "zh-CN"}, headers={"X-CSRF-Token": csrf[:-1] + ("B" if csrf[-1] == "A" else "A")})
        self.assertEqual(r.status, 403)
        r = c.delete("/api/v1/session")
        self.assertEqual(r.status, 403)
        self.assertEqual(counts(self.srv), before)
        self.assertEqual(self.srv.sql("select locale from users where username='bob'")[0]["locale"], "")
        c.csrf = csrf
        r = c.patch("/api/v1/session", {"locale": "zh-CN"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"]["locale"], "zh-CN")
        r = c.patch("/api/v1/session", {"locale": "fr"})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/locale")
        r = c.patch("/api/v1/session", {"role": "admin"})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/role")
        self.assertEqual(self.srv.sql("select role from users where username='bob'")[0]["role"], "agent")
        c.patch("/api/v1/session", {"locale": "en"})

    def test_sign_out(self):
        c = self.srv.login("bob")
        cookie = c.cookies["smile_session"]
        r = c.delete("/api/v1/session")
        self.assertEqual(r.status, 204)
        sc = r.headers["set-cookie"]
        self.assertIn("Max-Age=0", sc)
        self.assertTrue(sc.startswith("smile_session=;"))
        self.assertNotIn("smile_session", c.cookies)
        # The old cookie no longer works.
        c.cookies["smile_session"] = cookie
        self.assertEqual(c.get("/api/v1/session").status, 401)

    def test_session_idle_expiry(self):
        c = self.srv.login("bob")
        sid = self.srv.sql("select max(id) id from sessions")[0]["id"]
        self.assertEqual(c.get("/api/v1/session").status, 200)
        # Idle longer than session_ttl (default 12 h): last seen 13 hours ago.
        old = int(time.time() * 1000) - 13 * 3600 * 1000
        self.srv.sql_write("update sessions set last_seen_at = %d where id = %d" % (old, sid))
        time.sleep(CACHE_TTL)
        r = c.get("/api/v1/session")
        self.assertEqual(r.status, 401)
        self.assertIn("expired", r.json["detail"])
        self.assertEqual(self.srv.sql("select count(*) n from sessions where id = %d" % sid)[0]["n"], 0)
        # And by expires_at alone.
        c = self.srv.login("bob")
        sid = self.srv.sql("select max(id) id from sessions")[0]["id"]
        self.srv.sql_write("update sessions set expires_at = %d where id = %d"
                           % (int(time.time() * 1000) - 1, sid))
        time.sleep(CACHE_TTL)
        self.assertEqual(c.get("/api/v1/session").status, 401)

    def test_last_seen_written_at_most_once_a_minute(self):
        c = self.srv.login("bob")
        sid = self.srv.sql("select max(id) id from sessions")[0]["id"]
        seen = self.srv.sql("select last_seen_at s from sessions where id=%d" % sid)[0]["s"]
        c.get("/api/v1/session")
        self.assertEqual(self.srv.sql("select last_seen_at s from sessions where id=%d" % sid)[0]["s"], seen)
        self.srv.sql_write("update sessions set last_seen_at = last_seen_at - 61000 where id=%d" % sid)
        time.sleep(CACHE_TTL)
        c.get("/api/v1/session")
        now = self.srv.sql("select last_seen_at s, expires_at e from sessions where id=%d" % sid)[0]
        self.assertGreaterEqual(now["s"], seen)
        self.assertEqual(now["e"] - now["s"], 43200 * 1000)

    def test_garbage_cookie_is_401(self):
        c = self.srv.client()
        c.cookies["smile_session"] = "not-a-session"
        self.assertEqual(c.get("/api/v1/session").status, 401)
        c.cookies["smile_session"] = "A" * 43
        self.assertEqual(c.get("/api/v1/session").status, 401)

    def test_sign_in_needs_json_content_type(self):
        # A cross-site form post (text/plain) must not sign anyone in (login CSRF).
        r = self.srv.client().req("POST", "/api/v1/session",
                                  raw=('{"username":"bob","password":"%s"}' % PW).encode(),
                                  headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 400)
        self.assertNotIn("set-cookie", r.headers)

    def test_change_own_password_ends_other_sessions(self):
        self.srv.add_user("cat", "agent")
        a = self.srv.login("cat")
        b = self.srv.login("cat")
        before = counts(self.srv)
        r = a.post("/api/v1/session/password", {"current_password": "nope nope", "new_password": "new password 1"})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/current_password")
        r = a.post("/api/v1/session/password", {"current_password": PW, "new_password": "short"})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["errors"][0]["pointer"], "/new_password")
        self.assertEqual(counts(self.srv), before)
        r = a.post("/api/v1/session/password", {"current_password": PW, "new_password": "new password 1"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(a.get("/api/v1/session").status, 200)   # this session lives on
        self.assertEqual(b.get("/api/v1/session").status, 401)   # the other one is gone
        self.assertEqual(self.srv.client().login("cat", PW).status, 401)
        self.assertEqual(self.srv.client().login("cat", "new password 1").status, 200)
        audit = self.srv.sql("select action, after from audit where entity='user' and action='password'")
        self.assertEqual(len(audit), 1)
        self.assertNotIn("argon2", audit[0]["after"])
        self.srv.sql_write("delete from login_failures")

    def test_password_hash_is_argon2id(self):
        h = self.srv.sql("select password_hash h from users where username='ann'")[0]["h"]
        self.assertTrue(h.startswith("$argon2id$v=19$m=65536,t=2,p=1$"), h)
        self.assertEqual(self.srv.sql("select count(*) n from audit where after like '%argon2%' "
                                      "or before like '%argon2%'")[0]["n"], 0)


class TestCookieSecure(unittest.TestCase):
    def test_cookie_secure_adds_secure(self):
        srv = Server(env={"SMILE_COOKIE_SECURE": "yes"})
        try:
            srv.add_user("sam", "agent")
            c = srv.client()
            r = c.login("sam", PW)
            self.assertEqual(r.status, 200)
            attrs = [a.strip() for a in r.headers["set-cookie"].split(";")]
            self.assertIn("Secure", attrs)
            self.assertIn("HttpOnly", attrs)
            r = c.delete("/api/v1/session")
            self.assertEqual(r.status, 204)
            self.assertIn("Secure", [a.strip() for a in r.headers["set-cookie"].split(";")])
        finally:
            srv.stop()


class TestRateLimit(unittest.TestCase):
    """Its own server: failures from 127.0.0.1 would lock every other test out."""

    def setUp(self):
        self.srv = Server(["--login-attempts", "3", "--login-window", "120"])
        self.srv.add_user("dan", "agent")
        self.srv.add_user("eve", "agent")

    def tearDown(self):
        self.srv.stop()

    def test_limit_per_username_refuses_even_the_right_password(self):
        c = self.srv.client()
        for _ in range(3):
            self.assertEqual(c.login("dan", "wrong guess").status, 401)
        before = counts(self.srv)
        r = c.login("dan", PW)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.headers["content-type"], "application/problem+json")
        retry = int(r.headers["retry-after"])
        self.assertTrue(0 < retry <= 120, retry)
        self.assertNotIn("set-cookie", r.headers)
        self.assertEqual(counts(self.srv), before)  # no session
        # Still limited after a restart: the failures are in the database.
        self.srv.stop()
        self.srv.start()
        self.assertEqual(c.login("dan", PW).status, 429)
        # Once the failures leave the window, the right password works and clears them.
        self.srv.sql_write("update login_failures set at = at - 121000")
        self.assertEqual(c.login("dan", PW).status, 200)
        self.assertEqual(self.srv.sql("select count(*) n from login_failures where username='dan'")[0]["n"], 0)

    def test_limit_per_address(self):
        c = self.srv.client()
        # Three different usernames from one address, one of them unknown.
        self.assertEqual(c.login("dan", "wrong guess").status, 401)
        self.assertEqual(c.login("eve", "wrong guess").status, 401)
        self.assertEqual(c.login("ghost", "wrong guess").status, 401)
        r = c.login("eve", PW)
        self.assertEqual(r.status, 429)
        self.assertIn("retry-after", r.headers)

    def test_unknown_username_is_limited_like_a_known_one(self):
        c = self.srv.client()
        for _ in range(3):
            c.login("ghost", "x" * 10)
        r = c.login("ghost", "x" * 10)
        self.assertEqual(r.status, 429)

    def test_success_clears_the_users_counter(self):
        c = self.srv.client()
        self.assertEqual(c.login("dan", "wrong guess").status, 401)
        self.assertEqual(c.login("dan", "wrong guess").status, 401)
        self.assertEqual(c.login("dan", PW).status, 200)
        self.assertEqual(self.srv.sql("select count(*) n from login_failures")[0]["n"], 0)


class TestTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ann", "admin")
        cls.srv.add_user("bob", "agent")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_token_authenticates_and_is_stored_hashed(self):
        tok = self.srv.token("bob", "crm:read")
        self.assertTrue(tok.startswith("smile_"))
        self.assertEqual(len(tok), 49)
        st, _, body = self.srv.client(tok).get("/api/v1/session")
        self.assertEqual(st, 200)
        self.assertEqual(body["via"], "token")
        self.assertIsNone(body["csrf_token"])
        self.assertEqual(body["scopes"], ["crm:read"])
        rows = self.srv.sql("select prefix, hex(token_hash) h from api_tokens")
        self.assertNotIn(tok, str(rows))
        self.assertIn(tok[:14], [r["prefix"] for r in rows])
        # A bearer token needs no CSRF header even for writes (no ambient credential).
        self.assertEqual(self.srv.client(tok).patch("/api/v1/session", {"locale": "en"}).status, 200)

    def test_wrong_scope_is_403(self):
        tok = self.srv.token("ann", "kpi:read")
        before = counts(self.srv)
        r = self.srv.client(tok).get("/api/v1/users")
        self.assertEqual(r.status, 403)
        self.assertIn("crm:read", r.json["detail"])
        r = self.srv.client(tok).post("/api/v1/teams", {"name": "x"})
        self.assertEqual(r.status, 403)
        self.assertEqual(counts(self.srv), before)
        tok = self.srv.token("ann", "crm:read")
        self.assertEqual(self.srv.client(tok).get("/api/v1/users").status, 200)
        self.assertEqual(self.srv.client(tok).post("/api/v1/teams", {"name": "x"}).status, 403)

    def test_revoked_token_is_401(self):
        tok = self.srv.token("bob", "crm:read")
        tid = self.srv.sql("select max(id) id from api_tokens")[0]["id"]
        c = self.srv.client(tok)
        self.assertEqual(c.get("/api/v1/users").status, 200)
        self.srv.cli("token", "revoke", str(tid))
        time.sleep(CACHE_TTL)
        r = c.get("/api/v1/users")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["type"], "urn:smile:problem:unauthorized")

    def test_malformed_and_unknown_tokens_are_401(self):
        for h in ("Bearer nope", "Bearer smile_" + "A" * 43, "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer "):
            r = self.srv.client().get("/api/v1/users", headers={"Authorization": h})
            self.assertEqual(r.status, 401, h)

    def test_disabled_user_is_refused_and_sessions_die(self):
        self.srv.add_user("fay", "agent")
        tok = self.srv.token("fay", "crm:read")
        c = self.srv.login("fay")
        self.assertEqual(c.get("/api/v1/session").status, 200)
        self.srv.cli("user", "disable", "fay")
        time.sleep(CACHE_TTL)
        self.assertEqual(c.get("/api/v1/session").status, 401)
        self.assertEqual(self.srv.client(tok).get("/api/v1/users").status, 401)
        fid = self.srv.sql("select id from users where username='fay'")[0]["id"]
        self.assertEqual(self.srv.sql("select count(*) n from sessions where user_id=%d" % fid)[0]["n"], 0)
        r = self.srv.client().login("fay", PW)
        self.assertEqual(r.status, 401)
        self.assertNotIn("set-cookie", r.headers)
        self.srv.sql_write("delete from login_failures")

    def test_disabled_via_api_ends_sessions_at_once(self):
        self.srv.add_user("gus", "agent")
        g = self.srv.login("gus")
        gid = self.srv.sql("select id from users where username='gus'")[0]["id"]
        a = self.srv.login("ann")
        _, h, _ = a.get("/api/v1/users/%d" % gid)
        r = a.patch("/api/v1/users/%d" % gid, {"disabled": True}, headers={"If-Match": h["etag"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.srv.sql("select count(*) n from sessions where user_id=%d" % gid)[0]["n"], 0)
        self.assertEqual(g.get("/api/v1/session").status, 401)


if __name__ == "__main__":
    unittest.main()
