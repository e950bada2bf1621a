"""Sign-in sessions, CSRF, sign-in rate limiting, API tokens and their scopes, against a
real server. Each rejected request is followed by a check that nothing was written."""
import subprocess
import time
import unittest

from harness import Server

PW = "correct horse battery"


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
        r = c.patch("/api/v1/session", {"locale": "zh-CN"}, headers={"X-CSRF-Token": csrf[:-1] + "A"})
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
        r = c.get("/api/v1/session")
        self.assertEqual(r.status, 401)
        self.assertIn("expired", r.json["detail"])
        self.assertEqual(self.srv.sql("select count(*) n from sessions where id = %d" % sid)[0]["n"], 0)
        # And by expires_at alone.
        c = self.srv.login("bob")
        sid = self.srv.sql("select max(id) id from sessions")[0]["id"]
        self.srv.sql_write("update sessions set expires_at = %d where id = %d"
                           % (int(time.time() * 1000) - 1, sid))
        self.assertEqual(c.get("/api/v1/session").status, 401)

    def test_last_seen_written_at_most_once_a_minute(self):
        c = self.srv.login("bob")
        sid = self.srv.sql("select max(id) id from sessions")[0]["id"]
        seen = self.srv.sql("select last_seen_at s from sessions where id=%d" % sid)[0]["s"]
        c.get("/api/v1/session")
        self.assertEqual(self.srv.sql("select last_seen_at s from sessions where id=%d" % sid)[0]["s"], seen)
        self.srv.sql_write("update sessions set last_seen_at = last_seen_at - 61000 where id=%d" % sid)
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


if __name__ == "__main__":
    unittest.main()
