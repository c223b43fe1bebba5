"""Delivery through a 60 s outage of both the broker and InfluxDB, with the gateway
SIGKILLed and restarted in the middle of it (docs/delivery.md).

While both are down the devices keep changing, a fault (P3) and then a fire alarm (P1)
are raised. After the restart of both:
- the first message the persistent subscriber gets from the gateway (status aside) is
  the fire alarm's event, although the fault's event is older;
- the subscriber (persistent session, QoS 1) has every event sequence number the
  gateway ever wrote, none missing;
- InfluxDB holds every `gateway` point of both runs (beats 1..N per run), none missing
  and none twice, including the ones written during the outage."""

import signal
import time

from delivery_util import (PersistentMosquitto, Subscriber, check_beats, delivery, drained,
                           panel_and_controller, stop_sampling, wall_ms)
from harness import (CRITICAL, Gateway, Influxd, Sim, TestFailure, gateway_config, run,
                     wait_until)
import sqlite3
import os

SITE = "hall-outage"
ROOT = "hallwatch/v1/%s/" % SITE
OUTAGE_S = 60


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = PersistentMosquitto(env)
    influx = Influxd(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8"])
    sub = Subscriber(broker.port, ROOT, "hw-dlv-sub-%d" % os.getpid())
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url=influx.url, heartbeat=1,
        buses=[("tcp0", sim.port, 300)],
        devices=panel_and_controller(),
        extra_mqtt="reconnect_min_ms = 200; reconnect_max_ms = 2000;",
        extra_influx="retry_min_ms = 200; retry_max_ms = 2000; batch_size = 200;",
        state_dir=env.tmp)
    gw = Gateway(env, cfg)
    wait_until(lambda: (sub.latest("device/facp1/state") or {}).get("online"), 15,
               "facp1 online")
    wait_until(lambda: drained(sub) and delivery(sub)["lineproto"]["sent"] > 0, 15,
               "the first points written")

    # Both peers go away.
    broker.stop()
    influx.stop()
    t_down = time.monotonic()
    deadline = t_down + OUTAGE_S
    state = {"v": 2300, "fault": False, "fire": False, "killed": False}

    def step():
        el = time.monotonic() - t_down
        state["v"] = 2300 + int(el) % 7
        sim.set(1, "input", 6, state["v"])  # mains voltage changes: device_point lines
        if el > 5 and not state["fault"]:
            sim.set(1, "input", 0, 2)  # panel fault: a P3 alert, older than the fire
            state["fault"] = True
        if el > 10 and not state["fire"]:
            sim.set(1, "input", 103, 1)  # fire in zone 3: P1
            state["fire"] = True
        if el > 20 and not state["killed"]:
            gw.stop(signal.SIGKILL)
            gw.start()
            state["killed"] = True
        if not gw.proc.alive():
            raise TestFailure("the gateway died during the outage:\n" + gw.proc.stderr_text()[-2000:])
    stop_sampling(deadline, step, "the outage")
    expect(state["killed"] and state["fire"], "the outage script did not run through")

    # Back: the broker keeps the subscriber's session, InfluxDB its data.
    t_up = time.monotonic()
    broker.start()
    influx.start()
    first = wait_until(lambda: next(((tp, p) for tp, p in sub.after(t_up)
                                     if not tp.endswith("/status")), None),
                       30, "the first message after the outage")
    ev = None
    if first[0] == ROOT + "events":
        import json
        ev = json.loads(first[1].decode())
    expect(ev is not None and ev.get("event") == "raised" and ev.get("priority") == 1,
           "the first message after the outage is %s %r, not the fire alarm's event"
           % (first[0], first[1][:200]))
    # The panel fault's event is older (lower seq) but comes after the fire alarm's.
    wait_until(lambda: [e for e in sub.events(t_up) if e.get("priority") == 3 and
                        e["seq"] < ev["seq"]], 20, "the older P3 event after the fire alarm")

    t = wall_ms()
    wait_until(lambda: drained(sub, since_ms=t + 1000), 60, "both outboxes drained")
    d = delivery(sub)
    gw.stop()
    expect(gw.proc.p.returncode == 0, "gateway exit code %s" % gw.proc.p.returncode)

    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"))
    last_seq = db.execute("SELECT MAX(seq) FROM alert_event").fetchone()[0]
    db.close()
    seqs = {e["seq"] for e in sub.events()}
    missing = sorted(set(range(1, last_seq + 1)) - seqs)
    expect(last_seq >= 2 and not missing, "events missing at the subscriber: %r (last %s)"
           % (missing, last_seq))

    runs = check_beats(influx)
    expect(len(runs) == 2, "expected points of 2 runs (before and after SIGKILL), got %d"
           % len(runs))
    n_points = sum(len(b) for b in runs.values())
    expect(n_points >= OUTAGE_S, "only %d gateway points over a %d s outage" % (n_points, OUTAGE_S))
    sub.close()
    print("outage: %d events (last seq %d), %d gateway points in %d runs, lineproto sent %d "
          "retried %d, mqtt reconnects %d" % (len(seqs), last_seq, n_points, len(runs),
                                              d["lineproto"]["sent"], d["lineproto"]["retried"],
                                              d["mqtt"]["reconnects"]))


if __name__ == "__main__":
    run(main)
