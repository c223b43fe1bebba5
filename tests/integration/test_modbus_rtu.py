"""Modbus RTU on a socat pseudo-terminal pair, at 9600 and 115200 baud.

The simulator serves a fire panel (unit 1) and an emergency lighting controller (unit 2) on
one end of the pair, pacing its answers to the line's real transmission time (--pace); the
gateway polls both on the other end. Values must decode correctly, a change must arrive, the
two devices' polls must be serialized on the line without a single error, and at 9600 baud
the round trips must show the line's real timing."""

import json
import os
import subprocess
import time

from harness import (SIM, Gateway, Mosquitto, Proc, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-rtu"
ROOT = "hallwatch/v1/%s/" % SITE
DEVICES = ("facp1", "elc1")
TIMEOUT_MS = 500


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


class RtuSim(Sim):
    """hw-sim on a serial line: READY rtu=PATH instead of a port."""

    def __init__(self, env, path, baud, facp=(1,), elc=(2,), extra=()):
        self.env = env
        self.path = path
        self.args = [SIM, "--rtu", path, "--baud", str(baud),
                     "--parity", "N", "--data-bits", "8", "--stop-bits", "1", "--pace",
                     "--facp", ",".join(map(str, facp)), "--elc", ",".join(map(str, elc))]
        self.args += list(extra)
        self.start()

    def start(self):
        self.proc = self.env.add(Proc("hw-sim-rtu-%s" % os.path.basename(self.path), self.args,
                                      self.env.tmp, stdin=subprocess.PIPE))

        def ready():
            if not self.proc.alive():
                raise TestFailure("simulator exited: " + self.proc.stderr_text())
            return "READY rtu=%s" % self.path in self.proc.stdout_text()
        wait_until(ready, 10, "the simulator's READY rtu line")
        self._lines_seen = len(self.proc.stdout_text().splitlines())


def pty_pair(env, name):
    """A socat pseudo-terminal pair; returns the two link paths once both exist."""
    a = os.path.join(env.tmp, name + "-sim")
    b = os.path.join(env.tmp, name + "-gw")
    p = env.add(Proc("socat-" + name, ["socat", "-d", "-d", "pty,raw,echo=0,link=" + a,
                                       "pty,raw,echo=0,link=" + b], env.tmp))

    def both():
        if not p.alive():
            raise TestFailure("socat exited: " + p.stderr_text())
        return os.path.exists(a) and os.path.exists(b)
    wait_until(both, 10, "socat's two pty links")
    return p, a, b


def rtu_config(mqtt_port, path, baud, interval_ms, state_dir):
    bus = ('{ id = "rtu0"; type = "rtu"; device = "%s"; baud = %d; parity = "none"; '
           'data_bits = 8; stop_bits = 1; timeout_ms = %d; }' % (path, baud, TIMEOUT_MS))
    groups = {"alarm": interval_ms, "detail": interval_ms, "analog": interval_ms}
    cfg = gateway_config(
        SITE, mqtt_port=mqtt_port, heartbeat=1, buses=(),
        devices=[{"id": "facp1", "bus": "rtu0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": interval_ms, "offline_after": 3, "backoff_max_ms": 2000,
                  "life_check_s": 0, "intervals": groups},
                 {"id": "elc1", "bus": "rtu0", "unit": 2, "profile": "elc-generic",
                  "interval_ms": interval_ms, "offline_after": 3, "backoff_max_ms": 2000,
                  "life_check_s": 0, "intervals": groups}],
        state_dir=state_dir)
    expect("buses = (  );" in cfg, "gateway_config's bus list changed shape")
    return cfg.replace("buses = (  );", "buses = ( %s );" % bus)


def check(state, key, want):
    p = state["points"].get(key)
    expect(p is not None, "%s missing from %s" % (key, state["device"]))
    expect(p["q"] == "good", "%s.%s quality %r" % (state["device"], key, p["q"]))
    v = p["v"]
    ok = abs(v - want) < 1e-9 if isinstance(want, float) else v == want
    expect(ok, "%s.%s = %r, the simulator holds %r" % (state["device"], key, v, want))


def phase(env, broker, watch, baud, interval_ms):
    t_phase = time.monotonic()
    socat, sim_end, gw_end = pty_pair(env, "b%d" % baud)
    sim = RtuSim(env, sim_end, baud, extra=["--tick-ms", "200", "--zones", "6",
                                            "--luminaires", "12"])
    sim.set(1, "input", 6, 2213)    # mains 221.3 V
    sim.set(1, "input", 7, 2655)    # battery 26.55 V
    sim.set(1, "input", 103, 0x02)  # zone 3: fault
    sim.set(1, "discrete", 0, 1)    # a manual call point
    sim.set(2, "input", 8, -200)    # battery temperature -20.0 C
    sim.set(2, "input", 12, 2)      # last function test failed
    sim.set(2, "input", 105, 0x08)  # luminaire 5: lamp fault
    # Retained states of the previous phase must not count: wait for this gateway's own.
    n0 = len(watch.msgs)
    gw = Gateway(env, rtu_config(broker.port, gw_end, baud, interval_ms, env.tmp),
                 name="hallwatch-%d" % baud)

    def fresh(d, pred):
        def ok():
            with watch.lock:
                msgs = [m for m in watch.msgs[n0:] if m[1] == topic(d)]
            if not msgs:
                return None
            j = json.loads(msgs[-1][2].decode())
            return j if pred(j) else None
        return ok

    states = {}
    for d in DEVICES:
        states[d] = wait_until(fresh(d, lambda j: j["online"] and j["quality"] == "good"), 15,
                               "%s online over RTU at %d baud" % (d, baud))
    print("%d baud: both devices online after %.1f s" % (baud, time.monotonic() - t_phase))
    facp, elc = states["facp1"], states["elc1"]
    check(facp, "mains_voltage", 221.3)
    check(facp, "battery_voltage", 26.55)
    check(facp, "zone_count", 6)
    check(facp, "zone[3].fault", True)
    check(facp, "zone[3].fire", False)
    check(facp, "manual_call_point", True)
    expect("zone[5].state" in facp["points"] and "zone[6].state" not in facp["points"],
           "zone block does not follow zone_count = 6")
    check(elc, "battery_temperature", -20.0)
    check(elc, "ft_last_result", 2)
    check(elc, "luminaire_count", 12)
    check(elc, "luminaire[5].state", 0x08)
    check(elc, "rated_minutes", 90)

    # A change arrives.
    t0 = time.monotonic()
    sim.set(1, "input", 101, 0x01)  # zone 1: fire
    sim.set(2, "input", 5, 64)      # battery charge 64 %
    wait_until(fresh("facp1", lambda j: j["points"]["zone[1].fire"]["v"] is True), 5,
               "zone[1].fire over RTU at %d baud" % baud)
    wait_until(fresh("elc1", lambda j: j["points"]["battery_charge"]["v"] == 64), 5,
               "battery_charge over RTU at %d baud" % baud)
    print("%d baud: change -> MQTT in %.0f ms" % (baud, (time.monotonic() - t0) * 1000))

    # Serialized: both devices polled many times over the shared line, not one error.
    h0 = {d: wait_until(fresh(d, lambda j: True), 2, d)["health"] for d in DEVICES}
    wait_until(lambda: all(fresh(d, lambda j, d=d: j["health"]["polls"] >= h0[d]["polls"] + 10)()
                           for d in DEVICES), 15, "10 more polls of each device at %d baud" % baud)
    for d in DEVICES:
        h = wait_until(fresh(d, lambda j: True), 2, d)["health"]
        print("%d baud: %s polls %d requests %d rtt_ms %.1f avg %.1f errors %r overruns %d"
              % (baud, d, h["polls"], h["requests"], h["rtt_ms"], h["rtt_ms_avg"], h["errors"],
                 h["overruns"]))
        expect(not any(h["errors"].values()), "%s counted errors on the RTU line at %d baud: %r"
               % (d, baud, h["errors"]))
        if baud == 9600:
            # The shortest exchange (a 2-bit read: 8 + 6 bytes, 3.5 characters between) takes
            # 18 ms on a 9600 baud line; the simulator paces its answers to that.
            expect(h["rtt_ms_avg"] >= 15, "%s: %.1f ms average round trip at 9600 baud is "
                   "faster than the line" % (d, h["rtt_ms_avg"]))
    gw.stop()
    sim.stop()
    socat.stop()
    # The simulator saw only whole, well-formed requests, one at a time: nothing spoke
    # over a pending answer, no frame was cut or corrupted.
    complaints = [l for l in sim.proc.stderr_text().splitlines()
                  if "dropped" in l or "CRC" in l or "unframeable" in l]
    expect(not complaints, "the simulator saw a disorderly line at %d baud: %r"
           % (baud, complaints[:5]))
    return time.monotonic() - t_phase


def main(env):
    broker = Mosquitto(env)
    watch = Watch(broker.port)
    # At 9600 baud a full cycle of both devices is about a dozen exchanges of 15 to 60 ms.
    took = phase(env, broker, watch, 9600, interval_ms=1000)
    print("9600 baud phase: %.1f s" % took)
    took = phase(env, broker, watch, 115200, interval_ms=200)
    print("115200 baud phase: %.1f s" % took)
    watch.close()


if __name__ == "__main__":
    run(main)
