"""mailservers.py — real mail servers for tests, started on 127.0.0.1 in a temporary
directory and stopped by the test: a Dovecot IMAP server (Debian dovecot-imapd, its own
configuration, run in the foreground as the current user, plaintext login on a free port,
Maildir storage) and an in-process SMTP receiver (Debian python3-aiosmtpd) that keeps every
message it accepted. Reusable by any test that needs mail.

    imap = Dovecot(users={"service": "secret"})      # .port, .stop()
    imap.append("service", raw_bytes, when=datetime)  # IMAP APPEND with INTERNALDATE
    smtp = SmtpSink()                                # .port, .messages, .stop(), .refuse = True
"""
import datetime
import getpass
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import aiosmtpd.controller  # noqa: F401
except ImportError:  # Debian's package under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    """A private Dovecot: passwd-file users, maildir under the temp dir, no TLS."""

    def __init__(self, users=None):
        self.users = dict(users or {"service": "secret"})
        self.dir = tempfile.mkdtemp(prefix="smile-dovecot-")
        self.port = free_port()
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        login_user, uid, gid = user, os.getuid(), os.getgid()
        if os.getuid() == 0:  # Dovecot refuses root for logins and mail: Debian's own users
            user, group, login_user = "dovecot", "dovecot", "dovenull"
            uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
        os.chmod(self.dir, 0o755)  # Dovecot's auth process reads the passwd file
        for d in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(self.dir, d))
        for d in ("mail", "home"):
            os.chown(os.path.join(self.dir, d), uid, gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for name, pw in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (name, pw))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
""".format(d=self.dir, user=user, group=group, login_user=login_user, uid=uid, gid=gid,
           port=self.port))
        self.errlog = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen(["dovecot", "-c", self.conf, "-F"],
                                     stdout=subprocess.DEVNULL, stderr=self.errlog)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited: " + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not listen: " + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def url(self, folder="INBOX"):
        return "imap://127.0.0.1:%d/%s" % (self.port, folder)

    def imap(self, user):
        for attempt in range(50):  # auth may still be starting
            c = imaplib.IMAP4("127.0.0.1", self.port)
            try:
                c.login(user, self.users[user])
                return c
            except imaplib.IMAP4.error as e:
                c.shutdown()
                if b"UNAVAILABLE" not in str(e).encode() and "UNAVAILABLE" not in str(e):
                    raise
                time.sleep(0.1)
        raise AssertionError("dovecot auth not ready: " + self.log())

    def append(self, user, raw, when=None, folder="INBOX"):
        """IMAP APPEND raw (bytes) with INTERNALDATE when (an aware datetime; default now)."""
        c = self.imap(user)
        try:
            date = imaplib.Time2Internaldate(when or datetime.datetime.now(datetime.timezone.utc))
            typ, data = c.append(folder, None, date, raw)
            assert typ == "OK", data
        finally:
            c.logout()

    def uidvalidity(self, user, folder="INBOX"):
        c = self.imap(user)
        try:
            typ, data = c.status(folder, "(UIDVALIDITY)")
            return int(data[0].split(b"UIDVALIDITY ")[1].rstrip(b")"))
        finally:
            c.logout()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.errlog.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.sink.refuse:
            return "550 5.7.1 refused by the test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.messages.append({
                "from": envelope.mail_from,
                "rcpt": list(envelope.rcpt_tos),
                "data": envelope.original_content or envelope.content,
                "at": time.time(),
            })
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server that accepts everything (or refuses every recipient when
    .refuse is True) and keeps the messages in .messages."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        self.refuse = False
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port
