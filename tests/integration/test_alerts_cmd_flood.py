"""A flood of oversized refused commands cannot grow the audit trail (issue 10, item 6a).
100 cmd/ack requests from mallory, each carrying a 1 MiB id, are refused as too_large;
only the first 10 are recorded as events (without the id), the rest are counted and
summarised in one commands_unrecorded event and one log line, and the database stays
within a bound. A field over its bound inside a small payload is refused and named. An
operator's accepted command during the flood is recorded as always."""

import json
import os
import sqlite3

from alerts_util import Checks, Operator, Publisher, events, wait_delivered
from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-flood"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-2.fault"
N = 100
GROWTH_MAX = 1 << 20  # bytes the database files may grow by over the whole flood


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def db_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
               if f.startswith("hallwatch.db"))


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "4"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=state) + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    sim.set(1, "input", 102, 2)  # zone 2 fault: a P3 alert
    watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "unack", 5, "the P3 alert")
    op = Operator(broker.port, ROOT)
    pub = Publisher(broker.port)
    chk = Checks()
    wait_delivered(state)
    before = db_size(state)

    big = json.dumps({"id": "x" * (1 << 20)})
    for i in range(N):
        pub.publish(ROOT + "cmd/ack", big, user="mallory", response_topic=op.reply_topic,
                    corr=b"big-%d" % i)
        if i == N // 2:  # an operator in the middle of it
            r = op.send("ack", {"id": AID}, user="alice", timeout=60)
            chk.expect(r.get("ok") is True, "alice's ack during the flood: %r" % r)
    wait_until(lambda: op.replies.get(b"big-%d" % (N - 1)), 60, "the reply to the last one")
    r = op.replies[b"big-0"]
    chk.expect(r.get("ok") is False and r.get("error") == "too_large" and
               r.get("too_large") == "payload", "reply to a 1 MiB request: %r" % r)

    # a field over its bound in a small payload
    r = op.send("shelve", {"id": AID, "for": "1h", "reason": "r" * 200}, user="alice")
    chk.expect(r.get("error") == "too_large" and r.get("too_large") == "reason",
               "a 200-byte reason: %r" % r)
    r = op.send("ack", {"id": AID, "request_id": "q" * 129}, user="alice")
    chk.expect(r.get("error") == "too_large" and r.get("too_large") == "request_id",
               "a 129-byte request_id: %r" % r)

    wait_delivered(state, timeout=60)
    grown = db_size(state) - before
    chk.expect(grown < GROWTH_MAX, "the database grew by %d bytes" % grown)
    def from_mallory():
        return [e for e in events(watch, ROOT)
                if e.get("event") == "command" and e.get("by") == "mallory"]
    try:  # delivered to the broker; the subscriber may get them a moment later
        wait_until(lambda: len(from_mallory()) >= 10, 5, "mallory's refusals in events")
    except TestFailure:
        pass
    evs = events(watch, ROOT)
    mine = from_mallory()
    chk.expect(len(mine) == 10 and all(e.get("error") == "too_large" and
                                       e.get("too_large") == "payload" and e.get("id") is None
                                       for e in mine),
               "%d recorded refusals from mallory: %r" % (len(mine), mine[:2]))
    with watch.lock:
        longest = max(len(m[2]) for m in watch.msgs if m[1] == ROOT + "events")
    chk.expect(longest < 4096, "an event of %d bytes" % longest)
    chk.expect(any(e.get("event") == "acked" and e.get("by") == "alice" for e in evs) and
               any(e.get("event") == "command" and e.get("by") == "alice" and
                   e.get("verb") == "ack" and e.get("result") == "accepted" for e in evs),
               "alice's accepted ack is not recorded")
    log = gw.proc.stderr_text()
    chk.expect(log.count("from mallory refused:") == 10 and
               "more than 10 requests cmd/ack from mallory" in log,
               "the refusals in the log:\n%s" % log[-2000:])

    # the window ends with the gateway: one summary of what was counted
    op.close()
    pub.close()
    rc = gw.stop()
    chk.expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    chk.expect("%d more request(s) cmd/ack from mallory" % (N - 10) in gw.proc.stderr_text(),
               "no summary line in the log")
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "hallwatch.db"), uri=True)
    sums = [json.loads(j) for (j,) in db.execute(
        "SELECT json FROM alert_event WHERE json LIKE '%commands_unrecorded%'")]
    db.close()
    chk.expect(len(sums) == 1 and sums[0].get("count") == N - 10 and
               sums[0].get("by") == "mallory" and sums[0].get("verb") == "ack",
               "summary events %r" % sums)
    watch.close()
    chk.done()


if __name__ == "__main__":
    run(main)
