"""The county at scale: N emulated halls (tests/tools/hall_emulator.py, one MQTT connection
per hall, 2 devices and 1 camera each, the default 60 s heartbeat) on one mosquitto, and the
county (`hallwatch county`) watching them. Measures, per run:

- the county's CPU (% of one core, from /proc utime+stime over a steady window) and RSS;
- the fire alarm latency from the emulator's publish (t_pub_us in the event) to the line the
  county prints in its feed (out_us), p50 / p99 / max over FIRES alarms at random halls;
- the time to rebuild the picture after a county restart (connect to every hall's status
  seen, as the county reports it, and from the process start);
- the same steady CPU and latency with two county instances sharing the events.

    HW_SRC=$PWD HW_BUILD=$PWD/build /usr/bin/python3 bench/county_bench.py HALLS [WINDOW_S] [FIRES]

Prints a markdown row per measurement and a JSON summary (docs/benchmarks.md).
"""

import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from county_util import County, Emulator, county_config, mosquitto_conf, start_mosquitto  # noqa: E402
from harness import Env, free_port, wait_until  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def steady(procs, window):
    c0 = [cpu_s(p.pid) for p in procs]
    t0 = time.monotonic()
    time.sleep(window)
    dt = time.monotonic() - t0
    return [100.0 * (cpu_s(p.pid) - c) / dt for p, c in zip(procs, c0)]


def fires(emu, counties, halls, n):
    """n fire alarms at distinct random halls, 100 ms apart; latencies in ms."""
    sites = random.sample(range(1, halls + 1), min(n, halls))
    sent = []
    for i in sites:
        a = emu.cmd("fire hall-%04d" % i)
        sent.append((a["site"], a["seq"]))
        time.sleep(0.1)

    def got():
        items = {}
        for c in counties:
            for j in c.feed(lambda j: j["type"] == "fire" and "t_pub_us" in j):
                items[(j["site"], j["seq"])] = ((j["out_us"] - j["t_pub_us"]) / 1000.0,
                                                (j["out_us"] - j["recv_us"]) / 1000.0)
        return items if all(s in items for s in sent) else None
    items = wait_until(got, 60, "every fire alarm in a county feed")
    for s, _ in sent:
        emu.cmd("clear %s" % s)
    inside = [items[s][1] for s in sent]
    print("fire: in the county (receipt to feed) p50 %.2f p99 %.2f max %.2f ms"
          % (pct(inside, 50), pct(inside, 99), max(inside)), file=sys.stderr)
    return [items[s][0] for s in sent]


def main():
    halls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    window = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    n_fires = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    random.seed(halls)
    out = {"halls": halls, "window_s": window}
    with Env("county-bench") as env:
        port = free_port()
        conf = mosquitto_conf(env, "broker", port, "persistence false\nmax_queued_messages 100000\n"
                              "max_inflight_messages 1000\n")
        broker = start_mosquitto(env, "broker", conf, port)
        state = os.path.join(env.tmp, "state")
        cfg = county_config(os.path.join(env.tmp, "a.cfg"), port, state,
                            os.path.join(env.tmp, "a.json"), halls_expected=halls,
                            client_id="county-a", extra="  kpi_s = 60;\n", tick_ms=1000, flush_s=60, picture_ms=5000)
        a = County(env, cfg, os.path.join(env.tmp, "a.json"), name="county-a")
        wait_until(lambda: "connected to" in a.proc.stderr_text(), 10, "county a connected")
        t = time.monotonic()
        emu = Emulator(env, port, halls, extra=["--heartbeat", "60"])
        out["emulator_connect_s"] = round(time.monotonic() - t, 2)
        a.wait_feed(lambda j: j["type"] == "rebuilt", 120, "the first picture")

        cpu = steady([a.proc, broker, emu.proc], window)
        out["one"] = {"county_cpu_pct": round(cpu[0], 2), "broker_cpu_pct": round(cpu[1], 2),
                      "emulator_cpu_pct": round(cpu[2], 2), "county_rss_mb": round(rss_mb(a.proc.pid), 1)}
        lat = fires(emu, [a], halls, n_fires)
        out["one"].update({"fire_p50_ms": round(pct(lat, 50), 2), "fire_p99_ms": round(pct(lat, 99), 2),
                           "fire_max_ms": round(max(lat), 2), "fires": len(lat)})

        # Restart: the picture again from the retained state.
        a.stop()
        os.unlink(a.picture_path) if os.path.exists(a.picture_path) else None
        t = time.monotonic()
        a.start()
        r = a.wait_feed(lambda j: j["type"] == "rebuilt", 120, "the picture after a restart")
        out["restart"] = {"rebuild_ms_after_connect": r["ms"],
                          "rebuild_ms_after_start": round(1000 * (time.monotonic() - t)),
                          "county_rss_mb": round(rss_mb(a.proc.pid), 1)}

        # Two instances sharing the events.
        cfg_b = county_config(os.path.join(env.tmp, "b.cfg"), port, state,
                              os.path.join(env.tmp, "b.json"), halls_expected=halls,
                              client_id="county-b", extra="  kpi_s = 60;\n", tick_ms=1000, flush_s=60, picture_ms=5000)
        b = County(env, cfg_b, os.path.join(env.tmp, "b.json"), name="county-b")
        b.wait_feed(lambda j: j["type"] == "rebuilt", 120, "county b's picture")
        a0 = wait_until(a.picture, 10, "county a's picture")["events"]
        cpu = steady([a.proc, b.proc], window)
        lat = fires(emu, [a, b], halls, n_fires)
        ev = emu.cmd("events * 5")["sent"]

        def split():
            pa, pb = a.picture(), b.picture()
            return pa and pb and (pa["events"] - a0 + pb["events"]) == ev + 2 * len(lat)
        wait_until(split, 60, "the events split between the instances")
        pa, pb = a.picture(), b.picture()
        out["two"] = {"county_a_cpu_pct": round(cpu[0], 2), "county_b_cpu_pct": round(cpu[1], 2),
                      "county_a_rss_mb": round(rss_mb(a.proc.pid), 1),
                      "county_b_rss_mb": round(rss_mb(b.proc.pid), 1),
                      "fire_p50_ms": round(pct(lat, 50), 2), "fire_p99_ms": round(pct(lat, 99), 2),
                      "fire_max_ms": round(max(lat), 2),
                      "events_a": pa["events"] - a0, "events_b": pb["events"],
                      "duplicates": pa["duplicates"] + pb["duplicates"]}
        emu.stop()
        env.ok = True
    print(json.dumps(out, indent=1))
    o, r, tw = out["one"], out["restart"], out["two"]
    print("| %d | %.2f | %.1f | %.2f / %.2f | %d ms (%d ms from start) | %.2f + %.2f | %.2f / %.2f | %d / %d |"
          % (halls, o["county_cpu_pct"], o["county_rss_mb"], o["fire_p50_ms"], o["fire_p99_ms"],
             r["rebuild_ms_after_connect"], r["rebuild_ms_after_start"], tw["county_a_cpu_pct"],
             tw["county_b_cpu_pct"], tw["fire_p50_ms"], tw["fire_p99_ms"], tw["events_a"], tw["events_b"]))


if __name__ == "__main__":
    main()
