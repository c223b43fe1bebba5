"""End to end: simulator -> hallwatch -> mosquitto and influxd, all real, on loopback.

Checks decoded values of both reference devices, a register change within two poll
intervals, points in InfluxDB, offline/comm_lost and recovery, a refused SIGHUP reload,
and the Last Will on SIGKILL."""

import signal
import time

from harness import (Gateway, Influxd, Mosquitto, Sim, TestFailure, Watch, gateway_config,
                     run, wait_until)

INTERVAL_MS = 500
OFFLINE_AFTER = 3
TIMEOUT_MS = 200
SITE = "hall-e2e"
ROOT = "hallwatch/v1/%s/" % SITE


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def point(state, key):
    p = state["points"].get(key)
    if p is None:
        raise TestFailure("point %s missing from the device state" % key)
    return p


def main(env):
    broker = Mosquitto(env)
    influx = Influxd(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8", "--luminaires", "16", "--tick-ms", "200"])
    # Distinctive values the gateway cannot have made up.
    sim.set(1, "input", 6, 2213)   # mains 221.3 V
    sim.set(1, "input", 7, 2655)   # battery 26.55 V
    sim.set(2, "input", 8, 0xFF38)  # battery temperature -20.0 C
    sim.set(2, "input", 12, 2)     # last function test failed
    watch = Watch(broker.port)

    def cfg(extra_device=""):
        return gateway_config(
            SITE, mqtt_port=broker.port, influx_url=influx.url,
            buses=[("tcp0", sim.port, TIMEOUT_MS)],
            devices=[
                {"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                 "interval_ms": INTERVAL_MS, "offline_after": OFFLINE_AFTER, "backoff_max_ms": 1000,
                 "life_check_s": 2, "intervals": {"analog": INTERVAL_MS}},
                {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                 "interval_ms": INTERVAL_MS, "offline_after": OFFLINE_AFTER, "backoff_max_ms": 1000,
                 "intervals": {"analog": INTERVAL_MS}},
            ], state_dir=env.tmp) + extra_device

    gw = Gateway(env, cfg())
    status = watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")
    expect("version" in status and "started" in status, "status lacks version/started: %r" % status)

    facp = watch.wait_json(ROOT + "device/facp1/state",
                           lambda j: j["online"] and j["quality"] == "good", 10, "facp1 online")
    elc = watch.wait_json(ROOT + "device/elc1/state",
                          lambda j: j["online"] and j["quality"] == "good", 10, "elc1 online")

    # Decoded values match what the simulator holds.
    expect(abs(point(facp, "mains_voltage")["v"] - 221.3) < 1e-9, "mains_voltage %r" % point(facp, "mains_voltage"))
    expect(abs(point(facp, "battery_voltage")["v"] - 26.55) < 1e-9, "battery_voltage")
    expect(point(facp, "zone_count")["v"] == 8, "zone_count")
    for z in range(8):
        expect(point(facp, "zone[%d].fire" % z)["v"] is False, "zone %d fire" % z)
    expect("zone[8].fire" not in facp["points"], "zone beyond zone_count published")
    t_panel = point(facp, "panel_time")["v"]
    expect(abs(t_panel - time.time()) < 30, "panel_time %r far from now" % t_panel)
    expect(point(elc, "luminaire_count")["v"] == 16, "luminaire_count")
    expect("luminaire[15].lamp_fault" in elc["points"] or any(k.startswith("luminaire[15].") for k in elc["points"]),
           "luminaire 15 missing")
    expect(abs(point(elc, "battery_temperature")["v"] - (-20.0)) < 1e-9, "battery_temperature %r" % point(elc, "battery_temperature"))
    ft = point(elc, "ft_last_result")
    expect(ft["v"] == 2 and ft.get("label") == "failed", "ft_last_result %r" % ft)
    expect(point(elc, "rated_minutes")["v"] == 90, "rated_minutes")
    expect(isinstance(facp["seq"], int) and facp["seq"] > 0, "seq")

    # A register change arrives within two poll intervals.
    t0 = time.monotonic()
    sim.set(1, "input", 103, 1)  # zone 3: fire
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["points"]["zone[3].fire"]["v"] is True,
                    5, "zone[3].fire on MQTT")
    with watch.lock:
        arrival = next(m[0] for m in watch.msgs if m[0] >= t0 and m[1] == ROOT + "device/facp1/state"
                       and b'"zone[3].fire":{"v":true' in m[2])
    latency = arrival - t0
    print("register change -> MQTT: %.0f ms (poll interval %d ms)" % (latency * 1000, INTERVAL_MS))
    expect(latency <= 2 * INTERVAL_MS / 1000.0, "change took %.3f s, more than two poll intervals" % latency)

    # A life_check that stops moving marks the interface frozen; moving again clears it.
    t0 = time.monotonic()
    sim.command("freeze 1")
    fz = watch.wait_json(ROOT + "device/facp1/state", lambda j: j["quality"] == "frozen", 6, "facp1 frozen")
    took = time.monotonic() - t0
    expect(fz["frozen"] is True and fz["online"] is True, "frozen state %r" % {k: fz[k] for k in ("online", "frozen")})
    expect(took >= 1.2, "frozen after %.2f s, before life_check_s (2 s) could have elapsed" % took)
    expect(watch.json(ROOT + "device/elc1/state")["quality"] == "good", "elc1 affected by facp1's freeze")
    sim.command("unfreeze 1")
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["quality"] == "good" and not j["frozen"],
                    5, "facp1 no longer frozen")

    # Points arrive in InfluxDB.
    def in_influx():
        rows = influx.rows("SELECT last(flag) FROM device_point WHERE device='facp1' AND point='zone[3].fire'")
        return rows and rows[0]["last"] is True
    wait_until(in_influx, 10, "zone[3].fire in InfluxDB")
    rows = influx.rows("SELECT last(value) FROM device_point WHERE device='facp1' AND point='mains_voltage'")
    expect(rows and abs(rows[0]["last"] - 221.3) < 1e-9, "mains_voltage in InfluxDB: %r" % rows)
    rows = influx.rows("SELECT last(label) FROM device_point WHERE device='elc1' AND point='ft_last_result'")
    expect(rows and rows[0]["last"] == "failed", "ft_last_result label in InfluxDB: %r" % rows)

    # The simulator stops: offline and comm_lost within the configured time, values kept.
    seq_before = watch.json(ROOT + "device/facp1/state")["seq"]
    t0 = time.monotonic()
    sim.stop()
    bound = (OFFLINE_AFTER + 1) * INTERVAL_MS / 1000.0 + OFFLINE_AFTER * TIMEOUT_MS / 1000.0 + 1.0
    off = watch.wait_json(ROOT + "device/facp1/state", lambda j: not j["online"], bound,
                          "facp1 offline within %.1f s" % bound)
    print("simulator stopped -> offline: %.0f ms" % ((time.monotonic() - t0) * 1000))
    expect(off["quality"] == "comm_lost", "quality %r" % off["quality"])
    expect(off["seq"] > seq_before, "seq did not increase")
    expect(all(p["q"] == "comm_lost" for p in off["points"].values()), "a point is not comm_lost")
    mv = point(off, "mains_voltage")
    expect(abs(mv["v"] - 221.3) < 1e-9, "last value not kept: %r" % mv)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["quality"] == "comm_lost", bound, "elc1 comm_lost")

    # In InfluxDB, comm_lost is written as a quality without a value.
    def lost_in_influx():
        rows = influx.rows("SELECT last(quality) FROM device_point WHERE device='facp1' AND point='mains_voltage'")
        return rows and rows[0]["last"] == "comm_lost"
    wait_until(lost_in_influx, 10, "comm_lost quality in InfluxDB")

    # ... and back.
    sim.start()
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"] and j["quality"] == "good"
                    and j["points"]["mains_voltage"]["q"] == "good", 10, "facp1 back online")

    # A SIGHUP with a broken config is refused; the gateway keeps running on the old one.
    gw.rewrite(cfg('\nthis_is_not_a_setting = 1;\n'))
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: "reload refused" in gw.proc.stderr_text(), 10, "the refused reload in the log")
    expect(":7: " in gw.proc.stderr_text() or "hallwatch.cfg:" in gw.proc.stderr_text(),
           "the reload error does not name FILE:LINE")
    expect(gw.proc.alive(), "gateway died on a broken reload")
    seq = watch.json(ROOT + "device/facp1/state")["seq"]
    sim.set(1, "input", 6, 2225)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["seq"] > seq and
                    abs(j["points"]["mains_voltage"]["v"] - 222.5) < 1e-9, 5, "publishing after the refused reload")

    # A valid SIGHUP is taken.
    gw.rewrite(cfg())
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in gw.proc.stderr_text(), 10, "the reload in the log")
    expect(gw.proc.alive(), "gateway died on a valid reload")

    # SIGKILL: the broker publishes the Last Will.
    gw.proc.send(signal.SIGKILL)
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "offline", 10, "status offline (Last Will)")
    gw.stop()
    watch.close()


if __name__ == "__main__":
    run(main)
