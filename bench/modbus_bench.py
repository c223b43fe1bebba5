#!/usr/bin/env python3
"""Modbus polling benchmarks against the project's simulator, on loopback.

  scale N [SECONDS]   N fire panels (facp-generic, 8 zones) polled every second, 100 per
                      simulator port (one bus each): the gateway's CPU share and peak RSS over
                      SECONDS (default 30) after a warm-up, and the overruns its devices report.
  latency N [FLIPS]   N fire panels on TCP at the profile's alarm interval (100 ms); flips a
                      zone's fire bit FLIPS times (default 200) at recorded times and measures
                      when the change arrives on an MQTT subscriber: p50, p99, max, and the
                      gateway's CPU share meanwhile.

Run from the build folder's parent: /usr/bin/python3 bench/modbus_bench.py scale 1000
Uses the harness of tests/integration (real mosquitto, real simulator, real gateway)."""

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Env, Gateway, Mosquitto, Sim, Watch, gateway_config, wait_until  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# Requests kept in flight on each TCP connection (the buses' `pipeline`): 1 reads one
# request at a time, as libmodbus does; HW_PIPELINE=16 pipelines.
PIPELINE = int(os.environ.get("HW_PIPELINE", "1"))


def start(env, n, per_sim=100, intervals=None, heartbeat=60):
    broker = Mosquitto(env)
    sims, buses, devices = [], [], []
    for s in range(0, n, per_sim):
        units = list(range(1, min(per_sim, n - s) + 1))
        sim = Sim(env, facp=units, elc=(), extra=["--zones", "8"])
        sims.append(sim)
        bus = "tcp%d" % len(buses)
        buses.append((bus, sim.port, 1000, PIPELINE))
        for u in units:
            d = {"id": "facp%d" % (s + u), "bus": bus, "unit": u, "profile": "facp-generic"}
            if intervals:
                d["intervals"] = intervals
            devices.append(d)
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config("bench", mqtt_port=broker.port, buses=buses, devices=devices,
                                     heartbeat=heartbeat, state_dir=env.tmp), log_level="warn")
    root = "hallwatch/v1/bench/device/"
    wait_until(lambda: sum(1 for i in range(1, n + 1)
                           if (watch.json(root + "facp%d/state" % i) or {}).get("online")) == n,
               120, "all %d devices online" % n, interval=0.5)
    return broker, sims, watch, gw


def scale(n, seconds=30):
    with Env("bench-scale") as env:
        # Alarm words every second; the zones re-read when the change counter moves; the
        # analog values every 10 s; the default heartbeat (60 s): device states republished
        # once a minute, which the window below stays clear of.
        broker, sims, watch, gw = start(env, n, intervals={"alarm": 1000}, heartbeat=60)
        t_start = time.monotonic()
        time.sleep(3)  # warm-up before measuring (a benchmark, not a test)
        c0, t0 = cpu_seconds(gw.proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(gw.proc.pid), time.monotonic()
        rss = peak_rss_kb(gw.proc.pid)
        # The counters come with the next heartbeat's states.
        root = "hallwatch/v1/bench/device/"
        before = {i: watch.count(root + "facp%d/state" % i) for i in range(1, n + 1)}
        wait_until(lambda: all(watch.count(root + "facp%d/state" % i) > before[i]
                               for i in range(1, n + 1)),
                   max(10, 75 - (time.monotonic() - t_start)), "the heartbeat states", interval=0.5)
        overruns = polls = requests = skipped = 0
        for i in range(1, n + 1):
            h = (watch.json(root + "facp%d/state" % i) or {}).get("health", {})
            overruns += h.get("overruns", 0)
            polls += h.get("polls", 0)
            requests += h.get("requests", 0)
            skipped += h.get("skipped", 0)
        share = 100.0 * (c1 - c0) / (t1 - t0)
        print("scale: %d devices, %.0f s: gateway CPU %.2f %% of one core, peak RSS %.1f MB, "
              "overruns %d, group polls %d, requests %d, skipped (change counter) %d"
              % (n, t1 - t0, share, rss / 1024.0, overruns, polls, requests, skipped))
        watch.close()


def latency(n, flips=200):
    with Env("bench-latency") as env:
        broker, sims, watch, gw = start(env, n)
        root = "hallwatch/v1/bench/device/"
        lat = []
        c0, t0 = cpu_seconds(gw.proc.pid), time.monotonic()
        rnd = random.Random(1)
        state = {}
        for k in range(flips):
            dev = rnd.randint(1, n)
            zone = rnd.randint(0, 7)
            sim = sims[(dev - 1) // 100]
            unit = (dev - 1) % 100 + 1
            val = 0 if state.get((dev, zone)) else 1
            state[(dev, zone)] = val
            topic = root + "facp%d/state" % dev
            key = "zone[%d].fire" % zone
            want = b'"%s":{"v":%s' % (key.encode(), b"true" if val else b"false")
            t_flip = time.monotonic()
            sim.set(unit, "input", 100 + zone, val)

            def arrived():
                with watch.lock:
                    for m in reversed(watch.msgs):
                        if m[0] < t_flip:
                            return None
                        if m[1] == topic and want in m[2]:
                            return m[0]
                return None
            t_arr = wait_until(arrived, 10, "flip %d" % k, interval=0.002)
            lat.append((t_arr - t_flip) * 1000)
            time.sleep(rnd.uniform(0.05, 0.25))  # flips at random phases of the poll cycle
        c1, t1 = cpu_seconds(gw.proc.pid), time.monotonic()
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        print("latency: %d devices, %d flips: p50 %.1f ms, p99 %.1f ms, max %.1f ms; gateway CPU "
              "%.2f %% of one core, peak RSS %.1f MB"
              % (n, flips, p(0.5), p(0.99), lat[-1], 100.0 * (c1 - c0) / (t1 - t0),
                 peak_rss_kb(gw.proc.pid) / 1024.0))
        watch.close()


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "scale"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    extra = int(sys.argv[3]) if len(sys.argv) > 3 else None
    if what == "scale":
        scale(n, extra or 30)
    else:
        latency(n, extra or 200)
