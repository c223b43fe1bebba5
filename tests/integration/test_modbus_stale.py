"""A saturated shared line starves the slow poll groups: their points go stale, and recover.

Three fire panels (units 1, 2, 3) share one TCP bus with one request in flight (pipeline = 1,
as on a serial line). Each polls its alarm group every ALARM_MS and its analog group every
ANALOG_MS (a per-device `intervals` override). Without load the line is nearly idle and every
point is good. Then the simulator delays every answer by DELAY_MS: the three alarm groups
alone need 3 x DELAY_MS per round, more than ALARM_MS, so an alarm group is always due again
by the time the line is free, and the fast groups go first: the analog groups are never
served. Their points must turn `stale` once they have not been read for two intervals plus the
bus timeout (not sooner, by the gateway's own timestamps), while the alarm points stay `good`
(and keep following the device) and every device stays online (not comm_lost); the health's
overruns grow. A value changed in the simulator meanwhile must not show (the group is not
read). With the delay back to 0 the analog points must return to `good` by themselves, with
the new value. Every device state published from start to end must be online and good."""

import json
import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-stale"
ROOT = "hallwatch/v1/%s/" % SITE
UNITS = (1, 2, 3)
DEVICES = tuple("facp%d" % u for u in UNITS)
ALARM_MS = 100
ANALOG_MS = 1000
TIMEOUT_MS = 500
DELAY_MS = 80  # 3 x 80 ms per round of alarm polls > ALARM_MS; well under TIMEOUT_MS
# With several requests in flight the three delayed answers would overlap: no saturation.
PIPELINE = 1
STALE_AFTER_S = (2 * ANALOG_MS + TIMEOUT_MS) / 1000.0
# Points of facp-generic's groups (etc/profiles/facp-generic.cfg).
ALARM = ("system_state", "fire", "fault", "disabled", "supervisory", "bus_fault", "test_mode",
         "life_check", "data_change")
ANALOG = ("panel_time", "mains_voltage", "battery_voltage")
MAINS_REG = 6
MAINS_BEFORE, MAINS_AFTER = 2300, 2412  # x 0.1 V


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def q_of(state, names):
    return {n: state["points"][n]["q"] for n in names}


def all_q(state, names, q):
    return all(n in state["points"] and state["points"][n]["q"] == q for n in names)


def summary(state):
    """What a failure message should show of a state."""
    if state is None:
        return "no state"
    return json.dumps({"online": state["online"], "quality": state["quality"],
                       "alarm": q_of(state, ALARM), "analog": {n: state["points"][n]
                                                               for n in ANALOG},
                       "health": state["health"]}, sort_keys=True)


def states(watch, dev, t0=0.0, t1=float("inf")):
    """(receive time, state) of every state of dev received in [t0, t1]."""
    with watch.lock:
        return [(m[0], json.loads(m[2].decode())) for m in watch.msgs
                if m[1] == topic(dev) and t0 <= m[0] <= t1 and m[2]]


def wait_all(watch, pred, timeout, what):
    """Waits until the latest state of every device satisfies pred; returns them."""
    def check():
        out = {}
        for d in DEVICES:
            j = watch.json(topic(d))
            if j is None or not pred(d, j):
                return None
            out[d] = j
        return out
    try:
        return wait_until(check, timeout, what)
    except TestFailure as e:
        raise TestFailure("%s; latest states:\n%s" % (e, "\n".join(
            "  %s: %s" % (d, summary(watch.json(topic(d)))) for d in DEVICES)))


def mains(unit):
    return (MAINS_AFTER if unit == 1 else MAINS_BEFORE) / 10.0


