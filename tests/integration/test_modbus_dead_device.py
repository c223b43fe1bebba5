"""A shared line where one device dies: the others keep their schedule, measured.

Three fire panels (units 1, 2, 3) on one TCP bus, polled every INTERVAL_MS with a response
timeout shorter than the interval (only the profile's alarm group is polled during the
measurement; health.polls counts group polls, read from the 1 s heartbeat states). Unit 3
goes silent. Over a window that starts at that
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


def states_between(watch, dev, t0, t1):
    """(time, state) of every state of dev received in [t0, t1]."""
    with watch.lock:
        return [(m[0], json.loads(m[2].decode())) for m in watch.msgs
                if m[1] == topic(dev) and t0 <= m[0] <= t1 and m[2]]


def rate(watch, dev, t0, t1, field):
    """How fast health[field] grew, per second, between the first and the last state of dev
    in [t0, t1]. Counters are not changes worth a message of their own: the 1 s heartbeat
    carries them, so the span is measured between messages, not between t0 and t1."""
    sts = states_between(watch, dev, t0, t1)
    if len(sts) < 2 or sts[-1][0] - sts[0][0] < (t1 - t0) - 3.0:
        raise TestFailure("%s: too few states in the window to measure: %d" % (dev, len(sts)))
    (ta, a), (tb, b) = sts[0], sts[-1]
    return (b["health"][field] - a["health"][field]) / (tb - ta), tb - ta, a["health"], b["health"]


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

    for d in LIVE:
        r, span, h0, h1 = rate(watch, d, t0, t1, "polls")
        share = r * INTERVAL_MS / 1000.0
        print("%s: %.2f polls/s over %.1f s (interval implies %.2f): %.0f %%, overruns %d"
              % (d, r, span, 1000.0 / INTERVAL_MS, 100 * share, h1["overruns"] - h0["overruns"]))
        expect(share >= 0.8, "%s polled %.2f times a second while %s was dead, less than 80 %% "
               "of the %.2f its interval implies" % (d, r, DEAD, 1000.0 / INTERVAL_MS))
        errs = {k: v for k, v in h1["errors"].items() if v}
        expect(not errs, "%s counted errors while another device was dead: %r" % (d, errs))
        st = watch.json(topic(d))
        expect(st["online"] and st["quality"] == "good", "%s not online/good: %r"
               % (d, {k: st[k] for k in ("online", "quality")}))

    r, span, h0, h1 = rate(watch, DEAD, t0, t1, "requests")
    share = r * INTERVAL_MS / 1000.0
    print("%s: %.2f requests/s over %.1f s (without backoff %.2f): %.0f %%, timeouts %d"
          % (DEAD, r, span, 1000.0 / INTERVAL_MS, 100 * share,
             h1["errors"]["timeout"] - h0["errors"]["timeout"]))
    expect(h1["errors"]["timeout"] > h0["errors"]["timeout"], "no timeout counted for " + DEAD)
    expect(h1["requests"] - h0["requests"] >= 2, "%s was not retried at all" % DEAD)
    expect(share <= 0.5, "%s is not backed off: %.2f requests/s, its interval implies %.2f"
           % (DEAD, r, 1000.0 / INTERVAL_MS))
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
