"""A simulator answering garbage at a set rate.

After a clean warm-up the simulator replaces a fraction RATE of its answers by 1 to 64
random bytes. The gateway's worker must keep polling (never crash nor stall), count the
garbage as invalid (or timeout, for a frame cut short) errors at about RATE of its
requests, never publish a wrong value as good, and keep both devices online.

Staying online is a matter of probability: a device goes offline after OFFLINE_AFTER
failed polls in a row. A group poll sends at most R_MAX requests (asserted below from the
measured average), so it fails with probability p <= 1 - (1 - RATE)^R_MAX, and over at most
N_POLLS polls the chance of any run of OFFLINE_AFTER failures is below N_POLLS * p^OFFLINE_AFTER.
OFFLINE_AFTER is computed so that this stays under 1e-6 per run."""

import math
import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-garbage"
ROOT = "hallwatch/v1/%s/" % SITE
DEVICES = ("facp1", "elc1")
INTERVAL_MS = 200
TIMEOUT_MS = 150
RATE = 0.2
GARBAGE_S = 12.0
R_MAX = 6        # requests in one group poll, an upper bound (checked against the average)
N_POLLS = 2000   # group polls of both devices in the whole test, an upper bound (checked)
P_POLL = 1 - (1 - RATE) ** R_MAX
OFFLINE_AFTER = min(100, int(math.ceil(math.log(1e-6 / N_POLLS) / math.log(P_POLL))))

# Values the gateway must report, and only these, while garbage flies.
FACP = {"mains_voltage": 221.3, "battery_voltage": 26.55, "zone_count": 8, "system_state": 0x02}
ELC = {"battery_charge": 87, "battery_temperature": -20.0, "rated_minutes": 60,
       "luminaire_count": 16, "mains_voltage": 221.0}
ZONES = [0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x08, 0x10]


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def same(a, b):
    if isinstance(b, float):
        return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a - b) < 1e-9
    return a == b


def wrong_values(state, want):
    """The good points of state whose value is not in want's allowed set."""
    bad = []
    for k, allowed in want.items():
        p = state["points"].get(k)
        if p is None or p["q"] != "good":
            continue
        if not any(same(p["v"], a) for a in allowed):
            bad.append("%s=%r (want %r)" % (k, p["v"], allowed))
    return bad


