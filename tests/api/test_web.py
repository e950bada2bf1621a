"""The embedded web UI over HTTP (src/api/assets.c): index.html for / and client-side
routes, ETag + If-None-Match → 304, gzip when accepted, cache headers, content types, 404
for unknown files, nothing written to the database. The browser tests (tests/e2e) drive
the same files in Chromium; these need no browser."""
import gzip
import http.client
import os
import unittest

from harness import Server

DIST = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "web", "dist")


def dist_files():
    out = []
    for root, dirs, files in os.walk(DIST):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith("."):
                out.append(os.path.relpath(os.path.join(root, f), DIST))
    return sorted(out)


class RawClient:
    """Bytes in, bytes out (the harness client decodes bodies as text; gzip is binary)."""

    def __init__(self, port):
        self.port = port

    def req(self, method, path, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()


class TestWebAssets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.c = RawClient(cls.srv.port)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_index_and_client_routes(self):
        st, h, body = self.c.req("GET", "/", headers={"Accept": "text/html"})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertRegex(h["etag"], r'^"[0-9a-f]{24}"$')
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn("default-src 'self'", h["content-security-policy"])
        with open(os.path.join(DIST, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())
        for p in ("/app", "/app/", "/app/sign-in", "/app/customers/7", "/app/a/b/c"):
            st2, h2, _ = self.c.req("GET", p, headers={"Accept": "text/html"})
            self.assertEqual((p, st2, h2["etag"]), (p, 200, h["etag"]))
        # Deeper than three segments below /app is not a UI route.
        self.assertEqual(self.c.req("GET", "/app/a/b/c/d")[0], 404)

    def test_etag_304_and_gzip(self):
        for rel in dist_files():
            with open(os.path.join(DIST, rel), "rb") as f:
                want = f.read()
            url = "/" if rel == "index.html" else "/" + rel
            st, h, body = self.c.req("GET", url, headers={"Accept": "*/*"})
            self.assertEqual(st, 200, url)
            self.assertEqual(body, want, url)
            self.assertNotIn("content-encoding", h)
            if rel.startswith("assets/"):
                self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
            else:
                self.assertEqual(h["cache-control"], "no-cache")
            st, h304, body = self.c.req("GET", url, headers={"If-None-Match": h["etag"]})
            self.assertEqual((url, st, body), (url, 304, b""))
            self.assertEqual(h304["etag"], h["etag"])
            st, hz, body = self.c.req("GET", url, headers={"Accept-Encoding": "gzip"})
            self.assertEqual(st, 200)
            if hz.get("content-encoding") == "gzip":
                self.assertEqual(gzip.decompress(body), want, url)
                self.assertEqual(hz["vary"], "Accept-Encoding")
                self.assertEqual(hz["etag"], h["etag"][:-1] + '-gz"')
                # Either ETag revalidates either representation (weak comparison).
                st, _, _ = self.c.req("GET", url, headers={"If-None-Match": 'W/' + h["etag"],
                                                           "Accept-Encoding": "gzip"})
                self.assertEqual(st, 304)
            else:
                self.assertLess(len(want), 1024, url + " is big and was not sent gzip")

    def test_content_types(self):
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                 ".webmanifest": "application/manifest+json", ".html": "text/html"}
        for rel in dist_files():
            ext = os.path.splitext(rel)[1]
            if ext in types:
                _, h, _ = self.c.req("HEAD", "/" if rel == "index.html" else "/" + rel)
                self.assertTrue(h["content-type"].startswith(types[ext]), rel)

    def test_unknown_files_and_methods(self):
        for p in ("/assets/none.js", "/static/none.svg", "/assets/..%2Findex.html"):
            st, h, _ = self.c.req("GET", p)
            self.assertEqual((p, st), (p, 404))
            self.assertEqual(h["content-type"], "application/problem+json")
        self.assertEqual(self.c.req("POST", "/app/customers", body=b"{}")[0], 405)
        self.assertEqual(self.c.req("DELETE", "/assets/x.js")[0], 405)

    def test_nothing_written(self):
        count = "select (select count(*) from audit) + (select count(*) from sessions) as n"
        before = self.srv.sql(count)
        for p in ("/", "/app/customers", "/assets/none.js", "/static/manifest.webmanifest"):
            self.c.req("GET", p)
        self.assertEqual(self.srv.sql(count), before)

if __name__ == "__main__":
    unittest.main()