def main(env):
    broker = Mosquitto(env)
    # life_check ticks every 100 ms: a moving life_check shows the alarm group is really read.
    sim = Sim(env, facp=UNITS, elc=(), extra=["--zones", "4", "--tick-ms", "100"])
    for u in UNITS:
        sim.set(u, "input", MAINS_REG, MAINS_BEFORE)
    watch = Watch(broker.port)
    devices = [{"id": "facp%d" % u, "bus": "tcp0", "unit": u, "profile": "facp-generic",
                "offline_after": 3, "backoff_max_ms": 1000, "life_check_s": 0,
                "intervals": {"alarm": ALARM_MS, "detail": 1000, "analog": ANALOG_MS}}
               for u in UNITS]
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                                buses=[("tcp0", sim.port, TIMEOUT_MS, PIPELINE)], devices=devices,
                                state_dir=env.tmp))

    # Unloaded: online, every alarm and analog point good, the analog values read.
    base = wait_all(watch, lambda d, j: j["online"] and j["quality"] == "good"
                    and all_q(j, ALARM + ANALOG, "good")
                    and abs(j["points"]["mains_voltage"]["v"] - MAINS_BEFORE / 10.0) < 1e-9
                    and j["health"]["polls"] >= 10,
                    10, "every panel online with its alarm and analog points good")
    # Several analog intervals on an idle line first: nothing may go stale there.
    wait_all(watch, lambda d, j: j["health"]["polls"] >= base[d]["health"]["polls"] + 20, 5,
             "20 more polls of every panel, unloaded")

    # Load: every answer of every panel 80 ms late.
    t_load = time.monotonic()
    for u in UNITS:
        sim.command("delay %d %d" % (u, DELAY_MS))
    before = {d: watch.json(topic(d))["health"] for d in DEVICES}
    for d in DEVICES:
        bad = [j for _, j in states(watch, d, 0, t_load)
               if any(p["q"] != "good" for n, p in j["points"].items() if n in ALARM + ANALOG)]
        expect(not bad, "%s: a point not good on an idle line: %s" % (d, summary(bad[0]) if bad
                                                                          else ""))

    # (1) The analog groups go stale, the alarm groups stay good, the panels online.
    stale = wait_all(watch, lambda d, j: all_q(j, ANALOG, "stale"),
                     STALE_AFTER_S + 3, "every panel's analog points stale under load")
    t_stale = time.monotonic()
    firsts, ages = [], []
    for d in DEVICES:
        t, first = next((t, j) for t, j in states(watch, d, t_load) if all_q(j, ANALOG, "stale"))
        firsts.append(t - t_load)
        # Not before two intervals plus the timeout: by the gateway's own clock, from the read
        # that produced the value (t) to the poll that declared it stale (last_poll).
        age = min(first["last_poll"] - first["points"][n]["t"] for n in ANALOG)
        expect(age >= STALE_AFTER_S * 1000 - 50, "%s: analog points stale %d ms after their "
               "read, sooner than two intervals plus the timeout (%d ms): %s"
               % (d, age, STALE_AFTER_S * 1000, summary(first)))
        ages.append(age)
        expect(all_q(stale[d], ALARM, "good"), "%s: alarm points not good while the analog "
               "group is stale: %s" % (d, summary(stale[d])))
    print("load -> analog stale after %s s, %s ms after their last read (threshold %d ms)"
          % (", ".join("%.2f" % f for f in firsts), ", ".join(map(str, ages)),
             STALE_AFTER_S * 1000))

    # The simulator's mains voltage of unit 1 changes; the starved group must not see it.
    sim.set(1, "input", MAINS_REG, MAINS_AFTER)
    at_stale = {d: watch.json(topic(d)) for d in DEVICES}
    wait_all(watch, lambda d, j: j["health"]["polls"] >= at_stale[d]["health"]["polls"] + 6
             and j["points"]["life_check"]["v"] != at_stale[d]["points"]["life_check"]["v"]
             and len(states(watch, d, t_stale)) >= 3,
             10, "6 more alarm polls of every panel under load, life_check moving, 3 states")
    t_hold = time.monotonic()
    for d in DEVICES:
        window = states(watch, d, t_stale, t_hold)
        expect(len(window) >= 2, "%s: %d states while saturated" % (d, len(window)))
        for _, j in window:
            expect(j["online"] and j["quality"] == "good",
                   "%s went offline or not good under load: %s" % (d, summary(j)))
            expect(all_q(j, ALARM, "good"), "%s: alarm points not good under load: %s"
                   % (d, summary(j)))
            expect(all_q(j, ANALOG, "stale"), "%s: analog points not stale under load: %s"
                   % (d, summary(j)))
            expect(abs(j["points"]["mains_voltage"]["v"] - MAINS_BEFORE / 10.0) < 1e-9,
                   "%s: mains_voltage read while its group was starved: %s" % (d, summary(j)))
        h = window[-1][1]["health"]
        h0 = before[d]
        print("%s under load: polls %d -> %d, overruns %d -> %d, rtt_ms_avg %.1f, detail "
              "zone_count q=%s" % (d, h0["polls"], h["polls"], h0["overruns"], h["overruns"],
                                   h["rtt_ms_avg"], window[-1][1]["points"]["zone_count"]["q"]))
        # (3) The saturation shows in the health.
        expect(h["overruns"] > 0 and h["overruns"] > h0["overruns"],
               "%s: no overrun counted while the line was saturated: %r -> %r"
               % (d, h0, h))
        errs = {k: v for k, v in h["errors"].items() if v}
        expect(not errs, "%s: errors counted under load: %r" % (d, errs))

    # (2) Load removed: the analog points come back good by themselves, with current values.
    t_free = time.monotonic()
    for u in UNITS:
        sim.command("delay %d 0" % u)
    back = wait_all(watch, lambda d, j: all_q(j, ANALOG + ALARM, "good")
                    and abs(j["points"]["mains_voltage"]["v"] - mains(int(d[4:]))) < 1e-9,
                    5, "every panel's analog points good again, unit 1 with the new mains")
    print("delay 0 -> analog good after %.2f s; overruns now %s" % (
        time.monotonic() - t_free, ", ".join("%s %d" % (d, back[d]["health"]["overruns"])
                                             for d in DEVICES)))
    for d in DEVICES:
        for _, j in states(watch, d):
            expect(j["online"] and j["quality"] == "good",
                   "%s was not online/good at some point: %s" % (d, summary(j)))
        expect(back[d]["online"] and back[d]["quality"] == "good", summary(back[d]))
    watch.close()


if __name__ == "__main__":
    run(main)
