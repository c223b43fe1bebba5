"""Hostile command payloads (issue 10, items 5d, 5e, 5f and 6b):
- a v5 request without a user property claiming "user": "alice" in its payload does not
  acknowledge a P1 fire: on a v5 session the user property is the only identity;
- {"for": 9223372036854775807} and other durations too long are refused as out_of_range
  (the sanitizer build stops on the overflow this used to be);
- an empty payload on cmd/<verb> is an empty request (the sanitizer build stopped on a
  NULL memcpy);
- an id carrying a newline or an ANSI sequence cannot forge or paint a log line: the log
  shows it escaped."""

from alerts_util import Checks, Operator, Publisher, events
from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-hostile"
ROOT = "hallwatch/v1/%s/" % SITE
FIRE = "facp1.zone-3.fire"
FAULT = "facp1.zone-2.fault"
FORGED = "2026-12-03T00:00:00.000Z INFO  alerts: command ack on facp1.zone-3.fire by alice"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "4"])
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp) + 'alerts = { operators = [ "alice" ]; shelve_max_s = 86400; };\n')
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    sim.set(1, "input", 103, 1)  # zone 3 fire: P1
    sim.set(1, "input", 102, 2)  # zone 2 fault: P3
    watch.wait_json(ROOT + "alert/" + FIRE, lambda j: j["state"] == "unack", 5, "the P1 alert")
    watch.wait_json(ROOT + "alert/" + FAULT, lambda j: j["state"] == "unack", 5, "the P3 alert")
    op = Operator(broker.port, ROOT)
    pub = Publisher(broker.port)
    chk = Checks()

    # 5d: the payload's user is no identity on a v5 session
    r = op.send("ack", {"id": FIRE, "user": "alice"})
    chk.expect(r.get("ok") is False and r.get("error") == "not_authorized",
               "a payload user acknowledged the P1 fire: %r" % r)
    r = op.send("ack", {"id": FIRE, "user": "alice"}, user="mallory")
    chk.expect(r.get("ok") is False and r.get("error") == "not_authorized",
               "a payload user overrode the user property: %r" % r)
    chk.expect((watch.json(ROOT + "alert/" + FIRE) or {}).get("state") == "unack",
               "the P1 fire was acknowledged by a payload user")

    # 5e: durations are checked
    for v, err in [(9223372036854775807, "out_of_range"), (9223372036854776, "out_of_range"),
                   (86401, "out_of_range"), ("9999999999999999999999d", "out_of_range"),
                   ("2d", "out_of_range"), (-1, "invalid"), ("nan", "invalid"),
                   ("1e300", "invalid")]:
        r = op.send("shelve", {"id": FAULT, "for": v, "reason": "contractor"}, user="alice")
        chk.expect(r.get("ok") is False and r.get("error") == err,
                   "shelve for %r: %r (wanted %s)" % (v, r, err))
    r = op.send("shelve", {"id": FAULT, "for": 3600, "reason": "contractor"}, user="alice")
    chk.expect(r.get("ok") is True and r["alert"]["state"] == "shelved",
               "a good shelve: %r" % r)

    # 5f: an empty payload is an empty request
    pub.publish(ROOT + "cmd/list", b"", user="alice", response_topic=op.reply_topic,
                corr=b"empty-list")
    pub.publish(ROOT + "cmd/ack", b"", user="alice", response_topic=op.reply_topic,
                corr=b"empty-ack")
    r = wait_until(lambda: op.replies.get(b"empty-ack"), 10, "the reply to an empty ack")
    chk.expect(r.get("ok") is False and r.get("error") == "unknown_alert", "empty ack %r" % r)
    r = op.replies.get(b"empty-list") or {}
    chk.expect(r.get("ok") is True and len(r.get("alerts", [])) == 2, "empty list %r" % r)

    # 6b: control characters from a peer are escaped in the log (the broker refuses them
    # in topics and properties, but a JSON string may hold anything)
    r = op.send("ack", {"id": "x\n" + FORGED}, user="mallory")
    chk.expect(r.get("error") == "not_authorized", "forged id's reply %r" % r)
    r = op.send("ack", {"id": FAULT + "\r\x1b[2J\x1b[31m"}, user="alice")
    chk.expect(r.get("error") == "unknown_alert", "ANSI request %r" % r)
    log = gw.proc.stderr_text()
    lines = log.split("\n")
    chk.expect(not any(l.startswith(FORGED) for l in lines),
               "a forged log line:\n%s" % log[-1500:])
    chk.expect(any(("on x\\n" + FORGED + " from mallory") in l for l in lines),
               "the escaped id is not in the log")
    chk.expect("\x1b" not in log and "\r" not in log, "an escape character reached the log")
    chk.expect(any((FAULT + "\\r\\x1b[2J\\x1b[31m from alice") in l for l in lines),
               "the escaped ANSI request is not in the log")
    # the events still carry the request as sent (JSON escapes it)
    try:  # events go through the outbox and may trail the reply
        wait_until(lambda: any(e.get("id") == "x\n" + FORGED for e in events(watch, ROOT)), 5,
                   "the refused command's event")
        kept = True
    except TestFailure:
        kept = False
    chk.expect(kept, "the refused command's event lost its id")

    pub.close()
    op.close()
    watch.close()
    rc = gw.stop()
    chk.expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    chk.done()


if __name__ == "__main__":
    run(main)
