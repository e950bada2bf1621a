"""The AMI client inside `smile serve` against tests/api/ami_peer.py (a stand-in for
Asterisk's Manager Interface): login, events arrive as ledger events, a connection dropped
in the middle of a packet is re-established with back-off, nothing doubles, the same facts
imported from queue_log afterwards are duplicates, a refused login is reported in /readyz
and /metrics."""
import json
import os
import time
import unittest

from ami_peer import DROP_HALF, AmiPeer
from harness import Server

U = "1717391993.1042"


def ev(name, ts, **fields):
    items = [("Event", name), ("Privilege", "agent,all")]
    if ts is not None:
        items.append(("Timestamp", ts))
    items += [("Channel", "PJSIP/trunk-00000012"), ("Uniqueid", U)]
    items += list(fields.items())
    return items


JOIN = ev("QueueCallerJoin", "1717392000.120455", CallerIDNum="13812345678",
          CallerIDName="Chen Jie", Queue="support", Position="1", Count="1")
CALLED_8001 = ev("AgentCalled", "1717392000.200000", DestChannel="PJSIP/8001-00000013",
                 DestUniqueid="1717392000.1043", Queue="support", MemberName="PJSIP/8001",
                 Interface="PJSIP/8001")
RNA_8001 = ev("AgentRingNoAnswer", "1717392015.210000", DestChannel="PJSIP/8001-00000013",
              Queue="support", MemberName="PJSIP/8001", Interface="PJSIP/8001", RingTime="15000")
CALLED_8002 = ev("AgentCalled", "1717392020.004812", DestChannel="PJSIP/8002-00000015",
                 DestUniqueid="1717392020.1047", Queue="support", MemberName="PJSIP/8002",
                 Interface="PJSIP/8002")
CONNECT = ev("AgentConnect", "1717392027.338120", DestChannel="PJSIP/8002-00000015",
             DestUniqueid="1717392020.1047", Queue="support", MemberName="PJSIP/8002",
             Interface="PJSIP/8002", RingTime="7", HoldTime="27")
COMPLETE = ev("AgentComplete", None, Queue="support", MemberName="PJSIP/8002",
              Interface="PJSIP/8002", HoldTime="27", TalkTime="188", Reason="caller")
HANGUP = ev("Hangup", None, Cause="16", **{"Cause-txt": "Normal Clearing"})
NEWSTATE = [("Event", "Newstate"), ("Privilege", "call,all"), ("Channel", "PJSIP/8101-00000021"),
            ("ChannelState", "5"), ("ChannelStateDesc", "Ringing"), ("Uniqueid", "1717393500.1103")]

QUEUE_LOG = [
    "1717392000|1717391993.1042|support|NONE|ENTERQUEUE||13812345678|1",
    "1717392015|1717391993.1042|support|PJSIP/8001|RINGNOANSWER|15000",
    "1717392027|1717391993.1042|support|PJSIP/8002|CONNECT|27|1717392020.1047|7",
    "1717392215|1717391993.1042|support|PJSIP/8002|COMPLETECALLER|27|188|1",
]


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


