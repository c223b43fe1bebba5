"""End-to-end fire alarm latency: simulator flip -> alert/<id> and events at a subscriber.
100 fire panels polled over Modbus TCP (one simulator, unit ids 1..100, one bus per 10
panels), FLIPS zone fire bits raised one after another on different panels, each a new
P1 alert, at a random phase against the poll schedule. Prints p50/p99/max of both paths.

    HW_SRC=$PWD HW_BUILD=$PWD/build-alerts /usr/bin/python3 bench/alerts_latency.py [FLIPS] [INTERVAL_MS]

INTERVAL_MS is the devices' interval_ms; the alarm words are read at the profile's `alarm`
group interval (100 ms in facp-generic) whatever it is.
"""

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Env, Gateway, Mosquitto, Sim, Watch, gateway_config, wait_until  # noqa: E402

SITE = "hall-bench"
ROOT = "hallwatch/v1/%s/" % SITE
N_DEV = 100
PER_BUS = 10


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    flips = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    interval = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with Env("alerts-bench") as env:
        broker = Mosquitto(env)
        sim = Sim(env, facp=range(1, N_DEV + 1), elc=(), extra=["--zones", "8"])
        watch = Watch(broker.port)
        buses = [("b%d" % b, sim.port, 300) for b in range(N_DEV // PER_BUS)]
        devs = [{"id": "facp%d" % u, "bus": "b%d" % ((u - 1) // PER_BUS), "unit": u,
                 "profile": "facp-generic", "interval_ms": interval, "life_check_s": 0}
                for u in range(1, N_DEV + 1)]
        gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, buses=buses, devices=devs,
                                         state_dir=env.tmp, heartbeat=0),
                     log_level="warn")
        for u in range(1, N_DEV + 1):
            watch.wait_json(ROOT + "device/facp%d/state" % u, lambda j: j["online"], 30,
                            "facp%d online" % u)
        lat_alert, lat_event = [], []
        for i in range(flips):
            unit = 1 + (i * 37) % N_DEV
            zone = (i // N_DEV) % 8
            aid = "facp%d.zone-%d.fire" % (unit, zone)
            topic = ROOT + "alert/" + aid
            # a random phase against the poll schedule (not a synchronisation)
            time.sleep(random.uniform(0, interval / 1000.0))
            t0 = time.monotonic()
            sim.set(unit, "input", 100 + zone, 1)

            def arrived():
                ta = te = None
                with watch.lock:
                    for t, tp, pl, _ in reversed(watch.msgs):
                        if t < t0:
                            break
                        if tp == topic and ta is None:
                            ta = t
                        elif tp == ROOT + "events" and te is None:
                            e = json.loads(pl.decode())
                            if e.get("id") == aid and e["event"] == "raised":
                                te = t
                return (ta, te) if ta and te else None
            ta, te = wait_until(arrived, 10, "alert %s" % aid, interval=0.001)
            lat_alert.append((ta - t0) * 1000)
            lat_event.append((te - t0) * 1000)
        for name, v in (("alert/<id>", lat_alert), ("events", lat_event)):
            print("%-10s n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms"
                  % (name, len(v), pct(v, 50), pct(v, 99), max(v)))
        watch.close()
        gw.stop()


if __name__ == "__main__":
    main()
