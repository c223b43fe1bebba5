"""A TCP connection cut mid-poll, several times.

The simulator delays the fire panel's answers so that a request is in flight most of the
time, then cuts every client connection at once (a reset). The gateway must count the cut as
an io error, reconnect by itself and have both devices answering again within a bound,
with the right values."""

import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run

SITE = "hall-drop"
ROOT = "hallwatch/v1/%s/" % SITE
DEVICES = ("facp1", "elc1")
INTERVAL_MS = 200
TIMEOUT_MS = 300
DELAY_MS = 30  # per answer of unit 1: a poll of the panel keeps a request in flight
DROPS = 3
RECOVER_S = 3.0


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--tick-ms", "50"])
    sim.set(1, "input", 6, 2219)  # mains 221.9 V
    watch = Watch(broker.port)
    Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, heartbeat=1, buses=[("tcp0", sim.port, TIMEOUT_MS)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": INTERVAL_MS, "offline_after": 3, "backoff_max_ms": 1000,
                  "life_check_s": 0, "intervals": {"analog": INTERVAL_MS}},
                 {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                  "interval_ms": INTERVAL_MS, "offline_after": 3, "backoff_max_ms": 1000,
                  "life_check_s": 0, "intervals": {"analog": INTERVAL_MS}}],
        state_dir=env.tmp))
    for d in DEVICES:
        watch.wait_json(topic(d), lambda j: j["online"] and j["quality"] == "good", 10, d + " online")
    sim.command("delay 1 %d" % DELAY_MS)
    io0 = sum(watch.json(topic(d))["health"]["errors"]["io"] for d in DEVICES)
    t_start = time.monotonic()

    for i in range(DROPS):
        # Let a few polls go by on the fresh connection first.
        polls = watch.json(topic("facp1"))["health"]["polls"]
        watch.wait_json(topic("facp1"), lambda j: j["health"]["polls"] >= polls + 2, 5,
                        "facp1 polling before cut %d" % (i + 1))
        t_cut_ms = time.time() * 1000
        t0 = time.monotonic()
        closed = int(sim.command("drop"))
        expect(closed >= 1, "cut %d: the simulator had no client connection to cut" % (i + 1))
        for d in DEVICES:
            watch.wait_json(topic(d), lambda j: j["online"] and j["quality"] == "good"
                            and j["last_ok"] > t_cut_ms, RECOVER_S,
                            "%s answering again within %.1f s of cut %d" % (d, RECOVER_S, i + 1))
        # (counters are carried by the 1 s heartbeat: this is an upper bound)
        print("cut %d (%d connection(s)): both devices seen answering again after %.0f ms"
              % (i + 1, closed, (time.monotonic() - t0) * 1000))

    # The cuts are counted as io errors, nothing else went wrong.
    states = {d: watch.json(topic(d)) for d in DEVICES}
    errors = {d: states[d]["health"]["errors"] for d in DEVICES}
    print("errors after %d cuts: %r" % (DROPS, errors))
    io = sum(e["io"] for e in errors.values()) - io0
    expect(io >= DROPS, "%d cuts but only %d io errors counted: %r" % (DROPS, io, errors))
    for d in DEVICES:
        expect(errors[d]["invalid"] == 0, "%s: invalid frames counted after cuts: %r" % (d, errors[d]))
    with watch.lock:
        offline = [m for m in watch.msgs if m[0] >= t_start and b'"online":false' in m[2]]
    print("states published offline during the cuts: %d" % len(offline))

    # Values are right after the reconnects.
    sim.command("delay 1 0")
    sim.set(1, "input", 6, 2251)
    sim.set(2, "input", 5, 77)  # battery charge
    watch.wait_json(topic("facp1"), lambda j: abs(j["points"]["mains_voltage"]["v"] - 225.1) < 1e-9,
                    3, "facp1 mains_voltage after the cuts")
    watch.wait_json(topic("elc1"), lambda j: j["points"]["battery_charge"]["v"] == 77, 3,
                    "elc1 battery_charge after the cuts")
    watch.close()


if __name__ == "__main__":
    run(main)
