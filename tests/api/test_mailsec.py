"""Mailbox secrets at rest and IMAP IDLE push (issue 4, docs/mail.md and docs/operators.md).

Secrets: the mailbox passwords and webhook signing secrets are sealed in the database under
a key file kept beside it (smile.key, 0600); the sqlite3 shell and the raw database file
show no clear password; a start with the key missing or another key is refused with a
message and changes nothing; a database from before the sealing (clear values, no key) is
sealed at its first start; `smile secrets rotate` re-seals under a new key and keeps the
old one for older backups.

IDLE: against the real Dovecot of mailservers.py, a mailbox polled every 300 s imports a
message appended by the test within 2 s, because its watcher waits in IDLE; SIGTERM leaves
IDLE (Dovecot logs the IDLE session's logout) promptly."""
import os
import re
import shutil
import stat
import subprocess
import time
import unittest

from harness import BIN, Server
from mailservers import Dovecot
from test_mail import mail

SEALED = re.compile(r"^\$sm1\$[0-9a-f]{16}\$[A-Za-z0-9_-]+$")


def raw_bytes(srv):
    """The database file and its WAL as bytes (what a stolen copy would show)."""
    out = b""
    for suffix in ("", "-wal"):
        try:
            with open(srv.db + suffix, "rb") as f:
                out += f.read()
        except FileNotFoundError:
            pass
    return out


