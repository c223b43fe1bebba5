"""Alerts end to end: a fire bit in the simulator -> P1 alert on alert/<id> and events ->
ack over MQTT v5 (response topic + correlation data) -> clear -> closed, retained message
removed. The gateway is SIGKILLed and restarted between every step: the alert JSON is the
same afterwards and the event sequence has no gap and no repeat. A command from an
identity not allowed is refused and logged."""

import signal

from alerts_util import Operator, check_sequence, count, events, wait_delivered
from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-alerts"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-3.fire"
ATOPIC = ROOT + "alert/" + AID


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    watch = Watch(broker.port)
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp) + 'alerts = { operators = [ "alice" ]; };\n'
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    op = Operator(broker.port, ROOT)

    def restart():
        """SIGKILL once everything is delivered, start again, and wait until the new
        process has evaluated fresh poll data (its first device state message)."""
        wait_delivered(env.tmp)
        n_state = count(watch, ROOT + "device/facp1/state")
        gw.stop(signal.SIGKILL)
        watch.wait_json(ROOT + "status", lambda j: j["state"] == "offline", 10, "the Last Will")
        gw.start()
        wait_until(lambda: count(watch, ROOT + "device/facp1/state") > n_state, 10,
                   "device state from the restarted gateway")

    # 1. fire in zone 3
    sim.set(1, "input", 103, 1)
    alert = watch.wait_json(ATOPIC, lambda j: j["state"] == "unack", 5, "the P1 alert")
    expect(alert["priority"] == 1 and alert["active"] and alert["condition"] == "fire",
           "alert %r" % alert)
    wait_until(lambda: any(e["event"] == "raised" and e.get("id") == AID
                           for e in events(watch, ROOT)), 5, "the raised event")

    n_alert = count(watch, ATOPIC)
    restart()
    wait_until(lambda: count(watch, ATOPIC) > n_alert, 5, "alert republished after restart")
    expect(watch.json(ATOPIC) == alert, "alert changed across SIGKILL:\n%r\n%r"
           % (alert, watch.json(ATOPIC)))
    n_ev = len(events(watch, ROOT))

    # 2. an identity that is not allowed
    r = op.send("ack", {"id": AID}, user="mallory")
    expect(r["ok"] is False and r["error"] == "not_authorized", "mallory's reply %r" % r)
    r = op.send("ack", {"id": AID})
    expect(r["ok"] is False and r["error"] == "not_authorized", "anonymous reply %r" % r)
    ev = wait_until(lambda: [e for e in events(watch, ROOT)[n_ev:] if e["event"] == "command"
                             and e["by"] == "mallory"], 5, "the refused command in events")
    expect(ev[0]["result"] == "refused" and ev[0]["error"] == "not_authorized", "event %r" % ev)
    expect(watch.json(ATOPIC)["state"] == "unack", "a refused ack changed the alert")

    # 3. ack by an operator, shelving a P1 refused
    r = op.send("shelve", {"id": AID, "for": "1h", "reason": "test"}, user="alice")
    expect(r["ok"] is False and r["error"] == "not_allowed", "shelve P1 reply %r" % r)
    r = op.send("ack", {"id": AID, "request_id": "r1"}, user="alice")
    expect(r["ok"] is True and r["alert"]["state"] == "acked" and r["request_id"] == "r1",
           "ack reply %r" % r)
    acked = watch.wait_json(ATOPIC, lambda j: j["state"] == "acked", 5, "acked alert")
    expect(acked["acked"]["by"] == "alice", "acked by %r" % acked["acked"])
    r = op.send("ack", {"id": AID}, user="alice")
    expect(r["ok"] is False and r["error"] == "no_change", "second ack reply %r" % r)

    n_alert = count(watch, ATOPIC)
    restart()
    wait_until(lambda: count(watch, ATOPIC) > n_alert, 5, "alert republished after restart")
    expect(watch.json(ATOPIC) == acked, "acked alert changed across SIGKILL:\n%r\n%r"
           % (acked, watch.json(ATOPIC)))

    # 4. the fire clears: closed, retained message removed
    sim.set(1, "input", 103, 0)
    wait_until(lambda: watch.latest.get(ATOPIC) == b"", 5, "the retained alert removed")
    wait_until(lambda: any(e["event"] == "cleared" and e.get("id") == AID and
                           e["state"] == "normal" for e in events(watch, ROOT)), 5,
               "the cleared event")
    restart()
    r = op.send("list", {}, user="alice")
    expect(r["ok"] and r["alerts"] == [], "alerts after close: %r" % r)

    # A fresh subscriber sees no retained alert.
    fresh = Watch(broker.port, topic=ROOT + "alert/#")
    r = op.send("list", {})  # a round trip: retained messages arrive before this reply
    expect(fresh.json(ATOPIC) is None, "retained alert still there")
    fresh.close()

    evs = events(watch, ROOT)
    check_sequence(evs)
    # (cmd/list is audited too: its records are left out here)
    kinds = [(e["event"], e.get("result")) for e in evs if e.get("verb") != "list"]
    expect(kinds == [("raised", None), ("command", "refused"), ("command", "refused"),
                     ("command", "refused"), ("acked", None), ("command", "accepted"),
                     ("command", "refused"), ("cleared", None)], "events %r" % kinds)
    op.close()
    watch.close()
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
