"""The staff and token commands of the `smile` binary as scripts use them: exact
output of `token create`, exit statuses (0 done, 1 failed, 2 usage), messages, and
`serve --bootstrap-admin`."""
import re
import subprocess
import time
import unittest

from harness import BIN, Server

PW = "correct horse battery"


class TestUserCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def run_cli(self, *args, input=None):
        return self.srv.cli(*args, input=input, check=False)

    def test_help_for_every_subcommand(self):
        for cmd in (["user"], ["user", "add"], ["user", "list"], ["user", "passwd"],
                    ["user", "disable"], ["team"], ["team", "add"], ["team", "list"],
                    ["token"], ["token", "create"], ["token", "list"], ["token", "revoke"]):
            p = subprocess.run([BIN] + cmd + ["--help"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn("usage: smile " + cmd[0], p.stdout)

    def test_user_add_list_passwd_disable(self):
        self.assertEqual(self.run_cli("team", "add", "support").returncode, 0)
        p = self.run_cli("user", "add", "zoe", "--role", "supervisor", "--team", "support",
                         "--display-name", "Zoe Z", "--password-stdin", input=PW + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("added user zoe", p.stdout)
        row = self.srv.sql("select u.role, u.display_name, t.name team from users u "
                           "join teams t on t.id = u.team_id where username='zoe'")[0]
        self.assertEqual(row, {"role": "supervisor", "display_name": "Zoe Z", "team": "support"})
        # The newline is not part of the password.
        self.assertEqual(self.srv.client().login("zoe", PW).status, 200)
        p = self.run_cli("user", "list")
        self.assertEqual(p.returncode, 0)
        line = [l for l in p.stdout.splitlines() if " zoe " in l][0]
        self.assertIn("supervisor", line)
        self.assertIn("support", line)
        self.assertIn("active", line)
        p = self.run_cli("user", "passwd", "zoe", "--password-stdin", input="another password\r\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.srv.client().login("zoe", "another password").status, 200)
        p = self.run_cli("user", "disable", "zoe")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("disabled", [l for l in self.run_cli("user", "list").stdout.splitlines() if " zoe " in l][0])
        self.assertEqual(self.srv.client().login("zoe", "another password").status, 401)
        acts = [r["action"] for r in self.srv.sql(
            "select action from audit where entity='user' and actor='cli' and entity_id="
            "(select id from users where username='zoe') order by id")]
        self.assertEqual(acts, ["create", "password", "disable"])
        self.srv.sql_write("delete from login_failures")

    def test_user_add_errors(self):
        before = self.srv.sql("select count(*) n from users")[0]["n"]
        p = self.run_cli("user", "add", "x1", "--role", "boss", "--password-stdin", input=PW + "\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--role must be agent, supervisor or admin", p.stderr)
        p = self.run_cli("user", "add", "x1", "--role", "agent", "--team", "ghosts",
                         "--password-stdin", input=PW + "\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no team ghosts (create it with smile team add ghosts)", p.stderr)
        p = self.run_cli("user", "add", "x1", "--role", "agent", "--password-stdin", input="short\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("at least 8 characters", p.stderr)
        p = self.run_cli("user", "add", "x1", "--role", "agent", "--password-stdin", input="")
        self.assertEqual(p.returncode, 1)
        p = self.run_cli("user", "add", "X Y", "--role", "agent", "--password-stdin", input=PW + "\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("a-z", p.stderr)
        p = self.run_cli("user", "add", "x1", "--role", "agent")
        self.assertEqual(p.returncode, 2)
        p = self.run_cli("user", "add", "x1", "--role", "agent", "--password-stdin", "--bogus", input=PW + "\n")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(self.run_cli("user", "frobnicate").returncode, 2)
        self.assertEqual(self.run_cli("user", "disable", "nobody").returncode, 1)
        self.assertEqual(self.run_cli("user", "passwd", "nobody", "--password-stdin", input=PW).returncode, 1)
        self.srv.add_user("dup", "agent")
        p = self.run_cli("user", "add", "dup", "--role", "agent", "--password-stdin", input=PW + "\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("taken", p.stderr)
        self.assertEqual(self.srv.sql("select count(*) n from users")[0]["n"], before + 1)
        p = self.run_cli("team", "add", "Bad Team")
        self.assertEqual(p.returncode, 1)

    def test_team_list(self):
        self.run_cli("team", "add", "listed", "--display-name", "Listed team")
        p = self.run_cli("team", "list")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(any("listed" in l and "Listed team" in l for l in p.stdout.splitlines()))

    def test_token_create_prints_only_the_token(self):
        self.srv.add_user("tok", "agent")
        p = self.run_cli("token", "create", "--user", "tok", "--scopes", "crm:read,events:write",
                         "--name", "pbx bridge")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"\Asmile_[A-Za-z0-9_-]{43}\n\Z")
        tok = p.stdout.strip()
        st, _, body = self.srv.client(tok).get("/api/v1/session")
        self.assertEqual((st, body["scopes"]), (200, ["crm:read", "events:write"]))
        p = self.run_cli("token", "list")
        line = [l for l in p.stdout.splitlines() if tok[:14] in l][0]
        self.assertIn("tok", line)
        self.assertIn("active", line)
        self.assertIn("pbx bridge", line)
        self.assertNotIn(tok, p.stdout)
        tid = line.split()[0]
        p = self.run_cli("token", "revoke", tid)
        self.assertEqual(p.returncode, 0)
        time.sleep(2.1)  # another process's revoke reaches the server's auth cache within 2 s
        self.assertEqual(self.srv.client(tok).get("/api/v1/session").status, 401)
        self.assertIn("revoked", [l for l in self.run_cli("token", "list").stdout.splitlines() if tok[:14] in l][0])

    def test_token_errors(self):
        self.srv.add_user("tok2", "agent")
        before = self.srv.sql("select count(*) n from api_tokens")[0]["n"]
        p = self.run_cli("token", "create", "--user", "tok2", "--scopes", "crm:read,root")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown scope 'root'", p.stderr)
        p = self.run_cli("token", "create", "--user", "nobody", "--scopes", "crm:read")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no user nobody", p.stderr)
        p = self.run_cli("token", "create", "--user", "tok2", "--scopes", "admin")
        self.assertEqual(p.returncode, 1)
        self.assertIn("admin scope", p.stderr)
        self.assertEqual(self.run_cli("token", "create", "--user", "tok2").returncode, 2)
        self.assertEqual(self.run_cli("token", "revoke", "abc").returncode, 2)
        self.assertEqual(self.run_cli("token", "revoke", "99999").returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.srv.sql("select count(*) n from api_tokens")[0]["n"], before)


class TestBootstrapAdmin(unittest.TestCase):
    def test_prints_the_password_once(self):
        srv = Server(["--bootstrap-admin"])
        try:
            with open(srv.log_path) as f:
                out = f.read()
            lines = [l for l in out.splitlines() if l.startswith("first admin account:")]
            self.assertEqual(len(lines), 1, out)
            m = re.fullmatch(r"first admin account: admin / ([A-Za-z0-9]{16})  "
                             r"\(change it with: smile user passwd admin --password-stdin\)", lines[0])
            self.assertIsNotNone(m, lines[0])
            pw = m.group(1)
            c = srv.client()
            r = c.login("admin", pw)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["user"]["role"], "admin")
            srv.stop()
            srv.start()
            with open(srv.log_path) as f:
                out = f.read()
            self.assertEqual(out.count("first admin account:"), 1)
            self.assertEqual(srv.sql("select count(*) n from users")[0]["n"], 1)
            self.assertEqual(srv.client().login("admin", pw).status, 200)
        finally:
            srv.stop()

    def test_no_admin_made_when_users_exist(self):
        srv = Server()
        try:
            srv.add_user("someone", "agent")
            srv.stop()
            srv.extra_args = ["--bootstrap-admin"]
            srv.start()
            with open(srv.log_path) as f:
                self.assertNotIn("first admin account", f.read())
            self.assertEqual(srv.sql("select username from users"), [{"username": "someone"}])
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
