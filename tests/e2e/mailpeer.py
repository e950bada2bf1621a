"""mailpeer.py — real mail servers for the browser tests and the demo screenshots: starts
a private Dovecot IMAP server and an aiosmtpd receiver (tests/api/mailservers.py, Debian
dovecot-imapd and python3-aiosmtpd) on 127.0.0.1 and is driven by its parent (the node
runner) over stdin/stdout, one JSON object per line:

    → {"imap_port": n, "smtp_port": n, "users": {"service": "…", "help": "…"}}  (at start)
    ← {"cmd": "append", "user": "help", "raw": "<RFC 5322 text>", "when": <epoch s>} → {"ok": true}
    ← {"cmd": "refuse", "on": true|false}   the SMTP side refuses every recipient (550)
    ← {"cmd": "messages"}                   → {"ok": true, "messages": [{from, rcpt, data}]}

It stops both servers when stdin closes (the parent exited or is done) and after at most
SMILE_MAILPEER_SECONDS (default 1800), so it can never outlive a test run for long.
"""
import datetime
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from mailservers import Dovecot, SmtpSink  # noqa: E402

# Two IMAP users, so that two mailboxes of one test run read separate folders.
USERS = {"service": "imap-secret", "help": "help-secret"}


def main():
    imap = Dovecot(users=USERS)
    smtp = SmtpSink()
    done = threading.Event()

    def watchdog():
        if not done.wait(float(os.environ.get("SMILE_MAILPEER_SECONDS", "1800"))):
            imap.stop()
            smtp.stop()
            os._exit(2)

    threading.Thread(target=watchdog, daemon=True).start()
    out = sys.stdout
    out.write(json.dumps({"imap_port": imap.port, "smtp_port": smtp.port, "users": USERS}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                cmd = req.get("cmd")
                if cmd == "append":
                    when = datetime.datetime.fromtimestamp(req.get("when") or 0,
                                                           datetime.timezone.utc) \
                        if req.get("when") else None
                    imap.append(req.get("user", "service"), req["raw"].encode("utf-8"), when=when)
                    res = {"ok": True}
                elif cmd == "refuse":
                    smtp.refuse = bool(req.get("on"))
                    res = {"ok": True}
                elif cmd == "messages":
                    with smtp.lock:
                        msgs = [{"from": m["from"], "rcpt": m["rcpt"],
                                 "data": m["data"].decode("utf-8", "replace")}
                                for m in smtp.messages]
                    res = {"ok": True, "messages": msgs}
                else:
                    res = {"ok": False, "error": "unknown command %r" % cmd}
            except Exception as e:  # report, keep serving
                res = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            out.write(json.dumps(res) + "\n")
            out.flush()
    finally:
        done.set()
        imap.stop()
        smtp.stop()


if __name__ == "__main__":
    main()
