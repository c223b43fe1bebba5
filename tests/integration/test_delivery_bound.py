"""The outbox bound (docs/delivery.md):
- line protocol: with InfluxDB down, a 2000-line outbox overflows; once InfluxDB is
  back, the `gateway` points it holds are the newest ones (beats k..N, k > 1: the oldest
  measurements went first), and the dropped count is published on `status` and in the
  `gateway` measurement;
- MQTT: with the broker down, a 10-message outbox receives more alert records than it
  holds; alert events are never dropped (the subscriber gets every sequence number),
  retained alert state is (and is republished on reconnect), and the dropped count is
  published on `status`."""

import os
import sqlite3

from delivery_util import (PersistentMosquitto, Subscriber, delivery, drained,
                           panel_and_controller, wall_ms)
from harness import Gateway, Influxd, Sim, TestFailure, gateway_config, run, wait_until

SITE = "hall-bound"
ROOT = "hallwatch/v1/%s/" % SITE


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = PersistentMosquitto(env)
    influx = Influxd(env)
    influx.stop()  # down from the start: nothing is written before the overflow
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8"])
    sub = Subscriber(broker.port, ROOT, "hw-bound-sub-%d" % os.getpid())
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url=influx.url, heartbeat=1,
        buses=[("tcp0", sim.port, 300)],
        devices=panel_and_controller(),
        extra_mqtt="reconnect_min_ms = 200; reconnect_max_ms = 1000; outbox_max = 10;",
        extra_influx="retry_min_ms = 200; retry_max_ms = 1000; outbox_max = 2000;",
        state_dir=env.tmp)
    gw = Gateway(env, cfg)

    # Line protocol overflows while InfluxDB is down.
    d = wait_until(lambda: (lambda x: x if x and x["lineproto"]["dropped"] > 1000 else None)(
        delivery(sub)), 30, "line protocol drops published on status")
    expect(d["lineproto"]["depth"] <= 2000, "outbox beyond its bound: %r" % d["lineproto"])
    influx.start()
    t = wall_ms()
    wait_until(lambda: influx.rows("SELECT beat FROM gateway") and
               drained(sub, ("lineproto",), t + 1000), 30, "the line-protocol outbox drained")
    beats = sorted(int(r["beat"]) for r in influx.rows("SELECT beat FROM gateway"))
    expect(beats and beats[0] > 1, "the oldest gateway points were not dropped: %r" % beats[:5])
    expect(beats == list(range(beats[0], beats[-1] + 1)),
           "the points kept are not the newest contiguous run: %r" % beats)
    dropped = influx.rows("SELECT MAX(lp_outbox_dropped) FROM gateway")
    expect(dropped and dropped[0]["max"] > 0, "lp_outbox_dropped not in the gateway measurement")

    # MQTT: alert events beyond the bound are kept.
    broker.stop()
    for z in range(1, 9):
        sim.set(1, "input", 100 + z, 1)
    wait_until(lambda: "mqtt outbox is full" in gw.proc.stderr_text(), 15,
               "the MQTT outbox over its bound")
    broker.start()
    t = wall_ms()
    dm = wait_until(lambda: (lambda x: x if x and x["t"] > t and x["mqtt"]["dropped"] > 0 and
                             x["mqtt"]["depth"] == 0 else None)(delivery(sub)), 30,
               "MQTT drops published on status, outbox drained")
    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"))
    last_seq = db.execute("SELECT MAX(seq) FROM alert_event").fetchone()[0]
    db.close()
    seqs = {e["seq"] for e in sub.events()}
    missing = sorted(set(range(1, last_seq + 1)) - seqs)
    expect(last_seq >= 7 and not missing, "alert events dropped: missing %r of %d"
           % (missing, last_seq))
    ids = {e["id"] for e in sub.events() if e.get("event") == "raised"}
    for aid in ids:
        wait_until(lambda: (sub.latest("alert/" + aid) or {}).get("active"), 10,
                   "alert/%s republished" % aid)
    gw.stop()
    sub.close()
    print("bound: lineproto dropped %d, kept beats %d..%d; mqtt dropped %d, %d events kept"
          % (d["lineproto"]["dropped"], beats[0], beats[-1], dm["mqtt"]["dropped"],
             last_seq))


if __name__ == "__main__":
    run(main)
