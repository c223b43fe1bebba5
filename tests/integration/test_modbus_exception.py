"""A slave that answers exception 02 (illegal data address) for part of a block.

The fire panel's zone words 100..107 are one read request (re-read when data_change moves). The simulator refuses any read
that touches input register 104: the gateway must split the block, mark only zone[4].* as
config_error, and keep every other zone good with its right value. Once the simulator
accepts the address again, zone[4] is read and good again."""

import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run

SITE = "hall-exc"
ROOT = "hallwatch/v1/%s/" % SITE
TOPIC = ROOT + "device/facp1/state"
INTERVAL_MS = 200
ZONES = 8
REFUSED = 4
# Distinct zone words: zone z holds ZONE_WORDS[z] (fire b0, fault b1, disabled b2, ...).
ZONE_WORDS = [0x00, 0x01, 0x02, 0x04, 0x10, 0x08, 0x41, 0x20]
ZONE_BITS = {"fire": 0, "fault": 1, "disabled": 2, "supervisory": 3, "started": 4,
             "feedback": 5, "pre_alarm": 6}


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def zone_points(state, z):
    pre = "zone[%d]." % z
    return {k[len(pre):]: v for k, v in state["points"].items() if k.startswith(pre)}


def check_zone_good(state, z):
    pts = zone_points(state, z)
    expect(pts, "zone[%d] missing from the state: %r" % (z, sorted(state["points"])))
    for name, p in pts.items():
        expect(p["q"] == "good", "zone[%d].%s quality %r, want good" % (z, name, p["q"]))
    expect(pts["state"]["v"] == ZONE_WORDS[z],
           "zone[%d].state = %r, the simulator holds %d" % (z, pts["state"]["v"], ZONE_WORDS[z]))
    for name, bit in ZONE_BITS.items():
        want = bool(ZONE_WORDS[z] >> bit & 1)
        expect(pts[name]["v"] is want, "zone[%d].%s = %r, want %r" % (z, name, pts[name]["v"], want))


def refused_split(state):
    """True once zone[4] is config_error and nothing else is."""
    pts = state["points"]
    if any("zone[%d].state" % z not in pts for z in range(ZONES)):
        return False
    if not all(p["q"] == "config_error" for k, p in pts.items() if k.startswith("zone[%d]." % REFUSED)):
        return False
    return all(p["q"] == "good" for k, p in pts.items()
               if not k.startswith("zone[%d]." % REFUSED) and p["q"] != "none")


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", str(ZONES), "--tick-ms", "100"])
    for z, w in enumerate(ZONE_WORDS):
        sim.set(1, "input", 100 + z, w)
    sim.set(1, "input", 6, 2234)  # mains 223.4 V
    watch = Watch(broker.port)
    Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": INTERVAL_MS, "offline_after": 3, "backoff_max_ms": 1000,
                  "intervals": {"alarm": INTERVAL_MS, "detail": INTERVAL_MS,
                                "analog": INTERVAL_MS}}],
        state_dir=env.tmp))

    st = watch.wait_json(TOPIC, lambda j: j["online"] and j["quality"] == "good"
                         and "zone[%d].state" % (ZONES - 1) in j["points"], 10, "facp1 online")
    for z in range(ZONES):
        check_zone_good(st, z)
    exc0 = st["health"]["errors"]["exception"]
    expect(exc0 == 0, "exceptions before any refusal: %r" % st["health"])

    # The simulator refuses register 104: only zone 4 may suffer. The zones are re-read when
    # data_change moves: a change of zone 6 moves it.
    t0 = time.monotonic()
    sim.command("refuse 1 input 104 104")
    ZONE_WORDS[6] = 0x43
    sim.set(1, "input", 106, 0x43)
    try:
        st = watch.wait_json(TOPIC, refused_split, 5,
                             "zone[%d] config_error and every other point good" % REFUSED)
    except TestFailure as e:
        last = watch.json(TOPIC)
        raise TestFailure("%s; last state: online=%r quality=%r zone_count=%r, points not good: "
                          "%r, errors %r" % (
            e, last["online"], last["quality"], last["points"]["zone_count"],
            sorted({k.split(".")[0] + "=" + p["q"] for k, p in last["points"].items() if p["q"] != "good"}),
            last["health"]["errors"]))
    print("refusal -> split published: %.0f ms" % ((time.monotonic() - t0) * 1000))
    expect(st["online"] and st["quality"] == "good",
           "the device is not online/good while one address is refused: online=%r quality=%r"
           % (st["online"], st["quality"]))
    for z in range(ZONES):
        if z != REFUSED:
            check_zone_good(st, z)
    expect(abs(st["points"]["mains_voltage"]["v"] - 223.4) < 1e-9, "mains_voltage %r"
           % st["points"]["mains_voltage"])
    expect(st["health"]["errors"]["exception"] > exc0, "no exception counted: %r" % st["health"])
    for kind in ("timeout", "io", "invalid"):
        expect(st["health"]["errors"][kind] == 0, "%s errors counted: %r" % (kind, st["health"]))

    # It stays split over further polls, and the neighbours keep following the device.
    sim.set(1, "input", 103, 0x01)  # zone 3: fire
    sim.set(1, "input", 105, 0x02)  # zone 5: fault
    ZONE_WORDS[3], ZONE_WORDS[5] = 0x01, 0x02
    st = watch.wait_json(TOPIC, lambda j: j["points"]["zone[3].fire"]["v"] is True
                         and j["points"]["zone[5].fault"]["v"] is True, 5,
                         "zone 3 and zone 5 changes around the refused zone")
    expect(refused_split(st), "the split did not hold: %r" %
           {k: p["q"] for k, p in st["points"].items() if k.startswith("zone[")})
    for z in range(ZONES):
        if z != REFUSED:
            check_zone_good(st, z)

    # Accepted again: zone 4 comes back good with its value.
    sim.command("unrefuse 1")
    ZONE_WORDS[REFUSED] = 0x11
    sim.set(1, "input", 100 + REFUSED, 0x11)
    st = watch.wait_json(TOPIC, lambda j: all(p["q"] == "good" for k, p in j["points"].items()
                                              if k.startswith("zone[")), 10,
                         "every zone good again after unrefuse")
    st = watch.wait_json(TOPIC, lambda j: j["points"]["zone[%d].state" % REFUSED]["v"] == 0x11, 5,
                         "zone[%d] value after unrefuse" % REFUSED)
    for z in range(ZONES):
        check_zone_good(st, z)
    watch.close()


if __name__ == "__main__":
    run(main)
