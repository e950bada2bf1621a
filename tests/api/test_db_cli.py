"""The database subcommands against real files: init twice is harmless, migrate --status,
a database newer than the binary is refused everywhere with a message naming both
versions, and backup makes a consistent copy while the server runs."""
import os
import sqlite3
import subprocess
import tempfile
import unittest

from harness import BIN, Server


def smile(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=120)


class TestDatabaseCommands(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smile-db-")
        self.db = os.path.join(self.dir, "smile.db")

    def versions(self):
        with sqlite3.connect(self.db) as c:
            return [r[0] for r in c.execute("select version from schema_migrations order by 1")]

    def test_init_twice_is_harmless(self):
        p1 = smile("init", "--db", self.db)
        self.assertEqual(p1.returncode, 0, p1.stderr)
        first = self.versions()
        with sqlite3.connect(self.db) as c:
            calendars = c.execute("select count(*) from calendars").fetchone()[0]
        p2 = smile("init", "--db", self.db)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(self.versions(), first)
        with sqlite3.connect(self.db) as c:
            # the seeds (China calendar, four default processes) are not doubled
            self.assertEqual(c.execute("select count(*) from calendars").fetchone()[0], calendars)
            self.assertEqual(c.execute("select count(*) from processes").fetchone()[0], 4)
        st = smile("migrate", "--status", "--db", self.db)
        self.assertEqual(st.returncode, 0)
        n = len(first)
        self.assertIn("database schema version %d, binary schema version %d" % (n, n), st.stdout)

    def test_migrate_without_database_says_so(self):
        p = smile("migrate", "--db", self.db)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database at", p.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_newer_database_is_refused(self):
        self.assertEqual(smile("init", "--db", self.db).returncode, 0)
        n = len(self.versions())
        with sqlite3.connect(self.db) as c:
            c.execute("insert into schema_migrations (version, name, applied_at) "
                      "values (?, '9999_future.sql', 0)", (n + 1,))
        for args in (["migrate"], ["init"], ["serve", "--listen", "127.0.0.1:0"]):
            p = smile(*args, "--db", self.db)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn("database schema version %d is newer than this binary's %d"
                          % (n + 1, n), p.stderr, args)

    def test_bad_config_file_names_file_and_line(self):
        conf = os.path.join(self.dir, "smile.conf")
        with open(conf, "w") as f:
            f.write("db = %s\nthreads = 0\n" % self.db)
        p = smile("init", "--config", conf)
        self.assertEqual(p.returncode, 2)
        self.assertIn("%s:2:" % conf, p.stderr)
        self.assertIn("threads must be an integer from 1 to 256", p.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_backup_while_serving(self):
        srv = Server(dbdir=self.dir)
        try:
            srv.add_user("bob", "admin")
            c = srv.client(token=srv.token("bob", "crm:read,crm:write"))
            for i in range(20):
                self.assertEqual(c.post("/api/v1/customers",
                                        {"kind": "person", "name": "客户%d" % i}).status, 201)
            copy = os.path.join(self.dir, "copy.db")
            p = smile("backup", copy, "--db", srv.db)
            self.assertEqual(p.returncode, 0, p.stderr)
            with sqlite3.connect(copy) as k:
                self.assertEqual(k.execute("select count(*) from customers").fetchone()[0], 20)
                self.assertEqual(k.execute("pragma integrity_check").fetchone()[0], "ok")
            again = smile("backup", copy, "--db", srv.db)
            self.assertEqual(again.returncode, 1)
            self.assertIn("exists", again.stderr)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