def main(env):
    print("rate %.2f, p(group poll fails) <= %.3f, offline_after %d: p(offline) < %.1e"
          % (RATE, P_POLL, OFFLINE_AFTER, N_POLLS * P_POLL ** OFFLINE_AFTER))
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--tick-ms", "100"])
    sim.set(1, "input", 0, FACP["system_state"])
    sim.set(1, "input", 6, 2213)
    sim.set(1, "input", 7, 2655)
    for z, w in enumerate(ZONES):
        sim.set(1, "input", 100 + z, w)
    sim.set(2, "input", 5, 87)
    sim.set(2, "input", 8, -200)
    sim.set(2, "input", 18, 60)
    watch = Watch(broker.port)
    groups = {"alarm": INTERVAL_MS, "detail": INTERVAL_MS, "analog": INTERVAL_MS}
    Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, heartbeat=1, buses=[("tcp0", sim.port, TIMEOUT_MS)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": INTERVAL_MS, "offline_after": OFFLINE_AFTER,
                  "backoff_max_ms": 1000, "life_check_s": 0, "intervals": groups},
                 {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                  "interval_ms": INTERVAL_MS, "offline_after": OFFLINE_AFTER,
                  "backoff_max_ms": 1000, "life_check_s": 0, "intervals": groups}],
        state_dir=env.tmp))

    want = {"facp1": {k: [v] for k, v in FACP.items()}, "elc1": {k: [v] for k, v in ELC.items()}}
    for z, w in enumerate(ZONES):
        want["facp1"]["zone[%d].state" % z] = [w]
    for d in DEVICES:
        st = watch.wait_json(topic(d), lambda j: j["online"] and j["quality"] == "good"
                             and all(j["points"].get(k, {}).get("q") == "good" for k in want[d]),
                             10, d + " online with every checked point good")
        expect(not wrong_values(st, want[d]), "%s before garbage: %r" % (d, wrong_values(st, want[d])))

    # Clean warm-up: the poll rate and requests per poll without garbage.
    h0 = {d: watch.json(topic(d))["health"] for d in DEVICES}
    t0 = time.monotonic()
    wait_until(lambda: all(watch.json(topic(d))["health"]["polls"] >= h0[d]["polls"] + 15
                           for d in DEVICES), 10, "15 clean polls of each device")
    h1 = {d: watch.json(topic(d))["health"] for d in DEVICES}
    clean_s = time.monotonic() - t0
    clean_rate = {}
    for d in DEVICES:
        polls = h1[d]["polls"] - h0[d]["polls"]
        reqs = h1[d]["requests"] - h0[d]["requests"]
        clean_rate[d] = polls / clean_s
        print("%s clean: %.1f polls/s, %.2f requests per poll" % (d, clean_rate[d], reqs / polls))
        expect(reqs / polls <= R_MAX / 2.0, "%s sends %.2f requests per group poll: R_MAX = %d "
               "is no longer a safe bound, recompute OFFLINE_AFTER" % (d, reqs / polls, R_MAX))
        expect(not any(h1[d]["errors"].values()), "%s: errors without garbage: %r" % (d, h1[d]["errors"]))

    # Garbage.
    n_msgs = len(watch.msgs)
    sim.command("garbage %g" % RATE)
    tg = time.monotonic()
    wait_until(lambda: time.monotonic() >= tg + GARBAGE_S / 2, GARBAGE_S, "half the garbage phase",
               interval=0.05)
    # A change made in the middle of it still arrives, right.
    sim.set(1, "input", 102, 0x01)  # zone 2: fire
    want["facp1"]["zone[2].state"] = [0x00, 0x01]
    sim.set(2, "input", 5, 55)
    want["elc1"]["battery_charge"] = [87, 55]
    watch.wait_json(topic("facp1"), lambda j: j["points"]["zone[2].fire"]["v"] is True,
                    GARBAGE_S / 2, "zone[2].fire through the garbage")
    watch.wait_json(topic("elc1"), lambda j: j["points"]["battery_charge"]["v"] == 55,
                    GARBAGE_S / 2, "battery_charge through the garbage")
    wait_until(lambda: time.monotonic() >= tg + GARBAGE_S, GARBAGE_S, "the garbage phase",
               interval=0.05)
    sim.command("garbage 0")
    garbage_s = time.monotonic() - tg
    h2 = {d: watch.json(topic(d))["health"] for d in DEVICES}

    import json
    with watch.lock:
        msgs = [(t, tp, json.loads(p.decode())) for t, tp, p, _ in watch.msgs[n_msgs:] if p]
    total_polls = 0
    for d in DEVICES:
        states = [j for _, tp, j in msgs if tp == topic(d)]
        expect(states, "no state of %s during the garbage" % d)
        for j in states:
            expect(j["online"], "%s went offline during the garbage (seq %d): %r"
                   % (d, j["seq"], j["health"]))
            bad = wrong_values(j, want[d])
            expect(not bad, "%s published wrong values as good during the garbage: %r" % (d, bad))
        polls = h2[d]["polls"] - h1[d]["polls"]
        reqs = h2[d]["requests"] - h1[d]["requests"]
        errs = {k: h2[d]["errors"][k] - h1[d]["errors"][k] for k in h2[d]["errors"]}
        total_polls += h2[d]["polls"]
        bad_frames = errs["invalid"] + errs["timeout"]
        print("%s garbage: %.1f polls/s (clean %.1f), %d requests, errors %r, %.3f per request, "
              "%d states" % (d, polls / garbage_s, clean_rate[d], reqs, errs, bad_frames / reqs,
                             len(states)))
        expect(polls / garbage_s >= 0.3 * clean_rate[d], "%s stalled: %.1f polls/s under garbage, "
               "%.1f clean" % (d, polls / garbage_s, clean_rate[d]))
        expect(errs["invalid"] > 0, "%s: no invalid frame counted: %r" % (d, errs))
        expect(errs["exception"] == 0 and errs["io"] <= errs["invalid"] + errs["timeout"],
               "%s: unexpected error kinds: %r" % (d, errs))
        # Each garbage answer is one failed request: about RATE of them (5 sigma band).
        sd = math.sqrt(RATE * (1 - RATE) / reqs)
        expect(RATE - 5 * sd - 0.02 <= bad_frames / reqs <= RATE + 5 * sd + 0.02,
               "%s: %.3f of requests failed, garbage rate %.2f" % (d, bad_frames / reqs, RATE))
    expect(total_polls <= N_POLLS, "%d group polls: N_POLLS = %d is too low" % (total_polls, N_POLLS))

    # Clean again: errors stop growing, polling goes on.
    h3 = {d: watch.json(topic(d))["health"] for d in DEVICES}
    wait_until(lambda: all(watch.json(topic(d))["health"]["polls"] >= h3[d]["polls"] + 10
                           for d in DEVICES), 10, "10 more polls after the garbage")
    # The first poll after `garbage 0` may still have met one garbage answer.
    for d in DEVICES:
        h4 = watch.json(topic(d))["health"]
        grown = sum(h4["errors"].values()) - sum(h3[d]["errors"].values())
        expect(grown <= 1, "%s: %d more errors after the garbage stopped" % (d, grown))
        expect(h4["consecutive_failures"] == 0, "%s still failing: %r" % (d, h4))
    watch.close()


if __name__ == "__main__":
    run(main)
