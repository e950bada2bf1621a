"""Operations endpoints and server life cycle against a real server."""
import unittest

from harness import Server


class TestOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_healthz(self):
        st, h, body = self.srv.client().get("/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(len(h["x-request-id"]), 16)

    def test_readyz_reports_schema(self):
        st, _, body = self.srv.client().get("/readyz")
        self.assertEqual(st, 200)
        self.assertEqual(body["database"]["schema_version"], body["database"]["binary_schema_version"])

    def test_unknown_route_is_problem_404(self):
        st, h, body = self.srv.client().get("/api/v1/nothing-here")
        self.assertEqual(st, 404)
        self.assertEqual(h["content-type"], "application/problem+json")
        self.assertEqual(body["status"], 404)
        self.assertEqual(body["instance"], "/api/v1/nothing-here")

    def test_wrong_method_is_405_with_allow(self):
        st, h, body = self.srv.client().req("DELETE", "/healthz")
        self.assertEqual(st, 405)
        self.assertEqual(h["allow"], "GET")
        self.assertEqual(body["type"], "urn:smile:problem:method_not_allowed")

    def test_metrics_counts_requests(self):
        c = self.srv.client()
        c.get("/healthz")
        c.get("/healthz")
        st, h, text = c.get("/metrics")
        self.assertEqual(st, 200)
        self.assertIn("text/plain", h["content-type"])
        line = [l for l in text.splitlines()
                if l.startswith('smile_http_requests_total{route="GET /healthz",status="200"}')]
        self.assertEqual(len(line), 1)
        self.assertGreaterEqual(int(line[0].split()[-1]), 2)
        self.assertIn('smile_http_request_duration_seconds_count{route="GET /healthz"}', text)


if __name__ == "__main__":
    unittest.main()
