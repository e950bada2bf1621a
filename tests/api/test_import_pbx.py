"""`smile import queue-log` and `smile agent map|list|unmap` against a real database:
report figures, re-import changes nothing, malformed lines with their numbers, dry run,
agent mapping, and --follow through rotation, truncation and a restart."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import BIN, Server

EXAMPLE1 = [
    "1717392000|1717391993.1042|support|NONE|ENTERQUEUE||13812345678|1",
    "1717392015|1717391993.1042|support|PJSIP/8001|RINGNOANSWER|15000",
    "1717392027|1717391993.1042|support|PJSIP/8002|CONNECT|27|1717392020.1047|7",
    "1717392215|1717391993.1042|support|PJSIP/8002|COMPLETECALLER|27|188|1",
]
EXAMPLE2 = [
    "1717393500|1717393488.1101|sales|NONE|ENTERQUEUE||13900001111|2",
    "1717393520|1717393488.1101|sales|Zhang Wei|RINGNOANSWER|20000",
    "1717393531|1717393488.1101|sales|Wang Fang|RINGCANCELED|6240",
    "1717393531|1717393488.1101|sales|NONE|ABANDON|1|2|31",
]


def write(path, lines, mode="w"):
    with open(path, mode) as f:
        for l in lines:
            f.write(l + "\n")


def wait_for(fn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


class TestImportQueueLog(unittest.TestCase):
    def setUp(self):
        self.srv = Server(start=False)
        self.srv.cli("init")
        self.path = os.path.join(self.srv.dir, "queue_log")

    def imp(self, *extra, check=True):
        p = self.srv.cli("import", "queue-log", self.path, "--json", *extra, check=check)
        return json.loads(p.stdout) if p.returncode == 0 else p

    def count(self, where="1=1"):
        return self.srv.sql("select count(*) as n from events where " + where)[0]["n"]

    def test_running_server_measures_imported_calls(self):
        # The import is another process: the server hears of its events by looking for
        # event ids beyond the newest it saw (once a second when idle), then measures them.
        self.srv.start()
        try:
            self.srv.add_user("sup", "supervisor")
            c = self.srv.client(token=self.srv.token("sup", "kpi:read"))
            write(self.path, EXAMPLE1 + EXAMPLE2)
            self.imp()

            def answer_steps():
                st, _, body = c.get("/api/v1/measurements?step=answer&limit=50")
                self.assertEqual(st, 200, body)
                got = {m["subject"]: m for m in body["items"]}
                return got if len(got) == 2 else None

            got = wait_for(answer_steps, timeout=20)
            self.assertIsNotNone(got, "no measurements of the imported calls")
            # Example 1: ENTERQUEUE 1717392000 → CONNECT 1717392027: waited 27 s; 3 rings in
            # China = 15 s → breached, 27,000 ms elapsed against a 15,000 ms target.
            m1 = got["call:1717391993.1042"]
            self.assertEqual((m1["result"], m1["elapsed_ms"], m1["target_ms"]),
                             ("breached", 27000, 15000))
            # Example 2: abandoned after 31 s (> 15 s standard) → breached, not a short abandon.
            self.assertEqual(got["call:1717393488.1101"]["result"], "breached")
        finally:
            self.srv.stop()

    def test_import_and_reimport_changes_nothing(self):
        write(self.path, EXAMPLE1 + EXAMPLE2 + ["1717393600|NONE|NONE|NONE|QUEUESTART|",
                                                "1717393601|x|q|a|MYSURVEY|5|of 5"])
        r = self.imp()
        # Example 1: offered, ringing 8001, its ring_ended, ringing 8002, answered, ended = 6.
        # Example 2: offered, ringing + ring_ended Zhang Wei, ringing + ring_ended Wang Fang,
        # abandoned = 6.
        self.assertEqual(r["lines"], 10)
        self.assertEqual(r["events_created"], 12)
        self.assertEqual(r["duplicates"], 0)
        self.assertEqual(r["ignored"], 1)
        self.assertEqual(r["unknown"], 1)
        self.assertEqual(r["malformed"], 0)
        self.assertEqual(self.count(), 12)
        rows = self.srv.sql("select type, occurred_at, customer, source from events "
                            "where subject = 'call:1717391993.1042' order by occurred_at, id")
        self.assertEqual([x["type"] for x in rows],
                         ["call.offered", "call.ringing", "call.ring_ended", "call.ringing",
                          "call.answered", "call.ended"])
        self.assertEqual(rows[0]["occurred_at"], 1717392000000)
        self.assertEqual(rows[0]["customer"], "13812345678")
        self.assertEqual(rows[2]["occurred_at"], 1717392015000)  # the RINGNOANSWER line
        self.assertEqual(rows[3]["occurred_at"], 1717392020000)  # 1717392027 − 7 s
        self.assertEqual({x["source"] for x in rows}, {"asterisk"})
        before = self.srv.sql("select * from events order by id")
        r2 = self.imp()
        self.assertEqual(r2["events_created"], 0)
        self.assertEqual(r2["duplicates"], 12)
        self.assertEqual(self.srv.sql("select * from events order by id"), before)

    def test_malformed_lines_are_reported_with_numbers(self):
        lines = list(EXAMPLE1)
        lines.insert(1, "not a queue_log line")             # line 2
        lines.insert(3, "1717392016|c|q|a|CONNECT|x|1.2|3")  # line 4
        lines.append("")                                     # line 7, blank: skipped
        lines.append("17173920xx|c|q|a|PAUSE|")              # line 8
        write(self.path, lines)
        r = self.imp()
        self.assertEqual(r["malformed"], 3)
        self.assertEqual([b["line"] for b in r["malformed_lines"]], [2, 4, 8])
        self.assertIn("too few columns", r["malformed_lines"][0]["reason"])
        self.assertIn("holdtime is not a number", r["malformed_lines"][1]["reason"])
        self.assertIn("bad epoch", r["malformed_lines"][2]["reason"])
        self.assertEqual(r["events_created"], 6)  # the good lines still count
        # Text report: only the first 20 listed.
        write(self.path, ["bad %d" % i for i in range(25)])
        p = self.srv.cli("import", "queue-log", self.path)
        self.assertIn("malformed lines:  25", p.stdout)
        self.assertIn("  line 1: too few columns", p.stdout)
        self.assertIn("  line 20:", p.stdout)
        self.assertNotIn("  line 21:", p.stdout)
        self.assertIn("and 5 more", p.stdout)

    def test_out_of_range_and_rejected(self):
        # A time before 2000 is reported as malformed; a caller number longer than the
        # ledger allows (128) makes its event rejected, and the rest still goes in.
        write(self.path, ["100|c|q|NONE|ENTERQUEUE||1|1",
                          "1717392000|c2|q|NONE|ENTERQUEUE||%s|1" % ("9" * 200)] + EXAMPLE1)
        r = self.imp()
        self.assertEqual(r["malformed"], 1)
        self.assertEqual(r["malformed_lines"][0], {"line": 1,
                                                   "reason": "time outside the years 2000-2100"})
        self.assertEqual(r["rejected"], 1)
        self.assertEqual(r["events_created"], 6)
        p = self.srv.cli("import", "queue-log", self.path)
        self.assertIn("rejected events:  1 (first: c2|offered|q|1: /customer", p.stdout)
        p = self.srv.cli("import", "queue-log", self.path, "--source", "Bad Name", check=False)
        self.assertEqual(p.returncode, 2)

    def test_ring_at_agent_with_agent_map(self):
        # The bug this guards: ring_at_agent repeats per call.ringing's data.agent and is done
        # by call.answered per actor. With an agent map, data.agent must be the mapped username
        # (the raw name moves to data.member) or the answering agent's ring is never "met".
        self.srv.cli("agent", "map", "PJSIP/8002", "lisi")
        self.srv.start()
        try:
            self.srv.add_user("sup", "supervisor")
            c = self.srv.client(token=self.srv.token("sup", "kpi:read"))
            write(self.path, EXAMPLE1)
            self.imp()

            def rings():
                st, _, body = c.get("/api/v1/measurements?step=ring_at_agent&limit=50")
                self.assertEqual(st, 200, body)
                done = [m for m in body["items"] if m["result"] not in ("running", "pending")]
                return body["items"] if len(done) == 2 else None

            got = wait_for(rings, timeout=20)
            self.assertIsNotNone(got, "no ring_at_agent measurements of the imported call")
            by = {m["charged_actor"]: m for m in got}
            # PJSIP/8002 = lisi rang from CONNECT 1717392027 − ringtime 7 = 1717392020 until
            # she answered at 1717392027: 7,000 ms ≤ 3 rings × 5 s = 15,000 ms → met, hers.
            self.assertEqual((by["lisi"]["result"], by["lisi"]["elapsed_ms"],
                              by["lisi"]["target_ms"]), ("met", 7000, 15000))
            # PJSIP/8001 (unmapped) rang from 1717392015 − 15 s = 1717392000 until the
            # RINGNOANSWER at 1717392015 (call.ring_ended): 15,000 ms, the whole 3 rings used
            # up unanswered → breached (not 27,000 ms to the answer elsewhere), charged to the
            # raw member name (no staff to charge: map it).
            self.assertEqual((by["PJSIP/8001"]["result"], by["PJSIP/8001"]["elapsed_ms"]),
                             ("breached", 15000))
            ev = self.srv.sql("select actor, data from events where type = 'call.ringing' "
                              "and actor = 'lisi'")[0]
            data = json.loads(ev["data"])
            self.assertEqual((data["agent"], data["member"]), ("lisi", "PJSIP/8002"))
        finally:
            self.srv.stop()

    def test_dry_run_writes_nothing(self):
        write(self.path, EXAMPLE1)
        r = self.imp("--dry-run")
        self.assertTrue(r["dry_run"])
        self.assertEqual(r["events_mapped"], 4)
        self.assertEqual(self.count(), 0)
        self.assertEqual(self.srv.sql("select count(*) as n from intake_cursor")[0]["n"], 0)

    def test_agent_map(self):
        self.srv.cli("agent", "map", "PJSIP/8002", "lisi")
        self.srv.cli("agent", "map", "Zhang Wei", "zhangwei")
        self.srv.cli("agent", "map", "PJSIP/8002", "lisi2")  # replaces
        lst = json.loads(self.srv.cli("agent", "list", "--json").stdout)
        self.assertEqual(lst, [{"source": "asterisk", "agent": "PJSIP/8002", "username": "lisi2"},
                               {"source": "asterisk", "agent": "Zhang Wei",
                                "username": "zhangwei"}])
        self.assertIn("Zhang Wei", self.srv.cli("agent", "list").stdout)
        write(self.path, EXAMPLE1 + EXAMPLE2)
        r = self.imp()
        # Counted per event: each unmapped member's ring and the ring's end.
        self.assertEqual(r["unmapped_agents"], {"PJSIP/8001": 2, "Wang Fang": 2})
        rows = self.srv.sql("select type, actor from events where actor is not null "
                            "order by occurred_at")
        self.assertEqual([(x["type"], x["actor"]) for x in rows],
                         [("call.ringing", "lisi2"), ("call.answered", "lisi2"),
                          ("call.ended", "lisi2"), ("call.ringing", "zhangwei"),
                          ("call.ring_ended", "zhangwei")])
        # Unmapped agents keep their raw name in data.agent, actor null.
        row = self.srv.sql("select actor, data from events where type = 'call.ringing' and "
                           "subject = 'call:1717391993.1042' order by occurred_at limit 1")[0]
        self.assertIsNone(row["actor"])
        self.assertEqual(json.loads(row["data"])["agent"], "PJSIP/8001")
        self.srv.cli("agent", "unmap", "Zhang Wei")
        p = self.srv.cli("agent", "unmap", "Zhang Wei", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no mapping", p.stderr)
        # Another source has its own map.
        self.srv.cli("agent", "map", "PJSIP/8001", "wangwu", "--source", "pbx2")
        lst = json.loads(self.srv.cli("agent", "list", "--json", "--source", "pbx2").stdout)
        self.assertEqual(lst, [{"source": "pbx2", "agent": "PJSIP/8001", "username": "wangwu"}])
        p = self.srv.cli("agent", "map", "PJSIP/8001", check=False)
        self.assertEqual(p.returncode, 2)

    def test_source_option(self):
        write(self.path, EXAMPLE1)
        self.imp("--source", "pbx-bj")
        self.assertEqual(self.count("source = 'pbx-bj'"), 6)
        # Same lines from another PBX name are other facts.
        r = self.imp()
        self.assertEqual(r["events_created"], 6)

    def test_missing_file_and_usage(self):
        p = self.srv.cli("import", "queue-log", "/nonexistent/queue_log", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open", p.stderr)
        p = self.srv.cli("import", "nothing", check=False)
        self.assertEqual(p.returncode, 2)

    def follow(self):
        return subprocess.Popen([BIN, "import", "queue-log", self.path, "--follow", "--json",
                                 "--db", self.srv.db], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def stop_follow(self, p):
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, err)
        return json.loads(out)

    def test_follow_rotation_truncation_restart(self):
        write(self.path, EXAMPLE1[:2])
        p = self.follow()
        try:
            # offered, ringing 8001 and its ring_ended
            self.assertEqual(wait_for(lambda: self.count() == 3), True)
            # The file grows, including a line written in two pieces.
            with open(self.path, "a") as f:
                f.write(EXAMPLE1[2][:20])
                f.flush()
                time.sleep(0.5)
                f.write(EXAMPLE1[2][20:] + "\n")
            self.assertTrue(wait_for(lambda: self.count() == 5))  # + ringing 8002 + answered
            # Rotation: the logger writes one more line to the old file, then a new one.
            os.rename(self.path, self.path + ".1")
            write(self.path + ".1", [EXAMPLE1[3]], "a")
            time.sleep(0.3)
            write(self.path, EXAMPLE2[:2])
            # + ended, offered, ringing + ring_ended Zhang Wei
            self.assertTrue(wait_for(lambda: self.count() == 9))
            # Truncation in place (copytruncate), then new lines.
            time.sleep(0.3)
            open(self.path, "w").close()
            time.sleep(0.5)
            write(self.path, EXAMPLE2[2:], "a")
            # + ringing + ring_ended Wang Fang, abandoned
            self.assertTrue(wait_for(lambda: self.count() == 12))
        finally:
            r = self.stop_follow(p)
        self.assertEqual(r["malformed"], 0)
        self.assertEqual(r["events_created"], 12)
        cur = self.srv.sql("select * from intake_cursor")
        self.assertEqual(len(cur), 1)
        self.assertEqual(cur[0]["inode"], os.stat(self.path).st_ino)
        self.assertEqual(cur[0]["offset"], os.path.getsize(self.path))
        # Restart: resumes at the stored offset, reads only what was added meanwhile.
        write(self.path, ["1717393600|NONE|support|PJSIP/8001|PAUSE|lunch"], "a")
        p = self.follow()
        try:
            self.assertTrue(wait_for(lambda: self.count() == 13))
            time.sleep(0.5)
        finally:
            r = self.stop_follow(p)
        self.assertEqual(r["lines"], 1)
        self.assertEqual(r["events_created"], 1)
        self.assertEqual(r["duplicates"], 0)
        self.assertEqual(self.count(), 13)

    def test_follow_killed_midway_neither_loses_nor_doubles(self):
        # A generated log, --follow killed with SIGKILL while importing, then resumed:
        # the result must equal a one-shot import of the same file into a fresh database.
        gen = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "bench", "gen_queue_log.py")
        subprocess.run(["python3", gen, self.path, "8000", "7"], check=True,
                       capture_output=True)
        p = self.follow()
        try:
            self.assertTrue(wait_for(lambda: self.count() >= 1, timeout=60))
        finally:
            p.kill()
            p.communicate(timeout=20)
        partial = self.count()
        p = self.follow()
        try:
            # Done when the cursor reaches the end of the file.
            self.assertTrue(wait_for(lambda: self.srv.sql(
                'select "offset" as o from intake_cursor')[0]["o"] == os.path.getsize(self.path),
                timeout=120))
        finally:
            r = self.stop_follow(p)
        self.assertEqual(r["duplicates"], 0)
        ref = Server(start=False)
        ref.cli("init")
        ref.cli("import", "queue-log", self.path)
        want = [x["source_id"] for x in ref.sql("select source_id from events order by source_id")]
        got = [x["source_id"] for x in self.srv.sql(
            "select source_id from events order by source_id")]
        self.assertGreater(len(want), partial)
        self.assertEqual(got, want)

    def test_follow_restart_keeps_ring_counters(self):
        # A member rung twice for one call, with a restart between the two rings: the
        # second ring must stay attempt 2 (the importer replays what it read before).
        write(self.path, ["1000000000|c9|q|NONE|ENTERQUEUE||1|1",
                          "1000000015|c9|q|A|RINGNOANSWER|15000"])
        p = self.follow()
        try:
            self.assertTrue(wait_for(lambda: self.count() == 3))  # offered, ringing, ring_ended
        finally:
            self.stop_follow(p)
        write(self.path, ["1000000035|c9|q|A|RINGNOANSWER|15000"], "a")
        p = self.follow()
        try:
            self.assertTrue(wait_for(lambda: self.count() == 5))
        finally:
            self.stop_follow(p)
        ids = [x["source_id"] for x in self.srv.sql(
            "select source_id from events where type = 'call.ringing' order by id")]
        self.assertEqual(ids, ["c9|ringing|q|A|1", "c9|ringing|q|A|2"])


if __name__ == "__main__":
    unittest.main()