def serve_refused(srv, *extra):
    """Runs `smile serve` on srv's database expecting it to refuse: (rc, stderr)."""
    p = subprocess.run([BIN, "serve", "--db", srv.db, "--listen", "127.0.0.1:%d" % srv.port] +
                       list(extra), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


class TestSecrets(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.srv.add_user("ada", "admin")
        self.adm = self.srv.client(self.srv.token("ada", "admin,crm:read,crm:write"))
        self.key = os.path.join(self.srv.dir, "smile.key")

    def tearDown(self):
        if self.srv.proc:
            self.srv.stop()

    def add_mailbox(self, name="svc"):
        st, _, mb = self.adm.post("/api/v1/mailboxes", {
            "name": name, "imap_url": "imap://127.0.0.1:9/INBOX", "username": "service",
            "password": "Imap-Pw-4711", "smtp_url": "smtp://127.0.0.1:9",
            "smtp_username": "smtp-user", "smtp_password": "Smtp-Pw-0815",
            "from_address": "service@smile-estate.cn", "active": False})
        self.assertEqual(st, 201, mb)
        return mb

    def add_webhook(self):
        st, _, wh = self.adm.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook",
                                                       "event_types": ["case.*"]})
        self.assertEqual(st, 201, wh)
        return wh

    def test_01_sealed_in_the_database(self):
        # The key file is created by the first start, owner-only.
        st = os.stat(self.key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_size, 32)
        mb = self.add_mailbox()
        wh = self.add_webhook()
        self.assertTrue(mb["has_password"])
        self.assertTrue(mb["has_smtp_password"])
        rows = self.srv.sql("select password, smtp_password from mailboxes")
        self.assertEqual(len(rows), 1)
        for v in rows[0].values():
            self.assertRegex(v, SEALED)
        self.assertNotIn("Imap-Pw-4711", str(rows))
        hooks = self.srv.sql("select secret, previous_secret from webhooks")
        self.assertRegex(hooks[0]["secret"], SEALED)
        self.assertNotIn(wh["secret"], str(hooks))
        # Not in the file's bytes either (free pages, WAL).
        raw = raw_bytes(self.srv)
        for clear in (b"Imap-Pw-4711", b"Smtp-Pw-0815", wh["secret"].encode()):
            self.assertNotIn(clear, raw)
        # The state records the key the values are sealed under.
        kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        self.assertEqual(rows[0]["password"][5:21], kid)
        # Reads still work: the webhook hint is the last 4 digits of the clear secret.
        st, _, got = self.adm.get("/api/v1/webhooks/%d" % wh["id"])
        self.assertEqual(st, 200, got)
        self.assertTrue(got["secret_hint"].endswith(wh["secret"][-4:]), got)
        # A rotated webhook secret is sealed too, and the previous one stays sealed.
        st, _, rot = self.adm.post("/api/v1/webhooks/%d/rotate-secret" % wh["id"],
                                   {"keep_previous_seconds": 3600})
        self.assertEqual(st, 200, rot)
        hooks = self.srv.sql("select secret, previous_secret from webhooks")
        self.assertRegex(hooks[0]["secret"], SEALED)
        self.assertRegex(hooks[0]["previous_secret"], SEALED)
        self.assertNotIn(rot["secret"].encode(), raw_bytes(self.srv))
        # A PATCH without a password keeps it (re-sealed or not, still the same secret);
        # one with a new password seals the new one.
        st, _, mb2 = self.adm.patch("/api/v1/mailboxes/%d" % mb["id"], {"password": "New-Pw-99"},
                                    headers={"If-Match": '"%d"' % mb["version"]})
        self.assertEqual(st, 200, mb2)
        self.assertNotIn(b"New-Pw-99", raw_bytes(self.srv))
        self.assertRegex(self.srv.sql("select password from mailboxes")[0]["password"], SEALED)

    def test_02_missing_or_wrong_key_refuses(self):
        self.add_mailbox()
        self.add_webhook()
        self.srv.stop()
        before = self.srv.sql("select password, smtp_password from mailboxes")
        kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        shutil.move(self.key, self.key + ".away")
        rc, err = serve_refused(self.srv)
        self.assertNotEqual(rc, 0)
        self.assertIn("does not exist", err)
        self.assertIn(kid, err)
        self.assertIn("refusing to start", err)
        self.assertFalse(os.path.exists(self.key))  # no new key made over the old secrets
        # Another key: refused, naming both key ids.
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)
        rc, err = serve_refused(self.srv)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not the key", err)
        self.assertIn(kid, err)
        # A file that is not a key (wrong size).
        with open(self.key, "wb") as f:
            f.write(b"short")
        rc, err = serve_refused(self.srv)
        self.assertNotEqual(rc, 0)
        self.assertIn("exactly 32 bytes", err)
        # Nothing was changed by the refused starts; other commands refuse too.
        self.assertEqual(self.srv.sql("select password, smtp_password from mailboxes"), before)
        p = self.srv.cli("user", "list", check=False)
        self.assertNotEqual(p.returncode, 0)
        # The right key back (also through secret_key_file): it starts again.
        os.unlink(self.key)
        rc = subprocess.run([BIN, "secrets", "status", "--db", self.srv.db,
                             "--secret-key-file", self.key + ".away"],
                            capture_output=True, text=True)
        self.assertEqual(rc.returncode, 0, rc.stderr)
        self.assertIn("sealed values  3", rc.stdout)
        self.assertIn("clear values   0", rc.stdout)
        shutil.move(self.key + ".away", self.key)
        self.srv.start()
        st, _, lst = self.adm.get("/api/v1/mailboxes")
        self.assertEqual(st, 200)
        self.assertTrue(lst["items"][0]["has_password"])

    def test_03_clear_values_sealed_at_first_start(self):
        """A database from before 0012's sealing: clear values, no key file."""
        self.srv.stop()
        self.srv.sql_write(
            "insert into mailboxes (name, imap_url, username, password, smtp_password, "
            "from_address, created_at, updated_at) values ('old', 'imap://127.0.0.1:9/INBOX', "
            "'u', 'Legacy-Imap-Pw', 'Legacy-Smtp-Pw', 'a@smile-estate.cn', 0, 0);"
            "insert into webhooks (url, description, event_types, active, secret, "
            "previous_secret, previous_expires_at, after_event_id, created_at, updated_at, "
            "headers) values ('http://127.0.0.1:9/', '', '[\"case.*\"]', 0, "
            "'whsec_00112233445566778899aabbccddeeff00112233445566778899aabbccdd9f3e', "
            "'whsec_old', 0, 0, 0, 0, '{}');"
            "update secret_state set key_id = null, sealed_at = null;")
        os.unlink(self.key)
        self.assertIn(b"Legacy-Imap-Pw", raw_bytes(self.srv))
        self.srv.start()
        self.assertTrue(os.path.exists(self.key))
        rows = self.srv.sql("select password, smtp_password from mailboxes")
        for v in rows[0].values():
            self.assertRegex(v, SEALED)
        hooks = self.srv.sql("select secret, previous_secret from webhooks")
        for v in hooks[0].values():
            self.assertRegex(v, SEALED)
        # secure_delete + a WAL checkpoint: the old clear text is gone from the file too.
        raw = raw_bytes(self.srv)
        for clear in (b"Legacy-Imap-Pw", b"Legacy-Smtp-Pw", b"ccdd9f3e"):
            self.assertNotIn(clear, raw)
        st, _, wh = self.adm.get("/api/v1/webhooks")
        self.assertEqual(st, 200, wh)
        self.assertTrue(wh["items"][0]["secret_hint"].endswith("9f3e"), wh)
        # Idempotent: a second start changes nothing.
        self.srv.stop()
        self.srv.start()
        self.assertEqual(self.srv.sql("select password, smtp_password from mailboxes"), rows)

    def test_04_rotate(self):
        mb = self.add_mailbox()
        wh = self.add_webhook()
        self.srv.stop()
        old_kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        before = self.srv.sql("select password, smtp_password from mailboxes")
        with open(self.key, "rb") as f:
            old_key = f.read()
        p = self.srv.cli("secrets", "rotate")
        self.assertIn("re-sealed 3 secrets", p.stdout)
        new_kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        self.assertNotEqual(new_kid, old_kid)
        self.assertIn(new_kid, p.stdout)
        after = self.srv.sql("select password, smtp_password from mailboxes")
        for k in ("password", "smtp_password"):
            self.assertRegex(after[0][k], SEALED)
            self.assertEqual(after[0][k][5:21], new_kid)
            self.assertNotEqual(after[0][k], before[0][k])
        self.assertIsNotNone(self.srv.sql("select rotated_at from secret_state")[0]["rotated_at"])
        # The old key is kept, owner-only, for backups made before the rotation.
        old_path = "%s.old-%s" % (self.key, old_kid)
        with open(old_path, "rb") as f:
            self.assertEqual(f.read(), old_key)
        self.assertEqual(stat.S_IMODE(os.stat(old_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)
        # The old key no longer opens this database.
        rc, err = serve_refused(self.srv, "--secret-key-file", old_path)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not the key", err)
        # The new one does, and the secrets are the same secrets.
        self.srv.start()
        st, _, got = self.adm.get("/api/v1/webhooks/%d" % wh["id"])
        self.assertEqual(st, 200, got)
        self.assertTrue(got["secret_hint"].endswith(wh["secret"][-4:]), got)
        st, _, m = self.adm.get("/api/v1/mailboxes/%d" % mb["id"])
        self.assertEqual(st, 200, m)
        self.assertTrue(m["has_password"])
        # Rotating to a key supplied from a file.
        self.srv.stop()
        supplied = os.path.join(self.srv.dir, "vault.key")
        with open(supplied, "wb") as f:
            f.write(bytes(range(32)))
        p = self.srv.cli("secrets", "rotate", "--new-key", supplied)
        # The key id of bytes 0..31 (worked out in tests/unit/test_secret.c).
        self.assertIn("395b6042f948f3ea", p.stdout)
        with open(self.key, "rb") as f:
            self.assertEqual(f.read(), bytes(range(32)))
        # Rotating to the key in use is refused.
        p = self.srv.cli("secrets", "rotate", "--new-key", supplied, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is the key in use", p.stderr)
        self.srv.start()

    def test_06_tampered_secret_never_signs(self):
        """A sealed secret copied from another row does not open (the row is the associated
        data): the delivery is failed with the reason, nothing is sent unsigned."""
        a = self.add_webhook()
        b = self.add_webhook()
        self.srv.sql_write("update webhooks set secret = (select secret from webhooks where "
                           "id = %d) where id = %d" % (b["id"], a["id"]))
        r = self.adm.post("/api/v1/webhooks/%d/ping" % a["id"])
        self.assertEqual(r.status, 202, r)
        did = r.json["id"]
        t = time.time()
        while time.time() - t < 20:
            d = self.adm.get("/api/v1/webhooks/%d/deliveries/%d" % (a["id"], did)).json
            if d["status"] != "pending":
                break
            time.sleep(0.1)
        self.assertEqual(d["status"], "failed", d)
        self.assertIn("does not authenticate", d["last_error"])
        self.assertEqual(d["attempts"], 0, d)
        # The hint cannot be shown either, and says so without failing the read.
        st, _, got = self.adm.get("/api/v1/webhooks/%d" % a["id"])
        self.assertEqual(st, 200, got)
        self.assertTrue(got["secret_hint"].endswith("?"), got)

    def test_07_lost_key_without_secrets_is_replaced(self):
        """No sealed value in the database: nothing to lose, a lost key is simply replaced."""
        self.srv.stop()
        old_kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        self.assertRegex(old_kid, "^[0-9a-f]{16}$")
        os.unlink(self.key)
        self.srv.start()
        new_kid = self.srv.sql("select key_id from secret_state")[0]["key_id"]
        self.assertRegex(new_kid, "^[0-9a-f]{16}$")
        self.assertNotEqual(new_kid, old_kid)
        self.add_mailbox()
        self.assertEqual(self.srv.sql("select password from mailboxes")[0]["password"][5:21],
                         new_kid)

    def test_05_backup_reminds_of_the_key(self):
        self.add_mailbox()
        dest = os.path.join(self.srv.dir, "copy.db")
        p = self.srv.cli("backup", dest)
        self.assertIn("is not in the backup", p.stdout)
        self.assertIn(self.key, p.stdout)
        # The copy holds the sealed values only; with the key it opens.
        p = subprocess.run(["sqlite3", dest, "select password from mailboxes"],
                           capture_output=True, text=True, check=True)
        self.assertRegex(p.stdout.strip(), SEALED)
        p = subprocess.run([BIN, "secrets", "status", "--db", dest, "--secret-key-file",
                            self.key], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sealed values  2", p.stdout)


class TestIdle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imap = Dovecot(users={"service": "imap-secret"})
        # IDLE renewed every 5 s (the default is 28 min) so the test sees renewals.
        cls.srv = Server(extra_args=["--log-level", "debug", "--mail-idle-renew", "5"])
        cls.srv.add_user("ada", "admin")
        cls.adm = cls.srv.client(cls.srv.token("ada", "admin,crm:read,crm:write,events:read"))

    @classmethod
    def tearDownClass(cls):
        if cls.srv.proc:
            cls.srv.stop()
        cls.imap.stop()

    def wait_log(self, needle, timeout=20):
        t = time.time()
        while time.time() - t < timeout:
            if needle in self.srv.read_log():
                return time.time() - t
            time.sleep(0.05)
        self.fail("no %r in the log: %s" % (needle, self.srv.read_log()[-3000:]))

    def received(self):
        return self.srv.sql("select count(*) n from events where type = 'email.received'")[0]["n"]

    def test_01_push_within_2s_then_clean_stop(self):
        st, _, mb = self.adm.post("/api/v1/mailboxes", {
            "name": "svc", "imap_url": self.imap.url(), "username": "service",
            "password": "imap-secret", "from_address": "service@smile-estate.cn",
            "poll_seconds": 300})
        self.assertEqual(st, 201, mb)
        # The watcher logs in with the password opened from its sealed form.
        self.wait_log("mailbox=%d state=idle" % mb["id"])
        st, _, got = self.adm.get("/api/v1/mailboxes/%d" % mb["id"])
        self.assertEqual((st, got["push"]), (200, "idle"), got)
        # The creation's first poll found nothing; the next scheduled one is 300 s away.
        self.assertEqual(self.received(), 0)
        times = []
        for i in range(4):
            if i == 3:  # after a renewal (DONE, IDLE) the same connection still pushes
                n = self.srv.read_log().count("mailbox push renewed")
                t0 = time.time()
                while self.srv.read_log().count("mailbox push renewed") < n + 1:
                    self.assertLess(time.time() - t0, 15, "IDLE not renewed")
                    time.sleep(0.1)
            self.imap.append("service", mail("idle-%d@customer.cn" % i, "IDLE %d" % i,
                                             "您好 %d" % i))
            t0 = time.time()
            while self.received() < i + 1 and time.time() - t0 < 10:
                time.sleep(0.02)
            times.append(time.time() - t0)
            self.assertEqual(self.received(), i + 1, self.srv.read_log()[-3000:])
        print("\nIDLE: email.received %.2f / %.2f / %.2f / %.2f s after APPEND (poll 300 s)" %
              tuple(times))
        # One IDLE connection all along: renewed, never reconnected.
        self.assertEqual(self.srv.read_log().count("state=idle"), 1)
        for t in times:
            self.assertLess(t, 2.0)
        log = self.srv.read_log()
        self.assertIn('msg="mailbox push: new mail" mailbox=%d line="* 1 EXISTS"' % mb["id"], log)
        # SIGTERM: the IDLE connection ends with DONE + LOGOUT, promptly.
        t = time.time()
        self.srv.stop()
        took = time.time() - t
        print("IDLE: serve stopped in %.2f s" % took)
        self.assertLess(took, 5.0)
        dlog = self.imap.log()
        # Every IMAP session of Smile logged out (none "Connection closed" while idling).
        sessions = re.findall(r"imap\(service\)<\d+><[^>]+>: Info: Disconnected: ([^\n]*)", dlog)
        self.assertTrue(sessions, dlog)
        for s in sessions:
            self.assertTrue(s.startswith("Logged out"), dlog)
        self.assertNotIn("push interrupted", self.srv.read_log())

    def test_02_no_idle_falls_back_to_polling(self):
        """A server that does not advertise IDLE: the watcher says so and polling goes on."""
        srv = Server()
        fake = NoIdleImap()
        try:
            srv.add_user("ada", "admin")
            adm = srv.client(srv.token("ada", "admin"))
            st, _, mb = adm.post("/api/v1/mailboxes", {
                "name": "plain", "imap_url": "imap://127.0.0.1:%d/INBOX" % fake.port,
                "username": "u", "password": "p", "from_address": "a@smile-estate.cn",
                "poll_seconds": 10})
            self.assertEqual(st, 201, mb)
            t = time.time()
            while "push unavailable" not in srv.read_log() and time.time() - t < 20:
                time.sleep(0.05)
            self.assertIn('mailbox=%d reason="the server does not advertise IDLE"' % mb["id"],
                          srv.read_log())
            self.assertIn(b"LOGOUT", fake.seen())
            self.assertNotIn(b"IDLE", fake.seen())
            # Polling goes on: the creation's poll read the folder's state.
            t = time.time()
            while time.time() - t < 20:
                st, _, got = adm.get("/api/v1/mailboxes/%d" % mb["id"])
                self.assertEqual(st, 200, got)
                if got["last_poll_at"]:
                    break
                time.sleep(0.1)
            self.assertEqual(got["uidvalidity"], 7, got)
            self.assertEqual(got["push"], "unsupported", got)
            self.assertIsNone(got["last_error"], got)
        finally:
            srv.stop()
            fake.stop()


class NoIdleImap:
    """An IMAP server speaking just enough for curl's login and a CAPABILITY without IDLE."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.log = b""
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def seen(self):
        with self.lock:
            return self.log

    def serve(self):
        import threading
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        c.sendall(b"* OK fake IMAP ready\r\n")
        f = c.makefile("rb")
        try:
            for line in f:
                with self.lock:
                    self.log += line
                parts = line.decode().strip().split(" ", 2)
                if len(parts) < 2:
                    continue
                tag, cmd = parts[0], parts[1].upper()
                if cmd == "CAPABILITY":
                    c.sendall(b"* CAPABILITY IMAP4rev1\r\n%s OK done\r\n" % tag.encode())
                elif cmd == "LOGOUT":
                    c.sendall(b"* BYE bye\r\n%s OK done\r\n" % tag.encode())
                    break
                elif cmd == "STATUS":
                    c.sendall(b"* STATUS INBOX (UIDVALIDITY 7 UIDNEXT 1)\r\n%s OK done\r\n"
                              % tag.encode())
                else:
                    c.sendall(b"%s OK done\r\n" % tag.encode())
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.done = True
        self.sock.close()


if __name__ == "__main__":
    unittest.main()
