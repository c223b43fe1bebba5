"""A pipelined TCP bus (`pipeline = 8`): several devices' reads in flight on one connection.

Six fire panels behind one simulator port, each with its own mains voltage, so an answer
taken for the wrong request shows as a wrong value on some device. Checked in turn:
- every device reports its own values;
- one unit answering later than the timeout (its answers then arrive with transaction ids
  given up on): it goes offline, the others keep their own values and count no error, and a
  zone alarm on another panel still arrives; the late unit comes back by itself;
- an exception for part of a block (split while batched): that zone is config_error, the
  zone next to it is read;
- the connection cut by the server, and garbage answers (noticed as errors, never taken for
  values): every device recovers by itself with its own values."""

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-pipe"
ROOT = "hallwatch/v1/%s/" % SITE
UNITS = (1, 2, 3, 4, 5, 6)
TIMEOUT_MS = 500


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(u):
    return ROOT + "device/facp%d/state" % u


def mains(u):
    return 2200 + 10 * u  # tenths of a volt


def point(j, name):
    return j["points"].get(name) or {}


def own_values(j, u):
    return (j["online"] and point(j, "mains_voltage").get("q") == "good"
            and abs(point(j, "mains_voltage")["v"] - mains(u) / 10.0) < 1e-6)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=UNITS, elc=())
    for u in UNITS:
        sim.set(u, "input", 6, mains(u))
    watch = Watch(broker.port)
    devices = [{"id": "facp%d" % u, "bus": "tcp0", "unit": u, "profile": "facp-generic",
                "offline_after": 2, "backoff_max_ms": 1000, "life_check_s": 0,
                "intervals": {"alarm": 250, "detail": 500, "analog": 500}}
               for u in UNITS]
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                                buses=[("tcp0", sim.port, TIMEOUT_MS, 8)], devices=devices,
                                state_dir=env.tmp))

    for u in UNITS:
        watch.wait_json(topic(u), lambda j, u=u: own_values(j, u), 10,
                        "facp%d online with its own mains voltage" % u)

    # Unit 3 answers after the timeout: its answers come back with transaction ids that
    # were given up on. Meanwhile the others change values and raise an alarm.
    sim.command("delay 3 %d" % (2 * TIMEOUT_MS))
    watch.wait_json(topic(3), lambda j: not j["online"], 5, "facp3 offline while late")
    before = {u: watch.json(topic(u))["health"]["errors"] for u in UNITS if u != 3}
    sim.set(4, "input", 6, mains(4) + 5)
    sim.set(5, "input", 100 + 2, 1)  # zone 2 of panel 5: fire
    watch.wait_json(topic(5), lambda j: point(j, "zone[2].fire").get("v") is True, 3,
                    "facp5 zone 2 fire while unit 3 is late")
    watch.wait_json(topic(4), lambda j: abs(point(j, "mains_voltage").get("v", 0)
                                            - (mains(4) + 5) / 10.0) < 1e-6, 3,
                    "facp4's new mains voltage while unit 3 is late")
    sim.set(4, "input", 6, mains(4))
    for u in UNITS:
        if u == 3:
            continue
        watch.wait_json(topic(u), lambda j, u=u: own_values(j, u), 5,
                        "facp%d keeps its own values while unit 3 is late" % u)
        errs = watch.json(topic(u))["health"]["errors"]
        expect(errs == before[u], "facp%d counted errors because of unit 3: %r -> %r"
               % (u, before[u], errs))
    expect(all(point(watch.json(topic(u)), "zone[2].fire").get("v") is False
               for u in UNITS if u not in (3, 5)),
           "a zone 2 alarm showed on a panel other than facp5")
    late = watch.json(topic(3))["health"]["errors"]["timeout"]
    expect(late > 0, "no timeout counted for facp3")
    sim.command("delay 3 0")
    watch.wait_json(topic(3), lambda j: own_values(j, 3), 5, "facp3 back with its own values")

    # An exception for one zone of a block read in the batch: the block is split.
    sim.command("refuse 2 input 104 104")
    sim.set(2, "input", 100 + 3, 1)  # moves data_change: the zones are read again
    watch.wait_json(topic(2), lambda j: point(j, "zone[4].state").get("q") == "config_error"
                    and point(j, "zone[3].fire").get("v") is True
                    and point(j, "zone[5].state").get("q") == "good", 5,
                    "facp2 zone 4 config_error, zones 3 and 5 read")
    expect(watch.json(topic(2))["online"], "facp2 went offline over a refused zone")

    # The server cuts the connection: a new one, and every device carries on.
    sim.command("drop")
    sim.set(6, "input", 100 + 1, 1)
    watch.wait_json(topic(6), lambda j: point(j, "zone[1].fire").get("v") is True, 5,
                    "facp6 zone 1 fire after the connection was cut")

    # Garbage in the stream: the connection is rebuilt as often as needed, the requests that
    # lost their answers with it go out once more, and garbage is never taken for values.
    def errors_seen():
        return sum(sum(watch.json(topic(u))["health"]["errors"].values()) for u in UNITS)
    errors_before = errors_seen()
    sim.command("garbage 0.2")
    sim.set(1, "input", 100 + 5, 1)
    watch.wait_json(topic(1), lambda j: point(j, "zone[5].fire").get("v") is True, 10,
                    "facp1 zone 5 fire through garbage")
    wait_until(lambda: errors_seen() > errors_before, 10, "the garbage noticed as errors")
    sim.command("garbage 0")
    for u in UNITS:
        watch.wait_json(topic(u), lambda j, u=u: own_values(j, u)
                        and j["quality"] == "good", 10,
                        "facp%d online and good with its own values after garbage" % u)
    print("late unit: %d timeouts; garbage: %d device errors counted"
          % (late, errors_seen() - errors_before))


if __name__ == "__main__":
    run(main)
