"""A shared line where one device dies: the others keep their schedule, measured.

Three fire panels (units 1, 2, 3) on one TCP bus, polled every INTERVAL_MS with a response
timeout shorter than the interval (only the profile's alarm group is polled during the
measurement; health.polls counts group polls). Unit 3 goes silent. Over a window that starts at that
moment the two live panels must complete at least 80 % of the polls their interval implies
(counted from health.polls), without errors; the dead one goes offline (comm_lost) within a
bound and is backed off: its requests grow at most half as fast as its interval would imply."""

import json
import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-dead"
ROOT = "hallwatch/v1/%s/" % SITE
INTERVAL_MS = 250
TIMEOUT_MS = 100
OFFLINE_AFTER = 2
BACKOFF_MAX_MS = 2000
WINDOW_S = 8.0
LIVE = ("facp1", "facp2")
DEAD = "facp3"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def health_at(watch, dev, t):
    """health of the last state of dev received at or before monotonic time t."""
    with watch.lock:
        msgs = [m for m in watch.msgs if m[1] == topic(dev) and m[0] <= t and m[2]]
    if not msgs:
        raise TestFailure("no state of %s before t=%.2f" % (dev, t))
    return json.loads(msgs[-1][2].decode())["health"]


def main(env):
    broker = Mosquitto(env)
    # life_check ticks faster than the polls, so every poll changes a point and is published.
    sim = Sim(env, facp=(1, 2, 3), elc=(), extra=["--tick-ms", "50"])
    watch = Watch(broker.port)
    devices = [{"id": "facp%d" % u, "bus": "tcp0", "unit": u, "profile": "facp-generic",
                "interval_ms": INTERVAL_MS, "offline_after": OFFLINE_AFTER,
                "backoff_max_ms": BACKOFF_MAX_MS, "life_check_s": 0,
                # Only the alarm group is polled in the window: the others are slow, and the
                # zones are re-read only when data_change moves, which it does not here.
                "intervals": {"alarm": INTERVAL_MS, "detail": 60000, "analog": 60000}}
               for u in (1, 2, 3)]
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                                buses=[("tcp0", sim.port, TIMEOUT_MS)], devices=devices,
                                state_dir=env.tmp))
    for d in LIVE + (DEAD,):
        watch.wait_json(topic(d), lambda j: j["online"] and j["quality"] == "good", 10, d + " online")
    # A steady state first: every device has been polled a few times.
    for d in LIVE:
        watch.wait_json(topic(d), lambda j: j["health"]["polls"] >= 4, 5, d + " polled 4 times")

    t0 = time.monotonic()
    sim.command("silent 3")
    bound = OFFLINE_AFTER * (INTERVAL_MS + TIMEOUT_MS) / 1000.0 + 1.5
    watch.wait_json(topic(DEAD), lambda j: not j["online"] and j["quality"] == "comm_lost", bound,
                    "%s offline within %.1f s" % (DEAD, bound))
    print("%s silent -> offline: %.0f ms" % (DEAD, (time.monotonic() - t0) * 1000))

    # Let the window run, then make sure a state from after its end has arrived for each.
    wait_until(lambda: time.monotonic() >= t0 + WINDOW_S, WINDOW_S + 1, "the measuring window",
               interval=0.05)
    t1 = time.monotonic()
    def seen_after(d, t):
        with watch.lock:
            return any(m[1] == topic(d) and m[0] > t for m in watch.msgs)
    for d in LIVE + (DEAD,):
        wait_until(lambda: seen_after(d, t1), 3, "a state of %s after the window" % d)

    expected = WINDOW_S * 1000.0 / INTERVAL_MS
    for d in LIVE:
        h0, h1 = health_at(watch, d, t0), health_at(watch, d, t1)
        polls = h1["polls"] - h0["polls"]
        print("%s: %d polls in %.1f s (interval implies %.0f): %.0f %%, overruns %d"
              % (d, polls, WINDOW_S, expected, 100.0 * polls / expected,
                 h1["overruns"] - h0["overruns"]))
        expect(polls >= 0.8 * expected,
               "%s made %d polls in %.1f s while %s was dead, fewer than 80 %% of the %.0f its "
               "interval implies" % (d, polls, WINDOW_S, DEAD, expected))
        errs = {k: h1["errors"][k] for k in h1["errors"] if h1["errors"][k]}
        expect(not errs, "%s counted errors while another device was dead: %r" % (d, errs))
        st = watch.json(topic(d))
        expect(st["online"] and st["quality"] == "good", "%s not online/good: %r"
               % (d, {k: st[k] for k in ("online", "quality")}))

    h0, h1 = health_at(watch, DEAD, t0), health_at(watch, DEAD, t1)
    # The heartbeat (1 s) may leave the dead device's last state up to a second old.
    reqs = h1["requests"] - h0["requests"]
    unbacked = (WINDOW_S - 1.0) * 1000.0 / INTERVAL_MS
    print("%s: %d requests in %.1f s (without backoff about %.0f), timeouts %d"
          % (DEAD, reqs, WINDOW_S, unbacked, h1["errors"]["timeout"] - h0["errors"]["timeout"]))
    expect(h1["errors"]["timeout"] > h0["errors"]["timeout"], "no timeout counted for " + DEAD)
    expect(reqs >= 2, "%s was not retried at all (%d requests)" % (DEAD, reqs))
    expect(reqs <= 0.5 * unbacked, "%s is not backed off: %d requests in %.1f s, its interval "
           "implies %.0f" % (DEAD, reqs, WINDOW_S, unbacked))
    st = watch.json(topic(DEAD))
    expect(not st["online"] and all(p["q"] == "comm_lost" for p in st["points"].values()
                                    if p["v"] is not None),
           "%s: online=%r, or a point not comm_lost" % (DEAD, st["online"]))

    # It comes back: online again within the capped backoff.
    sim.command("unsilent 3")
    bound = BACKOFF_MAX_MS / 1000.0 + 2.0
    watch.wait_json(topic(DEAD), lambda j: j["online"] and j["quality"] == "good", bound,
                    "%s back online within %.1f s" % (DEAD, bound))
    watch.close()


if __name__ == "__main__":
    run(main)
