"""Shutdown under a backlog: `smile serve` stops promptly on SIGTERM after ~30,000 events.

30,000 call.offered events, back-dated by a day, are posted in batches of 1,000. Each starts
the hotline's answer step, whose standard (rings) is long past, so the runtime has 30,000
subjects to fold, the scheduler 30,000 due deadlines to fire and the escalation runner the
sla events they append: several minutes of background work on this machine. SIGTERM right
after the last acknowledged POST must end the process within a few seconds with exit 0
(the runtime folds for at most a second more, the scheduler and the escalation runner stop
between batches and events), and every acknowledged event must be in the ledger. After a
restart the server resumes the backlog from its cursors: the runtime folds the rest and the
scheduler goes on firing, which the test sees as instances and sla events still growing.
"""
import signal
import subprocess
import time
import unittest

from harness import Server

N_BATCHES = 30
BATCH = 1000
# "A few seconds": ~1.5 s inside the process (the runtime's last second of folding the
# most), plus the ASan build's exit-time leak scan, on a loaded 2-core machine.
STOP_WITHIN_S = 10.0


class TestShutdown(unittest.TestCase):
    def test_sigterm_after_30000_events_exits_promptly_and_loses_nothing(self):
        srv = Server()
        try:
            srv.add_user("ada", "admin")
            c = srv.client(srv.token("ada", "events:read,events:write"))
            acked = 0
            for b in range(N_BATCHES):
                evs = [{"type": "call.offered", "occurred_at": "2026-11-28T09:00:00Z",
                        "subject": "call:stop-%d-%d" % (b, i), "source": "stoptest",
                        "source_id": "%d-%d" % (b, i), "data": {"queue": "sales"}}
                       for i in range(BATCH)]
                st, _, res = c.post("/api/v1/events", {"events": evs}, timeout=120)
                self.assertEqual(st, 201, res)
                self.assertEqual(res["created"], BATCH)
                acked += BATCH
            proc = srv.proc
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
            took = time.monotonic() - t0
            srv.proc = None
            srv.log.close()
            print("\nSIGTERM to exit: %.2f s" % took)
            self.assertEqual(rc, 0, srv.read_log()[-3000:])
            self.assertLess(took, STOP_WITHIN_S,
                            "stopping took %.1f s: %s" % (took, srv.read_log()[-3000:]))
            # Nothing acknowledged is lost.
            n = srv.sql("select count(*) as n from events where source = 'stoptest'")[0]["n"]
            self.assertEqual(n, acked)
            folded = srv.sql("select count(*) as n from instances")[0]["n"]
            cursor = srv.sql("select coalesce(max(last_event_id), 0) as c from runtime_cursor")
            last = srv.sql("select max(id) as m from events")[0]["m"]
            # The runtime's cursor never passes an event whose subject it did not fold.
            self.assertLessEqual(cursor[0]["c"], last)
            # Restart: the backlog is picked up where it was left.
            srv.start()
            deadline = time.time() + 60
            while time.time() < deadline:
                now = srv.sql("select count(*) as n from instances")[0]["n"]
                if now > folded or now >= acked:
                    break
                time.sleep(0.5)
            self.assertTrue(now > folded or now >= acked, (folded, now))
        finally:
            if srv.proc is not None:
                srv.stop()

    def test_pending_escalation_query_reads_only_its_index(self):
        # The escalation runner's look for new sla.* / case.assigned events (the SQL of
        # pending_run in src/notify/escalate.c, kept in step here). It must walk the partial
        # index events_escalate over the ids after the cursor: neither the (source,
        # source_id) index with a sort (every sla and crm event ever written, the cause of
        # the >30 s shutdown) nor a scan of the table.
        srv = Server()
        try:
            plan = subprocess.run(
                ["sqlite3", srv.db,
                 "EXPLAIN QUERY PLAN SELECT id, type, subject, data, actor FROM events"
                 " WHERE type IN ('sla.warning', 'sla.breached', 'case.assigned') AND id > 5"
                 " AND id <= 10 AND source = CASE type WHEN 'case.assigned' THEN 'crm'"
                 " ELSE 'smile' END ORDER BY id LIMIT 64"],
                capture_output=True, text=True, check=True).stdout
            steps = [ln.lstrip("`|- ") for ln in plan.splitlines()[1:]]
            self.assertEqual(steps, ["SEARCH events USING INDEX events_escalate (id>? AND id<?)"],
                             plan)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