class TestAmiClient(unittest.TestCase):
    def start(self, peer, secret="s3cret"):
        self.peer = peer.start()
        self.srv = Server(extra_args=["--ami-host", "127.0.0.1", "--ami-port", str(peer.port),
                                      "--ami-user", "crmreader", "--ami-secret", secret])

    def tearDown(self):
        self.srv.stop()
        self.peer.stop()

    def events(self):
        # The PBX's events only: the scheduler may append sla.* events (source 'smile') for
        # the hotline's standards at any moment, since these 2024 calls are long overdue.
        return self.srv.sql("select type, occurred_at, actor, customer, source, source_id, data "
                            "from events where source <> 'smile' order by id")

    def test_events_reconnect_and_no_doubles(self):
        # Connection 1: join, 8001 rings, then the socket drops in the middle of the
        # AgentRingNoAnswer packet. Connection 2 carries on with the rest of the call.
        self.start(AmiPeer([[JOIN, NEWSTATE, CALLED_8001, DROP_HALF, RNA_8001],
                            [CALLED_8002, CONNECT, COMPLETE, HANGUP]]))
        self.assertTrue(wait_for(lambda: len(self.events()) >= 5))
        time.sleep(0.5)
        evs = self.events()
        self.assertEqual([e["type"] for e in evs],
                         ["call.offered", "call.ringing", "call.ringing", "call.answered",
                          "call.ended"])
        # Timestamp header → ms of the AMI event: 1717392000.120455 → 1717392000120.
        self.assertEqual(evs[0]["occurred_at"], 1717392000120)
        self.assertEqual(evs[0]["customer"], "13812345678")
        self.assertEqual(evs[1]["source_id"], U + "|ringing|support|PJSIP/8001|1")
        self.assertEqual(evs[2]["occurred_at"], 1717392020004)
        self.assertEqual(json.loads(evs[3]["data"])["holdtime_s"], 27)
        self.assertEqual(json.loads(evs[4]["data"])["talk_s"], 188)
        self.assertEqual(self.peer.connections, 2)
        self.assertEqual(self.peer.logins[0]["Events"], "call,agent")
        self.assertEqual(self.peer.logins[0]["Username"], "crmreader")
        # The reconnect waited for the back-off: 1 s drawn in [0.5, 1] s.
        gap = self.peer.connect_times[1] - self.peer.connect_times[0]
        self.assertGreaterEqual(gap, 0.45)
        st, _, body = self.srv.client().get("/readyz")
        self.assertEqual(body["ami"]["state"], "connected")
        self.assertEqual(body["ami"]["connects"], 2)
        self.assertEqual(body["ami"]["disconnects"], 1)
        self.assertIn("closed", body["ami"]["last_error"])
        self.assertEqual(body["ami"]["events_created"], 5)
        self.assertEqual(body["ami"]["events_duplicate"], 0)
        st, _, text = self.srv.client().get("/metrics")
        self.assertIn("smile_ami_connected 1", text)
        self.assertIn("smile_ami_connects_total 2", text)
        # The same call from queue_log: every fact AMI delivered is a duplicate.
        path = os.path.join(self.srv.dir, "queue_log")
        with open(path, "w") as f:
            f.write("\n".join(QUEUE_LOG) + "\n")
        r = json.loads(self.srv.cli("import", "queue-log", path, "--json").stdout)
        # ... and the one fact the dropped AgentRingNoAnswer carried, the end of the ring at
        # 8001 (call.ring_ended at the RINGNOANSWER line's 1717392015), is filled in.
        self.assertEqual(r["events_created"], 1)
        self.assertEqual(r["duplicates"], 5)
        evs = self.events()
        self.assertEqual(len(evs), 6)
        self.assertEqual((evs[5]["type"], evs[5]["occurred_at"], evs[5]["source_id"]),
                         ("call.ring_ended", 1717392015000,
                          U + "|ring_ended|support|PJSIP/8001|1"))

    def test_no_timestamp_uses_receipt_time(self):
        join = [kv for kv in JOIN if kv[0] != "Timestamp"]
        self.start(AmiPeer([[join]]))
        t0 = int(time.time() * 1000)
        self.assertTrue(wait_for(lambda: len(self.events()) == 1))
        at = self.events()[0]["occurred_at"]
        self.assertGreaterEqual(at, t0 - 5000)
        self.assertLessEqual(at, int(time.time() * 1000))

    def test_login_refused_backs_off(self):
        self.start(AmiPeer([[JOIN]]), secret="wrong")
        self.assertTrue(wait_for(lambda: self.peer.connections >= 2, timeout=10))
        st, _, body = self.srv.client().get("/readyz")
        self.assertEqual(st, 200)  # the PBX link is reported, not a readiness condition
        self.assertNotEqual(body["ami"]["state"], "connected")
        self.assertIn("Authentication failed", body["ami"]["last_error"])
        self.assertEqual(self.events(), [])
        # Back-off doubles: gaps ≥ 0.5 s, then ≥ 1 s (delay 2 s drawn in [1, 2]).
        self.assertTrue(wait_for(lambda: self.peer.connections >= 3, timeout=10))
        t = self.peer.connect_times
        self.assertGreaterEqual(t[1] - t[0], 0.45)
        self.assertGreaterEqual(t[2] - t[1], 0.95)


if __name__ == "__main__":
    unittest.main()
