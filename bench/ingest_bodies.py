"""ingest_bodies.py — the request bodies the ingest benchmarks post, shared by ingest.py and
cpu_per_request.py so both measure the same traffic.

A batch is what an import of a PBX log sends: 250 calls of four events each (offered,
ringing at an agent, answered, ended), each call its own subject. Every request names new
subjects: the wrk script replaces the "@" in each subject with a per-thread prefix and a
request counter (string.gsub in C, ~0.1 ms a request), so the runtime folds 250 fresh calls
per request, as it would for a real import, and not the same subjects growing without end.
Each request is also the next day of the log (from 2025-01-01, "#D#" in the times), as an
import moves forward in time: until the fifth session every batch re-posted the same morning
of 2026-11-27, so its 1,000 events went into the time index between those of every earlier
batch, where the ceiling (bench_ingest) appends in time order.
Single events are what a PBX reports live: each connection posts its calls' four events
(offered, ringing, answered, ended) one per request, dated now, so three of every four
requests re-fold a subject that already has a measurement.
"""

LUA_COMMON = r'''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  prefix = string.format("%s-%d-", os.time(), tid)
  counter = 0
end
'''

LUA_SINGLE = LUA_COMMON + r'''
local types = {"call.offered", "call.ringing", "call.answered", "call.ended"}
request = function()
  local call = math.floor(counter / 4)
  local phase = counter % 4 + 1
  counter = counter + 1
  local actor = phase == 1 and "" or ',"actor":"bench"'
  -- A call's requests may leave on different connections and be stored out of order; the
  -- milliseconds keep its events in order by occurred_at all the same.
  local body = string.format('{"type":"%s","occurred_at":"%s.%03dZ","subject":"call:%s%d"%s,'
    .. '"source":"bench","source_id":"s%s%d","data":{"queue":"sales","agent":"bench"}}',
    types[phase], os.date("!%Y-%m-%dT%H:%M:%S"), phase * 100, prefix, call, actor, prefix,
    counter)
  return wrk.format(nil, nil, nil, body)
end
'''


def call_events(i):
    """The four events of call i of a batch, on the request's day ("#D#", see LUA_BATCH)."""
    def at(sec):  # call i is offered i seconds after 09:00
        m, s = divmod(i + sec, 60)
        return "#D#T%02d:%02d:%02d.%03dZ" % (9 + m // 60, m % 60, s, i % 1000)
    sub = '"subject":"call:@-%d"' % i
    return [
        '{"type":"call.offered","occurred_at":"%s",%s,"data":{"queue":"sales"}}' % (at(0), sub),
        '{"type":"call.ringing","occurred_at":"%s",%s,"actor":"bench","data":{"queue":"sales",'
        '"agent":"bench"}}' % (at(1), sub),
        '{"type":"call.answered","occurred_at":"%s",%s,"actor":"bench","data":{"queue":"sales"}}'
        % (at(8), sub),
        '{"type":"call.ended","occurred_at":"%s",%s,"actor":"bench","data":{"queue":"sales"}}'
        % (at(50), sub),
    ]


BATCH_TEMPLATE = '{"events":[' + ",".join(e for i in range(250) for e in call_events(i)) + ']}'

LUA_BATCH = LUA_COMMON + '''
local tmpl = [==[%s]==]
-- 2025-01-01T00:00:00Z; each request is the next day of a PBX log (one wrk thread posts the
-- batches), so consecutive batches move forward in time as an import of a log does.
local day0 = 1735689600
request = function()
  counter = counter + 1
  local body = string.gsub(tmpl, "@", prefix .. counter)
  body = string.gsub(body, "#D#", os.date("!%%Y-%%m-%%d", day0 + 86400 * counter))
  return wrk.format(nil, nil, nil, body)
end
''' % BATCH_TEMPLATE
