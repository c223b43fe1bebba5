"""A fire point behind a stuck change counter still arrives within fire_refresh_ms.

facp-generic reads its `detail` group (the manual call point, a fire point, and the zone
table) only when the `data_change` counter moves, or every refresh_ms (60 s). Two panels
whose counter is stuck (the simulator's `stuck`): facp1 with the default fire_refresh_ms
(5 s), facp2 with fire_refresh_ms = 2000. A manual call point pressed on each must show in
the published state as true within its fire_refresh_ms (plus one request and the publish),
three times in a row; the counter must really not have moved. check-config refuses a
fire_refresh_ms outside 100..10000 with FILE:LINE."""

import os
import subprocess
import time

from harness import (HALLWATCH, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-firerefresh"
ROOT = "hallwatch/v1/%s/" % SITE
MCP = 0  # discrete input 0: manual_call_point
DATA_CHANGE = 2
LIMITS = {"facp1": 5.0, "facp2": 2.0}
SLACK_S = 0.7  # one request, the hand-over to the main loop and MQTT on loopback
ROUNDS = 3


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def mcp(watch, dev):
    j = watch.json(topic(dev))
    if not j or "manual_call_point" not in j["points"]:
        return None
    p = j["points"]["manual_call_point"]
    return p["v"] if p["q"] == "good" else None


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1, 2), elc=(), extra=["--tick-ms", "100"])
    watch = Watch(broker.port)
    devices = [{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic"},
               {"id": "facp2", "bus": "tcp0", "unit": 2, "profile": "facp-generic",
                "fire_refresh_ms": 2000}]
    cfg = gateway_config(SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 500, 1)],
                         devices=devices, state_dir=env.tmp)

    # The setting is validated: out of range is a FILE:LINE error.
    bad = os.path.join(env.tmp, "bad.cfg")
    with open(bad, "w") as f:
        f.write(cfg.replace("fire_refresh_ms = 2000;", "fire_refresh_ms = 20000;"))
    r = subprocess.run([HALLWATCH, "check-config", "-c", bad], capture_output=True, text=True,
                       timeout=10)
    expect(r.returncode == 1 and bad + ":" in r.stderr and "fire_refresh_ms" in r.stderr,
           "fire_refresh_ms = 20000 not refused with FILE:LINE: %d %r" % (r.returncode, r.stderr))

    Gateway(env, cfg)
    for dev in LIMITS:
        watch.wait_json(topic(dev), lambda j: j["online"] and mcp(watch, dev) is False, 10,
                        "%s online, manual call point read" % dev)
    for u in (1, 2):
        sim.command("stuck %d" % u)
    counters = {u: sim.get(u, "input", DATA_CHANGE) for u in (1, 2)}

    for r in range(ROUNDS):
        want = r % 2 == 0  # pressed, released, pressed
        t0 = time.monotonic()
        for u in (1, 2):
            sim.set(u, "discrete", MCP, 1 if want else 0)
        took = {}
        for dev, limit in sorted(LIMITS.items(), key=lambda kv: kv[1]):
            wait_until(lambda: mcp(watch, dev) is want, limit + SLACK_S + 60,
                       "%s manual_call_point %s" % (dev, want))
            took[dev] = time.monotonic() - t0
        for dev, limit in LIMITS.items():
            expect(took[dev] <= limit + SLACK_S, "round %d: %s manual_call_point %s after %.2f s, "
                   "limit %.1f s" % (r, dev, want, took[dev], limit))
        for u in (1, 2):
            expect(sim.get(u, "input", DATA_CHANGE) == counters[u],
                   "unit %d: data_change moved although stuck" % u)
        print("round %d: manual_call_point %s seen after %s" % (r, want, ", ".join(
            "%s %.2f s (limit %.1f)" % (d, took[d], LIMITS[d]) for d in sorted(took))))
    watch.close()


if __name__ == "__main__":
    run(main)
