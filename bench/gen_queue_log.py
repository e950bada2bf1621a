#!/usr/bin/env python3
"""gen_queue_log.py — writes a realistic Asterisk queue_log for bench_queue_log.

Usage: bench/gen_queue_log.py FILE [LINES] [SEED]   (default 1,000,000 lines, seed 1)

Mix (per call, interleaved over time like a real contact centre with 40 agents in 4
queues): ENTERQUEUE; 0–3 RINGNOANSWER (ms); then 80 % CONNECT (1.6+ form) followed by
COMPLETECALLER/COMPLETEAGENT, 3 % of them BLINDTRANSFER or ATTENDEDTRANSFER instead; 20 %
ABANDON / EXITWITHTIMEOUT / EXITEMPTY / RINGCANCELED+ABANDON. Agents log in, pause and
unpause now and then (ADDMEMBER, PAUSE, UNPAUSE, PAUSEALL), and a QUEUESTART and a custom
event appear rarely. Deterministic for a seed.
"""
import random
import sys


def main():
    path = sys.argv[1]
    want = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    queues = ["support", "sales", "billing", "vip"]
    agents = ["PJSIP/%d" % (8000 + i) for i in range(30)] + \
        ["Zhang Wei", "Wang Fang", "Li Na", "Liu Yang", "Chen Jie", "Yang Li", "Zhao Lei",
         "Huang Min", "Zhou Jing", "Wu Hao"]
    t = 1717372800
    seq = 1000
    n = 0
    pending = []  # (time, line) of calls in progress, flushed in time order
    with open(path, "w") as f:
        f.write("%d|NONE|NONE|NONE|QUEUESTART|\n" % t)
        n += 1
        while n < want:
            t += rnd.randint(0, 3)
            # Agent activity.
            if rnd.random() < 0.05:
                a = rnd.choice(agents)
                q = rnd.choice(queues)
                kind = rnd.random()
                if kind < 0.3:
                    pending.append((t, "%d|MANAGER|%s|%s|ADDMEMBER|" % (t, q, a)))
                elif kind < 0.6:
                    pending.append((t, "%d|NONE|NONE|%s|PAUSEALL|lunch" % (t, a)))
                    pending.append((t, "%d|NONE|%s|%s|PAUSE|lunch" % (t, q, a)))
                    pending.append((t + 600, "%d|NONE|%s|%s|UNPAUSE|" % (t + 600, q, a)))
                else:
                    pending.append((t, "%d|NONE|%s|%s|PAUSE|toilet|break" % (t, q, a)))
                    pending.append((t + 120, "%d|NONE|%s|%s|UNPAUSE|" % (t + 120, q, a)))
            if rnd.random() < 0.001:
                pending.append((t, "%d|NONE|NONE|NONE|SURVEY|score|5" % t))
            # One call.
            seq += 1
            cid = "%d.%d" % (t - rnd.randint(1, 10), seq)
            q = rnd.choice(queues)
            num = "13%09d" % rnd.randint(0, 999999999)
            pos = rnd.randint(1, 5)
            c = t
            pending.append((c, "%d|%s|%s|NONE|ENTERQUEUE||%s|%d" % (c, cid, q, num, pos)))
            for _ in range(rnd.choice([0, 0, 0, 1, 1, 2, 3])):
                ms = rnd.choice([15000, 15000, 20000, rnd.randint(300, 15000)])
                c += ms // 1000 + 5
                pending.append((c, "%d|%s|%s|%s|RINGNOANSWER|%d" % (c, cid, q, rnd.choice(agents),
                                                                    ms)))
            r = rnd.random()
            if r < 0.8:
                a = rnd.choice(agents)
                ring = rnd.randint(1, 14)
                c += ring
                hold = c - t
                pending.append((c, "%d|%s|%s|%s|CONNECT|%d|%d.%d|%d" % (c, cid, q, a, hold, c,
                                                                         seq + 7, ring)))
                talk = rnd.randint(20, 900)
                c += talk
                x = rnd.random()
                if x < 0.02:
                    pending.append((c, "%d|%s|%s|%s|BLINDTRANSFER|200|from-internal|%d|%d|%d" % (
                        c, cid, q, a, hold, talk, pos)))
                elif x < 0.03:
                    pending.append((c, "%d|%s|%s|%s|ATTENDEDTRANSFER|BRIDGE|b-%d|%d|%d|%d" % (
                        c, cid, q, a, seq, hold, talk, pos)))
                else:
                    ev = "COMPLETECALLER" if x < 0.6 else "COMPLETEAGENT"
                    pending.append((c, "%d|%s|%s|%s|%s|%d|%d|%d" % (c, cid, q, a, ev, hold, talk,
                                                                   pos)))
            else:
                c += rnd.randint(1, 120)
                kind = rnd.random()
                if kind < 0.6:
                    if rnd.random() < 0.3:
                        pending.append((c, "%d|%s|%s|%s|RINGCANCELED|%d" % (
                            c, cid, q, rnd.choice(agents), rnd.randint(100, 14000))))
                    pending.append((c, "%d|%s|%s|NONE|ABANDON|1|%d|%d" % (c, cid, q, pos, c - t)))
                elif kind < 0.9:
                    pending.append((c, "%d|%s|%s|NONE|EXITWITHTIMEOUT|1|%d|%d" % (c, cid, q, pos,
                                                                                 c - t)))
                else:
                    pending.append((c, "%d|%s|%s|NONE|EXITEMPTY|1|%d|%d" % (c, cid, q, pos,
                                                                           c - t)))
            # Write out everything that happened up to now (the log is in time order).
            if len(pending) > 2000:
                pending.sort(key=lambda x: x[0])
                keep = []
                for at, line in pending:
                    if at <= t and n < want:
                        f.write(line + "\n")
                        n += 1
                    else:
                        keep.append((at, line))
                pending = keep
        pending.sort(key=lambda x: x[0])
    print("wrote %d lines to %s" % (n, path))


if __name__ == "__main__":
    main()
